r"""Event-driven asynchronous engine (no layer synchronisation), vectorised over the batch.

**Graph.** Neurons live in *populations* (any shape) that share one flat index space; inputs take
the first ``n_in`` indices of the event queue. A *connection* maps the spikes of a source (the input
or any population, itself included) through optional linear pre-ops (Flatten, AvgPool, Identity,
Dropout) and one ``nn.Linear`` / ``nn.Conv1d`` / ``nn.Conv2d`` into a destination population, so
feed-forward, skip and recurrent wiring all work. :meth:`AsyncGraph.from_sequential` compiles a
swiftspike ``SNN``; the modules are shared, so training the graph trains the ``SNN``.

**Frames and forward steps.** Input is binned into frames (one frame = one time step of the sync
engine). A frame runs forward steps until quiescence. Each neuron gets its leak and bias once per
frame, together with its first input event of the frame (or at the settle step if none arrives):

.. math::

    h = I + b + \beta v \quad\text{(first event of the frame)}, \qquad h = v + I \quad\text{(later events)}

A neuron evaluates its threshold only when an event (non-zero current) reaches it, and at most
once per frame it may fire (per-frame refractoriness): :math:`s = H(h - v_\text{th})`, then hard
reset :math:`v = h(1-s) + v_\text{reset}s` or soft :math:`v = h - v_\text{th}s`. Spikes enter a
per-sample queue with a scheduler priority; each step emits at most ``F`` of them per sample, and
the emitted spikes become the currents of the next step. When a sample has an empty queue and no
pending current, neurons not yet reached in this frame are *settled* (leak + bias, threshold); if
none fires the frame is over. Because the sync engine computes exactly :math:`h = \beta v + W s + b`
per step, with ``F`` at least the widest layer the wave moves one layer per step and the engine
reproduces :func:`~swiftspike.engines.sync.run_sync` spike for spike (see docs/async.md for the
rare bias-only corner case).

**Inputs** either inject all their currents at frame start (``input_mode='start'``) or enter the
queue with the network's spikes (``'queued'``), competing for the ``F`` slots.

**Stop rules**: ``'quiescence'`` (run every frame to the end) or ``'first_output'`` (a sample stops
``k`` forward steps after its first output spike).

**Sync gate** (``sync_gate=True``): a population evaluates thresholds only once every population
before it (construction order) has no queued spikes, pending currents or pending evaluations —
layer synchronisation emulated inside the asynchronous engine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import torch
import torch.nn.functional as Fn
from torch import nn

from ..metrics.record import LayerSpikes, RunRecord, SynOps
from ..errors import SwiftSpikeError, check_positive_int, check_time_major, choose, to_time_major
from ..metrics.synops import event_ops, fanout_ops, is_synaptic
from ..neurons.functional import SoftReset
from ..neurons.modules import LI, LIF, SpikingModule
from .schedulers import Scheduler, get_scheduler, select_top

LINEAR_PRE_OPS = (nn.Flatten, nn.Unflatten, nn.AvgPool1d, nn.AvgPool2d, nn.Identity, nn.Dropout)
INPUT = -1


@dataclass
class Population:
    """A group of neurons: ``neuron`` is an LIF/IF (spiking) or LI (analog readout) module."""

    name: str
    neuron: nn.Module
    shape: tuple[int, ...]
    start: int = 0

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def spiking(self) -> bool:
        return bool(getattr(self.neuron, "emits_spikes", True))


@dataclass
class Connection:
    """``dst += syn(pre(spikes of src))`` without bias; the bias goes in once per frame."""

    src: int
    dst: int
    syn: nn.Module
    pre: tuple[nn.Module, ...] = ()


class AsyncGraph(nn.Module):
    """A graph of neuron populations and synaptic connections over one flat index space."""

    def __init__(self, input_shape: Sequence[int]) -> None:
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        if not self.input_shape or min(self.input_shape) <= 0:
            raise SwiftSpikeError(f"input_shape must be non-empty and positive, got {list(input_shape)}")
        self.populations: list[Population] = []
        self.connections: list[Connection] = []
        self._mods = nn.ModuleList()
        self.output: int = -1

    # -- construction --------------------------------------------------------------------------
    @property
    def n_in(self) -> int:
        return math.prod(self.input_shape)

    @property
    def n_neurons(self) -> int:
        return sum(p.size for p in self.populations)

    def add_population(self, name: str, neuron: nn.Module, shape: Sequence[int]) -> int:
        """Add a population of ``neuron`` (LIF/IF/LI module) with per-sample ``shape``; returns its index."""
        if not isinstance(neuron, (LIF, LI)):
            raise SwiftSpikeError(f"population {name!r} needs an LIF, IF or LI neuron, got {type(neuron).__name__}")
        if isinstance(neuron, LIF) and neuron.refractory_steps:
            raise SwiftSpikeError("the async engine has per-frame refractoriness; use refractory_steps=0")
        shape = tuple(int(s) for s in shape)
        self.populations.append(Population(name, neuron, shape, self.n_neurons))
        self._mods.append(neuron)
        self.output = len(self.populations) - 1
        return self.output

    def _shape(self, idx: int) -> tuple[int, ...]:
        return self.input_shape if idx == INPUT else self.populations[idx].shape

    def connect(self, src: int, dst: int, syn: nn.Module, pre: Sequence[nn.Module] = ()) -> None:
        """Connect source ``src`` (``-1`` = input, else a population index) to population ``dst``."""
        if not is_synaptic(syn):
            raise SwiftSpikeError(f"a connection needs nn.Linear or nn.Conv1d/2d, got {type(syn).__name__}")
        for m in pre:
            if not isinstance(m, LINEAR_PRE_OPS):
                raise SwiftSpikeError(
                    f"{type(m).__name__} is not linear in the spikes; the async engine accepts only "
                    "Flatten, AvgPool, Identity and Dropout before a synaptic layer")
        if not (src == INPUT or 0 <= src < len(self.populations)) or not 0 <= dst < len(self.populations):
            raise SwiftSpikeError(f"connection {src}->{dst} refers to a missing population")
        try:
            with torch.no_grad():
                z = torch.zeros(1, *self._shape(src), dtype=syn.weight.dtype, device=syn.weight.device)
                for m in pre:
                    z = m(z)
                out = syn(z)
        except RuntimeError as e:
            raise SwiftSpikeError(f"connection {src}->{dst} does not fit: {str(e).splitlines()[0]}") from None
        if tuple(out.shape[1:]) != self.populations[dst].shape:
            raise SwiftSpikeError(
                f"connection {src}->{dst} gives shape {tuple(out.shape[1:])}, population has {self.populations[dst].shape}")
        self.connections.append(Connection(src, dst, syn, tuple(pre)))
        self._mods.append(syn)
        for m in pre:
            self._mods.append(m)

    @classmethod
    def from_sequential(cls, net: nn.Module, input_shape: Sequence[int]) -> "AsyncGraph":
        """Compile a layered ``nn.Sequential`` (e.g. a swiftspike ``SNN``) into a graph sharing its modules."""
        if not isinstance(net, nn.Sequential):
            raise SwiftSpikeError(f"from_sequential expects an nn.Sequential, got {type(net).__name__}")
        g = cls(input_shape)
        src, pre, syn = INPUT, [], None
        shape = g.input_shape
        for name, m in net.named_children():
            if isinstance(m, SpikingModule):
                if syn is None:
                    raise SwiftSpikeError(f"neuron layer {name} has no synaptic layer before it")
                try:
                    with torch.no_grad():
                        z = torch.zeros(1, *shape, dtype=syn.weight.dtype, device=syn.weight.device)
                        for p in pre:
                            z = p(z)
                        out_shape = tuple(syn(z).shape[1:])
                except RuntimeError as e:
                    raise SwiftSpikeError(
                        f"layer {name} cannot take input of shape {tuple(shape)}: {str(e).splitlines()[0]}") from None
                dst = g.add_population(f"{name}:{type(m).__name__}", m, out_shape)
                g.connect(src, dst, syn, pre)
                src, pre, syn, shape = dst, [], None, out_shape
            elif is_synaptic(m):
                if syn is not None:
                    raise SwiftSpikeError(f"layer {name}: two synaptic layers without a neuron layer between them")
                syn = m
            elif isinstance(m, LINEAR_PRE_OPS) and syn is None:
                pre.append(m)
            else:
                raise SwiftSpikeError(
                    f"layer {name} ({type(m).__name__}) is not supported by the async engine "
                    "(allowed: Linear/Conv, LIF/IF/LI, and Flatten/AvgPool/Identity/Dropout before a synaptic layer)")
        if syn is not None or pre or not g.populations:
            raise SwiftSpikeError("the network must end with a neuron layer")
        return g

    # -- pieces used by the engine ------------------------------------------------------------
    def bias(self, dtype, device) -> torch.Tensor:
        """Per-neuron bias ``[N]``: the sum of the biases of every connection into each neuron."""
        b = torch.zeros(self.n_neurons, dtype=dtype, device=device)
        parts = []
        for c in self.connections:
            if c.syn.bias is None:
                continue
            p = self.populations[c.dst]
            bb = c.syn.bias.to(dtype)
            full = bb.view(-1, *([1] * (len(p.shape) - 1))).expand(p.shape).reshape(-1) if len(p.shape) > 1 else bb
            parts.append((p.start, p.size, full))
        for start, size, full in parts:
            b = b + Fn.pad(full, (start, self.n_neurons - start - size))
        return b

    def neuron_params(self, dtype, device):
        """Per-neuron ``beta, v_threshold, v_reset, soft`` ``[N]`` and the spiking mask."""
        betas, ths, resets, softs, spk = [], [], [], [], []
        for p in self.populations:
            n = p.size
            m = p.neuron
            beta = m.beta.to(device=device, dtype=dtype)
            betas.append(beta.reshape(()).expand(n) if beta.dim() == 0 else beta.reshape(-1).expand(n))
            if isinstance(m, LIF):
                ths.append(m.v_threshold.to(device=device, dtype=dtype).reshape(()).expand(n))
                resets.append(torch.full((n,), m.v_reset, dtype=dtype, device=device))
                softs.append(torch.full((n,), isinstance(m.reset_mechanism, SoftReset), device=device))
                spk.append(torch.ones(n, dtype=torch.bool, device=device))
            else:
                ths.append(torch.full((n,), math.inf, dtype=dtype, device=device))
                resets.append(torch.zeros(n, dtype=dtype, device=device))
                softs.append(torch.zeros(n, dtype=torch.bool, device=device))
                spk.append(torch.zeros(n, dtype=torch.bool, device=device))
        return torch.cat(betas), torch.cat(ths), torch.cat(resets), torch.cat(softs), torch.cat(spk)

    def slice_of(self, idx: int) -> slice:
        if idx == INPUT:
            return slice(0, self.n_in)
        p = self.populations[idx]
        return slice(self.n_in + p.start, self.n_in + p.start + p.size)

    def currents(self, events: torch.Tensor, synops: Optional[list] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Currents ``[B, N]`` caused by emitted ``events`` ``[B, n_in + N]`` (no bias), and the
        ``[B, P]`` mask of populations that received at least one event."""
        B = events.shape[0]
        parts: list[Optional[torch.Tensor]] = [None] * len(self.populations)
        hit = torch.zeros(B, len(self.populations), dtype=torch.bool, device=events.device)
        for ci, c in enumerate(self.connections):
            src = events[:, self.slice_of(c.src)]
            hit[:, c.dst] |= (src.detach() != 0).any(1)
            z = src.reshape(B, *self._shape(c.src))
            for m in c.pre:
                z = m(z)
            if synops is not None:
                with torch.no_grad():
                    acs, macs = event_ops(c.syn, z)
                    synops[ci][0] += acs
                    synops[ci][1] += macs
            syn = c.syn
            if isinstance(syn, nn.Linear):
                y = Fn.linear(z, syn.weight)
            elif isinstance(syn, nn.Conv2d):
                y = Fn.conv2d(z, syn.weight, None, syn.stride, syn.padding, syn.dilation, syn.groups)
            else:
                y = Fn.conv1d(z, syn.weight, None, syn.stride, syn.padding, syn.dilation, syn.groups)
            y = y.reshape(B, -1)
            parts[c.dst] = y if parts[c.dst] is None else parts[c.dst] + y
        full = [parts[i] if parts[i] is not None else events.new_zeros(B, p.size)
                for i, p in enumerate(self.populations)]
        return torch.cat(full, dim=1), hit


@dataclass
class AsyncConfig:
    """Engine settings. ``F``: forward group size (spikes emitted per sample per forward step)."""

    F: int = 8
    scheduler: "str | Scheduler" = "momentum"
    input_mode: str = "start"
    stop: str = "quiescence"
    k: int = 0
    sync_gate: bool = False
    refractory_dropout: float = 0.0
    max_steps_per_frame: int = 10_000
    record_synops: bool = False
    record_step_outputs: bool = False

    def validate(self) -> "AsyncConfig":
        check_positive_int(self.F, "F")
        get_scheduler(self.scheduler)
        choose("input_mode", self.input_mode, ("start", "queued"))
        choose("stop rule", self.stop, ("quiescence", "first_output"))
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 0:
            raise SwiftSpikeError(f"k must be an integer >= 0, got {self.k!r}")
        if not 0.0 <= float(self.refractory_dropout) < 1.0:
            raise SwiftSpikeError(f"refractory_dropout must be in [0, 1), got {self.refractory_dropout!r}")
        check_positive_int(self.max_steps_per_frame, "max_steps_per_frame")
        return self


class AsyncState:
    """Per-sample engine state carried between frames (explicit, so truncated training can detach it)."""

    def __init__(self, B: int, N: int, M: int, dtype, device) -> None:
        self.v = torch.zeros(B, N, dtype=dtype, device=device)
        self.stopped = torch.zeros(B, dtype=torch.bool, device=device)
        self.steps = torch.zeros(B, dtype=torch.float64, device=device)
        self.spikes = torch.zeros(B, dtype=torch.float64, device=device)
        self.first_out_step = torch.full((B,), math.nan, dtype=torch.float64, device=device)
        self.first_out_spikes = torch.full((B,), math.nan, dtype=torch.float64, device=device)
        self.first_correct_spikes = torch.full((B,), math.nan, dtype=torch.float64, device=device)
        self.dec_step = torch.full((B,), math.nan, dtype=torch.float64, device=device)
        self.dec_spikes = torch.full((B,), math.nan, dtype=torch.float64, device=device)
        self.correct_prev = torch.zeros(B, dtype=torch.bool, device=device)
        self.score = None  # running class evidence [B, C]
        self.queue_sum = torch.zeros(B, dtype=torch.float64, device=device)
        self.queue_max = torch.zeros(B, dtype=torch.float64, device=device)
        self.truncated = torch.zeros(B, dtype=torch.float64, device=device)
        self.max_emitted = torch.zeros(B, dtype=torch.float64, device=device)
        self.run_out: Optional[torch.Tensor] = None  # differentiable running output (record_step_outputs)
        self.step_outputs: list[torch.Tensor] = []
        self.step_mask: list[torch.Tensor] = []

    def detach_(self) -> None:
        self.v = self.v.detach()
        if self.run_out is not None:
            self.run_out = self.run_out.detach()
        if self.score is not None:
            self.score = self.score.detach()


class AsyncEngine:
    """Runs an :class:`AsyncGraph` frame by frame; see the module docstring for the semantics."""

    def __init__(self, graph: AsyncGraph, config: Optional[AsyncConfig] = None, *,
                 generator: Optional[torch.Generator] = None) -> None:
        self.g = graph
        self.cfg = (config or AsyncConfig()).validate()
        self.sched = get_scheduler(self.cfg.scheduler)
        self.gen = generator

    # -- helpers -------------------------------------------------------------------------------
    def init_state(self, B: int, dtype=torch.float32, device="cpu") -> AsyncState:
        return AsyncState(B, self.g.n_neurons, self.g.n_in + self.g.n_neurons, dtype, device)

    def _pop_index(self, device) -> torch.Tensor:
        """Population id per queue entry (``0`` = input, ``p + 1`` = population ``p``)."""
        ids = [torch.zeros(self.g.n_in, dtype=torch.long)]
        ids += [torch.full((p.size,), i + 1, dtype=torch.long) for i, p in enumerate(self.g.populations)]
        return torch.cat(ids).to(device)

    def run_frame(self, st: AsyncState, x_t: torch.Tensor, y: Optional[torch.Tensor] = None,
                  synops: Optional[list] = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Advance every sample by one frame on input ``x_t`` (``[B, n_in]``).

        Returns ``(output [B, C], layer_spikes [B, P], steps [B])`` for the frame: output-population spike
        counts (spiking readout, differentiable) or its membrane (LI readout)."""
        g, cfg = self.g, self.cfg
        B, dev, dt = x_t.shape[0], x_t.device, x_t.dtype
        N, n_in = g.n_neurons, g.n_in
        M = n_in + N
        beta, th, v_reset, soft, spk = g.neuron_params(dt, dev)
        bias = g.bias(dt, dev)
        out_pop = g.populations[g.output]
        o_sl = slice(out_pop.start, out_pop.start + out_pop.size)
        P = len(g.populations)
        pop_id = self._pop_index(dev)  # [M]
        pop_of_neuron = pop_id[n_in:] - 1  # [N]
        training = bool(cfg.refractory_dropout > 0 and torch.is_grad_enabled())

        active = ~st.stopped
        act_col = active[:, None]
        v = st.v
        fresh = act_col.expand(B, N).clone()
        fired = torch.zeros(B, N, dtype=torch.bool, device=dev)
        needs = torch.zeros(B, N, dtype=torch.bool, device=dev)
        q = torch.zeros(B, M, dtype=dt, device=dev)  # queued event values (keep the graph)
        qm = torch.zeros(B, M, dtype=torch.bool, device=dev)
        prio = torch.zeros(B, M, dtype=dt, device=dev)
        x_t = x_t * act_col.to(dt)
        if cfg.input_mode == "start":
            ev = Fn.pad(x_t, (0, N))
            pend, hit = g.currents(ev, synops)
        else:
            qm[:, :n_in] = x_t != 0
            q = Fn.pad(x_t, (0, N))
            prio[:, :n_in] = self.sched.input_priority(x_t.detach(), self.gen)
            pend = torch.zeros(B, N, dtype=dt, device=dev)
            hit = torch.zeros(B, P, dtype=torch.bool, device=dev)
        touch = hit[:, pop_of_neuron]
        pop_first = torch.tensor([p.start for p in g.populations], device=dev)
        out_acc = torch.zeros(B, out_pop.size, dtype=dt, device=dev)
        layer_acc = torch.zeros(B, P, dtype=dt, device=dev)
        steps = torch.zeros(B, dtype=torch.float64, device=dev)
        ones_spk = spk[None, :]
        held: Optional[torch.Tensor] = None
        th_soft = th.nan_to_num(0.0, posinf=0.0)  # LI readouts have th = inf and never fire

        for _ in range(cfg.max_steps_per_frame):
            busy = (qm.any(1) | touch.any(1) | needs.any(1)) & active
            do_settle = ~busy & fresh.any(1) & active
            if not bool((busy | do_settle).any()):
                break
            steps += (busy | do_settle).to(torch.float64)
            # integrate: leak + bias with the first event of the frame
            first = touch & fresh
            # settle the lowest-index population that has not been reached in this frame
            fresh_pop = fresh[:, pop_first]  # [B, P] (a population is fresh as a whole)
            lowest = fresh_pop & (fresh_pop.cumsum(1) == 1)
            settle = lowest[:, pop_of_neuron] & do_settle[:, None]
            lb = bias + beta * v
            if held is not None:  # zero-valued gradient carriers that reached not-yet-woken neurons
                lb = lb + held
            h = torch.where(first, pend + lb, v + pend)
            h = torch.where(settle, lb + pend, h)  # pend is zero here; it may carry gradient
            if pend.requires_grad:
                wait = fresh & ~first & ~settle
                carry = pend * wait.to(dt)
                held = carry if held is None else torch.where(wait, held + carry, torch.zeros_like(carry))
                h = torch.where(wait, v, h)
            fresh = fresh & ~first & ~settle
            needs = (needs | touch | settle) & ones_spk & ~fired
            allowed = needs
            if cfg.sync_gate:
                busy_pop = torch.zeros(B, P + 1, dtype=torch.float32, device=dev)
                busy_pop.index_add_(1, pop_id, qm.float())
                busy_pop[:, 1:].index_add_(1, pop_of_neuron, (needs | touch).float())
                blocked = (busy_pop.cumsum(1) - busy_pop) > 0  # an earlier population is busy
                allowed = needs & ~blocked[:, 1:][:, pop_of_neuron]
            s = self._spike(h, th) * allowed.to(dt)
            sd = s.detach() > 0
            needs = needs & ~allowed
            v = torch.where(soft[None, :], h - th_soft * s, h * (1 - s) + v_reset * s)
            if training:
                keep = _rand_like(sd, dt, self.gen) >= cfg.refractory_dropout
                fired = fired | (sd & keep)
            else:
                fired = fired | sd
            # queue the new spikes
            q = q + Fn.pad(s, (n_in, 0))
            qm = qm | Fn.pad(sd, (n_in, 0))
            new_prio = self.sched.priority(h.detach(), self.gen)
            prio = torch.where(Fn.pad(sd, (n_in, 0)), Fn.pad(new_prio, (n_in, 0)), prio)
            # metrics for this step
            n_sp = sd.sum(1).to(torch.float64)
            out_s = s[:, o_sl]
            if out_pop.spiking:
                out_acc = out_acc + out_s
            layer_acc = layer_acc + self._per_pop(s, P, pop_of_neuron)
            if out_pop.spiking:
                st.score = out_s.detach() if st.score is None else st.score + out_s.detach()
            else:
                st.score = v[:, o_sl].detach()
            self._track(st, sd[:, o_sl], n_sp, y, st.score, busy | do_settle)
            if cfg.record_step_outputs:
                if out_pop.spiking:
                    st.run_out = out_s if st.run_out is None else st.run_out + out_s
                else:
                    st.run_out = v[:, o_sl]
                st.step_outputs.append(st.run_out)
                st.step_mask.append(busy | do_settle)
            # emit at most F per sample
            sel = select_top(qm, prio, cfg.F)
            e = q * sel.to(dt)
            q = q * (~sel).to(dt)
            qm = qm & ~sel
            qlen = qm.sum(1).to(torch.float64)
            st.max_emitted = torch.maximum(st.max_emitted, sel.sum(1).to(torch.float64))
            st.queue_sum += qlen
            st.queue_max = torch.maximum(st.queue_max, qlen)
            ghosts = h.requires_grad
            if ghosts:
                # evaluated neurons that did not fire send a zero-valued event that carries their
                # surrogate gradient (as every neuron's s_t does in the sync engine's BPTT)
                e = e + Fn.pad(s * (~sd).to(dt), (n_in, 0))
            if ghosts or bool(sel.any()):
                pend, hit = g.currents(e, synops)
                touch = hit[:, pop_of_neuron] & act_col
            else:
                pend, touch = torch.zeros_like(pend), torch.zeros_like(touch)
            # stop rule
            if cfg.stop == "first_output":
                stop_now = (st.steps - st.first_out_step >= cfg.k) & active
                if bool(stop_now.any()):
                    active = active & ~stop_now
                    act_col = active[:, None]
                    st.stopped = st.stopped | stop_now
                    qm = qm & act_col
                    touch = touch & act_col
                    needs = needs & act_col
                    fresh = fresh & act_col
                    pend = pend * act_col.to(dt)
        else:
            st.truncated += ((qm.any(1) | touch.any(1) | needs.any(1)) & active).to(torch.float64)
        st.v = v
        out = out_acc if out_pop.spiking else v[:, o_sl]
        return out, layer_acc, steps

    def _spike(self, h: torch.Tensor, th: torch.Tensor) -> torch.Tensor:
        """Heaviside with each population's surrogate gradient."""
        parts = []
        for p in self.g.populations:
            sl = slice(p.start, p.start + p.size)
            if p.spiking:
                parts.append(p.neuron.surrogate(h[:, sl] - th[sl]))
            else:
                parts.append(torch.zeros_like(h[:, sl]))
        return torch.cat(parts, 1)

    @staticmethod
    def _per_pop(s: torch.Tensor, P: int, pop_of_neuron: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(s.shape[0], P, dtype=s.dtype, device=s.device)
        return out.index_add(1, pop_of_neuron, s)

    def _track(self, st: AsyncState, out_sd, n_sp, y, score, stepped) -> None:
        """Update first-output / first-correct / decision metrics after one forward step."""
        st.steps += stepped.to(torch.float64)
        spikes_before = st.spikes.clone()
        st.spikes += n_sp
        any_out = out_sd.any(1)
        newly = any_out & torch.isnan(st.first_out_step)
        st.first_out_step = torch.where(newly, st.steps, st.first_out_step)
        st.first_out_spikes = torch.where(newly, spikes_before, st.first_out_spikes)
        if y is None:
            return
        yi = y.view(-1, 1)
        hit = out_sd.gather(1, yi).squeeze(1) & torch.isnan(st.first_correct_spikes)
        st.first_correct_spikes = torch.where(hit, spikes_before, st.first_correct_spikes)
        sc = score.detach()
        tgt = sc.gather(1, yi).squeeze(1)
        others = sc.scatter(1, yi, -math.inf).max(1).values
        ok = tgt > others
        became = ok & ~st.correct_prev & stepped
        st.dec_step = torch.where(became, st.steps, torch.where(ok, st.dec_step, torch.full_like(st.dec_step, math.nan)))
        st.dec_spikes = torch.where(became, st.spikes, torch.where(ok, st.dec_spikes, torch.full_like(st.dec_spikes, math.nan)))
        st.correct_prev = torch.where(stepped, ok, st.correct_prev)

    def run(self, x: torch.Tensor, y: Optional[torch.Tensor] = None, *, truncate: bool = False) -> RunRecord:
        """Run all frames of ``x`` (``[T, B, *input_shape]``); ``y`` enables correct-decision metrics."""
        g = self.g
        check_time_major(x, "input", min_ndim=2)
        T, B = x.shape[:2]
        if tuple(x.shape[2:]) != g.input_shape:
            raise SwiftSpikeError(f"input frames have shape {tuple(x.shape[2:])}, the graph expects {g.input_shape}")
        if B == 0:
            raise SwiftSpikeError("input batch is empty")
        if y is not None and (y.dim() != 1 or y.shape[0] != B):
            raise SwiftSpikeError(f"targets must have shape [{B}], got {tuple(y.shape)}")
        st = self.init_state(B, x.dtype, x.device)
        synops = [[torch.zeros(B, device=x.device), torch.zeros(B, device=x.device)]
                  for _ in g.connections] if self.cfg.record_synops else None
        outs, layers, fsteps = [], [], []
        for t in range(T):
            if truncate:
                st.detach_()
            o, l, s = self.run_frame(st, x[t].reshape(B, -1), y, synops)
            outs.append(o)
            layers.append(l)
            fsteps.append(s)
        out = torch.stack(outs)
        lay = torch.stack(layers)  # [T, B, P]
        rec = RunRecord(output=out, output_spiking=g.populations[g.output].spiking)
        for i, p in enumerate(g.populations):
            if p.spiking:
                rec.layers.append(LayerSpikes(p.name, lay[:, :, i], p.size))
        if synops is not None:
            for ci, c in enumerate(g.connections):
                rec.synops.append(SynOps(f"{c.src}->{c.dst}", synops[ci][0], synops[ci][1],
                                         float(fanout_ops(c.syn, _pre_ones(g, c))[0])))
        total_steps = st.steps.clamp(min=1)
        rec.stats = {
            "spikes": st.spikes, "steps": st.steps,
            "spikes_to_first_output": st.first_out_spikes, "steps_to_first_output": st.first_out_step,
            "spikes_to_first_correct": st.first_correct_spikes,
            "steps_to_decision": st.dec_step, "spikes_to_decision": st.dec_spikes,
            "queue_mean": st.queue_sum / total_steps, "queue_max": st.queue_max,
            "truncated_frames": st.truncated, "max_emitted": st.max_emitted,
        }
        rec.frame_steps = torch.stack(fsteps)
        if self.cfg.record_step_outputs and st.step_outputs:
            rec.step_outputs = torch.stack(st.step_outputs)
            rec.step_mask = torch.stack(st.step_mask)
        return rec


def _rand_like(mask: torch.Tensor, dtype, gen: Optional[torch.Generator]) -> torch.Tensor:
    if gen is None:
        return torch.rand(mask.shape, dtype=dtype, device=mask.device)
    return torch.rand(mask.shape, dtype=dtype, generator=gen, device=gen.device).to(mask.device)


def _pre_ones(g: AsyncGraph, c: Connection) -> torch.Tensor:
    z = torch.ones(1, *g._shape(c.src), dtype=c.syn.weight.dtype, device=c.syn.weight.device)
    with torch.no_grad():
        for m in c.pre:
            z = m(z)
    return z


_GRAPHS: "dict[int, tuple[Any, AsyncGraph]]" = {}


def as_graph(net: "nn.Module", input_shape: Sequence[int]) -> AsyncGraph:
    """``net`` itself when it is an :class:`AsyncGraph`, else its compiled (and cached) graph."""
    if isinstance(net, AsyncGraph):
        return net
    key = (id(net), tuple(input_shape))
    hit = _GRAPHS.get(key)  # type: ignore[arg-type]
    if hit is not None and hit[0]() is net:
        return hit[1]
    import weakref

    g = AsyncGraph.from_sequential(net, input_shape)
    _GRAPHS[key] = (weakref.ref(net), g)  # type: ignore[index]
    return g


def run_async(net: nn.Module, x: torch.Tensor, *, F: int = 8, scheduler: "str | Scheduler" = "momentum",
              y: Optional[torch.Tensor] = None, batch_first: bool = False, generator: Optional[torch.Generator] = None,
              truncate: bool = False, **kw: Any) -> RunRecord:
    """Run ``net`` (an ``SNN``/``nn.Sequential`` or :class:`AsyncGraph`) asynchronously over ``x`` ``[T, B, ...]``.

    Extra keywords go to :class:`AsyncConfig` (``input_mode``, ``stop``, ``k``, ``sync_gate``,
    ``refractory_dropout``, ``max_steps_per_frame``, ``record_synops``)."""
    x = check_time_major(to_time_major(x, batch_first), "input", min_ndim=2)
    if not x.is_floating_point():
        x = x.float()
    g = as_graph(net, x.shape[2:])
    try:
        cfg = AsyncConfig(F=F, scheduler=scheduler, **kw)
    except TypeError as e:
        raise SwiftSpikeError(f"unknown async engine option: {e}") from None
    return AsyncEngine(g, cfg, generator=generator).run(x, y, truncate=truncate)
