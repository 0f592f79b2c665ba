r"""Event-driven asynchronous engine (no layer synchronisation), vectorised over the batch.

The graph (:mod:`~swiftspike.asynch.graph`) holds populations and connections; the state
(:mod:`~swiftspike.asynch.state`) what a sample carries between frames; the currents
(:mod:`~swiftspike.asynch.currents`) turn emitted events into input currents, densely or gathered from the
emitting neurons' weight columns; :mod:`~swiftspike.asynch.tracking` the metrics.

**Frames and forward steps.** Input is binned into frames (one frame = one time step of the sync engine).
A frame runs forward steps until quiescence. Each forward step of :meth:`AsyncEngine.run_frame` is

1. *integrate*: the pending currents enter the membranes; a neuron takes its leak and bias once per frame,
   together with the first event that reaches its population (or when its population is *settled*),
   :math:`h = \beta v + (I + b)`; later events give :math:`h = v + I`;
2. *fire*: neurons an event reached and that are not refractory are evaluated, :math:`s = H(h - v_{th})`,
   and reset -- all through :func:`~swiftspike.neurons.functional.lif_masked_step` with each population's
   ``LIFParameters`` (an LI readout is charge-only); a spike makes its neuron refractory for the rest of
   the frame (unless refractory dropout lets it go);
3. *queue*: the spikes enter a per-sample queue with a scheduler priority;
4. *emit*: at most ``F`` queued events per sample leave the queue and become the next step's currents;
5. *stop bookkeeping*: stop rules end a sample (``first_output``) or its frame (``frame_first_output``);
6. *metrics*: each step leaves a small trace that :func:`~swiftspike.asynch.tracking.close_frame` folds
   into the run's observables at the end of the frame.

When a sample has an empty queue and no pending current, the lowest population not yet reached in this
frame is settled (leak + bias, threshold) so that a neuron driven by its bias alone still fires as in the
sync engine; the frame ends when nothing is left to settle. With ``F`` at least the widest layer the wave
moves one layer per step and the engine reproduces :func:`~swiftspike.engines.sync.run_sync` spike for
spike, with the same loss and gradients under autograd.

**Gradients.** Every op is differentiable; which events a scheduler emits is a detached choice. A neuron
that is evaluated but does not fire sends a zero-valued event that carries its surrogate gradient (as
every neuron's :math:`s_t` enters :math:`W s_t` in the sync engine's BPTT); such a "ghost" current that
reaches a population not yet reached in the frame is held and enters with the leak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as Fn

from ..errors import SwiftSpikeError, check_time_major, to_time_major
from ..metrics.record import LayerSpikes, RunRecord, SynOps
from ..metrics.synops import event_ops, fanout_ops
from ..neurons.functional import li_masked_step, lif_masked_step
from .config import AsyncConfig
from .currents import GatherPlan, connection_input, dense_currents, gather_plan, gathered_currents, weight_table
from .graph import INPUT, LINEAR_PRE_OPS, AsyncGraph, Connection, KernelGroup, Population, as_graph
from .schedulers import Scheduler, get_scheduler
from .state import FRAME_STATS, AsyncState, FrameState, StepTrace
from .tracking import close_frame

__all__ = [
    "INPUT",
    "LINEAR_PRE_OPS",
    "AsyncConfig",
    "AsyncEngine",
    "AsyncGraph",
    "AsyncState",
    "Connection",
    "Population",
    "as_graph",
    "run_async",
]

#: ``currents='auto'`` gathers a connection when its source has at least this many neurons per event
#: slot (``n_src >= GATHER_RATIO * F``); below, one dense product is cheaper.
GATHER_RATIO = 4


@dataclass
class _Context:
    """Per-run tables (built from the parameters once per run, or per frame under truncation)."""

    grad: bool
    valued: bool  # queued events need their values (gradients, queued inputs, repeated spikes)
    groups: list[KernelGroup]
    bias: torch.Tensor | None
    pon: torch.Tensor  # [N] population of each neuron
    spk: torch.Tensor | None  # [N] spiking neurons (None: all are)
    out: slice
    out_spiking: bool
    q_off: int  # flat index of queue entry 0 (n_in when the inputs are not queued)
    entry_src: torch.Tensor  # [Q] 0 = input, p + 1 = population p
    entry_local: torch.Tensor  # [Q] index within its source
    dense: list[int]  # connections run densely in forward steps
    gather: list[int]  # connections gathered in forward steps
    plans: dict[int, GatherPlan]
    tables: dict[int, torch.Tensor]
    cache: dict


class AsyncEngine:
    """Runs an :class:`AsyncGraph` frame by frame; see the module docstring for the semantics."""

    def __init__(
        self, graph: AsyncGraph, config: AsyncConfig | None = None, *, generator: torch.Generator | None = None
    ) -> None:
        self.g = graph
        self.cfg = (config or AsyncConfig()).validate()
        self.sched: Scheduler = get_scheduler(self.cfg.scheduler)
        self.gen = generator

    # -- set-up --------------------------------------------------------------------------------
    def init_state(self, B: int, dtype=torch.float32, device="cpu") -> AsyncState:
        return AsyncState(B, self.g.n_neurons, self.g.n_in + self.g.n_neurons, dtype, device)

    def _needs_grad(self, x: torch.Tensor) -> bool:
        return torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in self.g.parameters()))

    def _dropout_on(self) -> bool:
        cfg = self.cfg
        return cfg.refractory_dropout > 0 and (cfg.refractory_dropout_eval or torch.is_grad_enabled())

    def _context(self, st: AsyncState, x_t: torch.Tensor) -> _Context:
        grad = self._needs_grad(x_t)
        ctx = st.context
        if ctx is not None and ctx.grad == grad:
            return ctx
        g, cfg = self.g, self.cfg
        dt, dev = x_t.dtype, x_t.device
        pops = g.populations
        pon = torch.cat([torch.full((p.size,), i, dtype=torch.long) for i, p in enumerate(pops)]).to(dev)
        spk = None
        if not all(p.spiking for p in pops):
            spk = torch.cat([torch.full((p.size,), p.spiking, dtype=torch.bool) for p in pops]).to(dev)
        out_pop = pops[g.output]
        queued = cfg.input_mode == "queued"
        ids = ([torch.zeros(g.n_in, dtype=torch.long)] if queued else []) + [
            torch.full((p.size,), i + 1, dtype=torch.long) for i, p in enumerate(pops)
        ]
        loc = ([torch.arange(g.n_in)] if queued else []) + [torch.arange(p.size) for p in pops]
        dense, gather, plans, tables = [], [], {}, {}
        for ci, c in enumerate(g.connections):
            if c.src == INPUT and not queued:
                continue  # input currents enter once, at frame start
            plan = self._plan(ci, grad)
            if plan is None:
                dense.append(ci)
            else:
                gather.append(ci)
                plans[ci] = plan
                tables[ci] = weight_table(c.syn, plan).to(dt)
        ctx = _Context(
            grad,
            grad or queued or self._dropout_on(),
            g.kernel_groups(dt, dev),
            g.bias(dt, dev) if g.has_bias() else None,
            pon,
            spk,
            slice(out_pop.start, out_pop.start + out_pop.size),
            out_pop.spiking,
            0 if queued else g.n_in,
            torch.cat(ids).to(dev),
            torch.cat(loc).to(dev),
            dense,
            gather,
            plans,
            tables,
            {},
        )
        st.context = ctx
        return ctx

    def _plan(self, ci: int, grad: bool) -> GatherPlan | None:
        """Gather plan of connection ``ci`` if this run gathers it, else ``None`` (dense)."""
        mode = self.cfg.currents
        c = self.g.connections[ci]
        if mode == "dense" or any(isinstance(m, torch.nn.Dropout) and m.training and m.p > 0 for m in c.pre):
            return None
        if mode == "auto" and (grad or self.g.size_of(c.src) < GATHER_RATIO * self.cfg.F):
            return None
        return gather_plan(self.g, ci)

    def current_paths(self, grad: bool = False) -> dict[str, str]:
        """How each connection's currents are computed in forward steps (``'dense'`` or ``'gather'``) in a run
        with or without gradients; input connections with ``input_mode='start'`` enter at frame start (dense)."""
        res = {}
        for ci, c in enumerate(self.g.connections):
            if c.src == INPUT and self.cfg.input_mode == "start":
                continue
            res[f"{c.src}->{c.dst}"] = "dense" if self._plan(ci, grad) is None else "gather"
        return res

    # -- one frame -----------------------------------------------------------------------------
    def run_frame(
        self, st: AsyncState, x_t: torch.Tensor, y: torch.Tensor | None = None, synops: list | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Advance every sample by one frame on input ``x_t`` (``[B, n_in]``).

        Returns ``(output [B, C], layer_spikes [B, P], steps [B])`` for the frame: output-population spike
        counts (spiking readout, differentiable) or its membrane (LI readout)."""
        ctx = self._context(st, x_t)
        fs = self._begin_frame(st, ctx, x_t, synops)
        tr = StepTrace()
        for _ in range(self.cfg.max_steps_per_frame):
            status = self._status(fs)
            if status is None:
                break
            stepping, settle, leak_any = status
            x, leak, evaluate = self._integrate(fs, ctx, settle, leak_any)
            s, sd, h = self._fire(fs, ctx, x, leak, evaluate)
            self._queue(fs, ctx, s, sd, h)
            self._record(st, fs, ctx, tr, s, sd, stepping)
            self._emit(fs, ctx, tr, s, sd, evaluate, synops)
            self._stop(st, fs, ctx, sd, stepping)
        else:
            st.truncated += fs.busy.to(torch.float64)
        return self._end_frame(st, fs, ctx, tr, y)

    def _begin_frame(self, st: AsyncState, ctx: _Context, x_t: torch.Tensor, synops: list | None) -> FrameState:
        """Working state of a new frame; with ``input_mode='start'`` the input currents of the whole frame."""
        g = self.g
        B, dev, dt = x_t.shape[0], x_t.device, x_t.dtype
        N, P = g.n_neurons, len(g.populations)
        active = None if self.cfg.stop == "quiescence" else ~st.stopped
        if active is not None:
            x_t = x_t * active[:, None].to(dt)
        Q = N + (g.n_in if ctx.q_off == 0 else 0)
        key = torch.full((B, Q), -math.inf, dtype=self.sched.dtype or dt, device=dev)
        q = torch.zeros(B, Q, dtype=dt, device=dev) if ctx.valued else None
        if ctx.q_off == 0:  # queued inputs
            assert q is not None
            q = torch.cat([x_t, q[:, g.n_in :]], 1)
            prio = self.sched.input_priority(x_t.detach(), self.gen).to(key.dtype)
            key[:, : g.n_in] = torch.where(x_t != 0, prio, key[:, : g.n_in])
            pend = torch.zeros(B, N, dtype=dt, device=dev)
            hit = torch.zeros(B, P, dtype=torch.bool, device=dev)
            busy = (x_t != 0).any(1)
        else:
            parts, hits = dense_currents(g, {INPUT: x_t}, synops=synops)
            pend, hit = self._assemble(parts, hits, B, dt, dev)
            busy = hit.any(1)
        fresh = (
            torch.ones(B, P, dtype=torch.bool, device=dev) if active is None else active[:, None].expand(B, P).clone()
        )
        fs = FrameState(
            v=st.v,
            active=active,
            fresh=fresh,
            locked=torch.zeros(B, N, dtype=torch.bool, device=dev),
            key=key,
            q=q,
            pend=pend,
            hit=hit,
            busy=busy,
            s_acc=torch.zeros(B, N, dtype=dt, device=dev),
        )
        if self.cfg.sync_gate:
            fs.needs = torch.zeros(B, N, dtype=torch.bool, device=dev)
        if active is not None:
            fs.steps = torch.zeros(B, dtype=torch.float64, device=dev)
            fs.first_out = torch.full((B,), math.nan, dtype=torch.float64, device=dev)
            fs.steps_total = st.steps.clone()
            fs.first_out_total = st.first_out_step.clone()
            fs.frame_cut = torch.zeros(B, dtype=torch.bool, device=dev)
        return fs

    def _assemble(
        self, parts: list[torch.Tensor | None], hits: list, B: int, dt, dev, cache: dict | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``pend`` ``[B, N]`` and ``hit`` ``[B, P]`` from per-population currents and hit masks (zero blocks
        come from ``cache``; nothing writes into ``pend`` in place)."""
        cache = {} if cache is None else cache

        def zeros(shape, dtype):
            k = ("zeros", shape, dtype)
            if k not in cache:
                cache[k] = torch.zeros(shape, dtype=dtype, device=dev)
            return cache[k]

        pops = self.g.populations
        full = [p if p is not None else zeros((B, pop.size), dt) for p, pop in zip(parts, pops)]
        cols = [h if h is not None else zeros((B,), torch.bool) for h in hits]
        pend = full[0] if len(full) == 1 else torch.cat(full, 1)
        return pend, torch.stack(cols, 1)

    def _status(self, fs: FrameState) -> tuple[torch.Tensor, torch.Tensor | None, bool] | None:
        """Which samples take this forward step, which of them settle a population, and whether any
        population takes its leak -- one host synchronisation; ``None`` when the frame is over."""
        busy = fs.busy
        if not fs.fresh_left:  # every population has been reached: no settling, no leak
            return (busy, None, False) if bool(busy.any()) else None
        settle = fs.fresh.any(1) & ~busy
        any_busy, any_settle, any_fresh, any_leak = torch.stack(
            (busy.any(), settle.any(), fs.fresh.any(), (fs.hit & fs.fresh).any())
        ).tolist()
        fs.fresh_left = any_fresh
        if not (any_busy or any_settle):
            return None
        if any_settle:
            return busy | settle, settle, True
        return busy, None, any_leak

    # 1. integrate
    def _integrate(
        self, fs: FrameState, ctx: _Context, settle: torch.Tensor | None, leak_any: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Inputs of the kernel: currents ``x`` (plus the bias with the leak), the leak mask (``None``: no
        neuron leaks) and the evaluation mask ``[B, N]``."""
        fresh = fs.fresh
        reached = fs.hit
        if settle is not None:  # the lowest population not yet reached in this frame
            reached = reached | (fresh & (fresh.cumsum(1) == 1) & settle[:, None])
        leak = None
        if leak_any:
            leak_pop = reached & fresh
            fs.fresh = fresh & ~leak_pop
            leak = leak_pop[:, ctx.pon]
        x = fs.pend
        if ctx.grad:
            # zero-valued ghost currents that reach a population before its first real event wait (held)
            wait = fs.fresh[:, ctx.pon]
            wait_f = wait.to(x.dtype)
            x = x * (1 - wait_f)
            if fs.held is not None and leak is not None:
                x = x + fs.held * leak.to(x.dtype)
            fs.held = torch.where(
                wait, (fs.held if fs.held is not None else 0) + fs.pend * wait_f, torch.zeros_like(fs.pend)
            )
        if ctx.bias is not None and leak is not None:
            x = torch.where(leak, x + ctx.bias, x)
        if self.cfg.refractory_clamp:
            x = x.masked_fill(fs.locked, 0.0)
        touched = reached[:, ctx.pon]
        if ctx.spk is not None:
            touched = touched & ctx.spk
        if fs.needs is None:
            return x, leak, touched & ~fs.locked
        needs = (fs.needs | touched) & ~fs.locked
        allowed = needs & ~self._gate_blocked(fs, ctx, needs)
        fs.needs = needs & ~allowed
        return x, leak, allowed

    def _gate_blocked(self, fs: FrameState, ctx: _Context, needs: torch.Tensor) -> torch.Tensor:
        """Sync gate: ``[B, N]`` neurons of populations behind a population with queued spikes, pending
        currents or pending evaluations."""
        B, P = fs.hit.shape
        busy_pop = torch.zeros(B, P + 1, dtype=torch.float32, device=needs.device)
        busy_pop.index_add_(1, ctx.entry_src, (fs.key > -math.inf).float())
        busy_pop[:, 1:].index_add_(1, ctx.pon, (needs | fs.hit[:, ctx.pon]).float())
        blocked = (busy_pop.cumsum(1) - busy_pop) > 0
        return blocked[:, 1:][:, ctx.pon]

    # 2. fire
    def _fire(
        self, fs: FrameState, ctx: _Context, x: torch.Tensor, leak: torch.Tensor | None, evaluate: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Charge, fire and reset through the neuron kernel; returns ``(s, fired mask, h)``."""
        v = fs.v
        whole = len(ctx.groups) == 1
        parts_s, parts_v, parts_h = [], [], []
        for grp in ctx.groups:
            sl = slice(grp.start, grp.stop)
            if whole:
                xg, vg, lg, eg = x, v, leak, evaluate
            else:
                xg, vg, eg = x[:, sl], v[:, sl], evaluate[:, sl]
                lg = None if leak is None else leak[:, sl]
            if grp.params is None:  # LI readout: charge only
                vn = li_masked_step(xg, vg, grp.beta, leak=lg)
                sg, hg = torch.zeros_like(vn), vn
            else:
                sg, vn, hg = lif_masked_step(xg, vg, grp.params, leak=lg, evaluate=eg)
            parts_s.append(sg)
            parts_v.append(vn)
            parts_h.append(hg)
        if whole:
            s, v, h = parts_s[0], parts_v[0], parts_h[0]
        else:
            s, v, h = torch.cat(parts_s, 1), torch.cat(parts_v, 1), torch.cat(parts_h, 1)
        sd = (s.detach() if ctx.grad else s) > 0
        if self._dropout_on():  # a spike locks its neuron only with probability 1 - p
            fs.locked = fs.locked | (sd & (_rand_like(sd, x.dtype, self.gen) >= self.cfg.refractory_dropout))
        else:
            fs.locked = fs.locked | sd
        if self.cfg.refractory_clamp:
            v = v.masked_fill(fs.locked, 0.0)
        fs.v = v
        return s, sd, h

    # 3. queue
    def _queue(self, fs: FrameState, ctx: _Context, s: torch.Tensor, sd: torch.Tensor, h: torch.Tensor) -> None:
        """New spikes enter the queue with their priority (a neuron that fires again before its event left
        adds to its value)."""
        prio = self.sched.priority(h.detach(), self.gen).to(fs.key.dtype)
        if ctx.q_off == 0:
            n_in = self.g.n_in
            s, sd, prio = Fn.pad(s, (n_in, 0)), Fn.pad(sd, (n_in, 0)), Fn.pad(prio, (n_in, 0))
        fs.key = torch.where(sd, prio, fs.key)
        if fs.q is not None:
            # only real spikes are queued; the ghosts of evaluated silent neurons travel at once (_emit)
            fs.q = fs.q + (s * sd.to(s.dtype) if ctx.grad else s)

    # 6. metrics (per step; folded at the end of the frame)
    def _record(
        self,
        st: AsyncState,
        fs: FrameState,
        ctx: _Context,
        tr: StepTrace,
        s: torch.Tensor,
        sd: torch.Tensor,
        stepping: torch.Tensor,
    ) -> None:
        tr.stepped.append(stepping)
        tr.spikes.append(sd.sum(1))
        tr.out.append(sd[:, ctx.out] if ctx.out_spiking else fs.v[:, ctx.out].detach())
        fs.s_acc = fs.s_acc + s if ctx.grad else fs.s_acc.add_(s)
        if self.cfg.record_step_outputs:
            if ctx.out_spiking:
                o = s[:, ctx.out]
                st.run_out = o if st.run_out is None else st.run_out + o
            else:
                st.run_out = fs.v[:, ctx.out]
            st.step_outputs.append(st.run_out)
            st.step_mask.append(stepping)

    # 4. emit
    def _emit(
        self,
        fs: FrameState,
        ctx: _Context,
        tr: StepTrace,
        s: torch.Tensor,
        sd: torch.Tensor,
        evaluate: torch.Tensor,
        synops: list | None,
    ) -> None:
        """At most ``F`` events per sample leave the queue; their currents are the next step's input."""
        g = self.g
        B, Q = fs.key.shape
        dt = fs.pend.dtype
        if self.sched.redraw:
            queued = fs.key > -math.inf
            fs.key = torch.where(queued, self.sched.redraw_priority(fs.key, self.gen), fs.key)
        if self.cfg.F >= Q:
            idx = torch.arange(Q, device=fs.key.device).expand(B, Q)
            ok = fs.key > -math.inf
        else:
            top, idx = fs.key.topk(self.cfg.F, dim=1)
            ok = top > -math.inf
        val = fs.q.gather(1, idx) if fs.q is not None else ok.to(dt)
        if self.cfg.F >= Q:
            fs.key = torch.full_like(fs.key, -math.inf)
            fs.q = None if fs.q is None else torch.zeros_like(fs.q)
        else:
            fs.key = fs.key.scatter_(1, idx, -math.inf)
            fs.q = None if fs.q is None else fs.q.scatter(1, idx, 0.0)
        qlen = (fs.key > -math.inf).sum(1)
        tr.qlen.append(qlen)
        tr.emitted.append(ok.sum(1))
        e: torch.Tensor | None = None
        ghosts = None
        if ctx.grad:
            ghosts = evaluate & ~sd  # evaluated silent neurons: zero-valued events with surrogate gradients
            if ctx.q_off == 0:
                ghosts = Fn.pad(ghosts, (g.n_in, 0))
        if ctx.dense or (synops is not None and ctx.gather) or ghosts is not None:
            e = torch.zeros(B, Q, dtype=dt, device=idx.device).scatter(1, idx, val)
            if ghosts is not None:
                e = e + (Fn.pad(s, (g.n_in, 0)) if ctx.q_off == 0 else s) * ghosts.to(dt)
        parts: list[torch.Tensor | None] = [None] * len(g.populations)
        hits: list = [None] * len(g.populations)
        if e is not None and (ctx.dense or synops is not None):
            sources = self._sources(e, ctx)
            if ctx.dense:
                parts, hits = dense_currents(g, sources, conns=ctx.dense, synops=synops)
            if synops is not None and ctx.gather:
                _count_synops(g, sources, ctx.gather, synops)
        if ctx.gather:
            if ghosts is not None:  # the emitted events and the ghosts, as one list
                assert e is not None
                em = (e.detach() != 0) | ghosts
                K = max(1, int(em.sum(1).max()))
                idx = em.to(torch.uint8).topk(K, dim=1).indices
                val = e.gather(1, idx)
            gp, gh = gathered_currents(
                g,
                idx,
                val,
                conns=ctx.gather,
                plans=ctx.plans,
                tables=ctx.tables,
                entry_src=ctx.entry_src,
                entry_local=ctx.entry_local,
                cache=ctx.cache,
            )
            parts = [a if b is None else (b if a is None else a + b) for a, b in zip(parts, gp)]
            hits = [a if b is None else (b if a is None else a | b) for a, b in zip(hits, gh)]
        fs.pend, fs.hit = self._assemble(parts, hits, B, dt, idx.device, ctx.cache)
        busy = (qlen > 0) | fs.hit.any(1)
        if fs.needs is not None:
            busy = busy | fs.needs.any(1)
        fs.busy = busy

    def _sources(self, e: torch.Tensor, ctx: _Context) -> dict[int, torch.Tensor]:
        """Dense event tensors per source from queue-space events ``e`` ``[B, Q]``."""
        g = self.g
        src: dict[int, torch.Tensor] = {}
        if ctx.q_off == 0:
            src[INPUT] = e[:, : g.n_in]
        base = g.n_in - ctx.q_off
        for i, p in enumerate(g.populations):
            src[i] = e[:, base + p.start : base + p.start + p.size]
        return src

    # 5. stop bookkeeping
    def _stop(self, st: AsyncState, fs: FrameState, ctx: _Context, sd: torch.Tensor, stepping: torch.Tensor) -> None:
        """Stop rules: end a sample (``first_output``) or its frame (``frame_first_output``) ``k`` forward
        steps after its (frame's) first output spike; a stopped sample's queue and currents are dropped."""
        cfg = self.cfg
        if fs.active is None:
            return
        assert fs.steps is not None and fs.steps_total is not None and fs.first_out is not None
        assert fs.first_out_total is not None and fs.frame_cut is not None
        out_any = sd[:, ctx.out].any(1)
        step = stepping.to(torch.float64)
        fs.steps = fs.steps + step
        if cfg.stop == "first_output":
            fs.steps_total = fs.steps_total + step
            fs.first_out_total = torch.where(
                out_any & torch.isnan(fs.first_out_total), fs.steps_total, fs.first_out_total
            )
            stop_now = (fs.steps_total - fs.first_out_total >= cfg.k) & fs.active
            st.stopped = st.stopped | stop_now
        else:
            fs.first_out = torch.where(out_any & torch.isnan(fs.first_out), fs.steps, fs.first_out)
            stop_now = (fs.steps - fs.first_out >= cfg.k) & fs.active
            fs.frame_cut = fs.frame_cut | (stop_now & fs.busy)  # cut while something was still moving
        fs.active = fs.active & ~stop_now
        act = fs.active[:, None]
        fs.key = fs.key.masked_fill(~act, -math.inf)
        if fs.q is not None:
            fs.q = fs.q * act.to(fs.q.dtype)
        fs.hit = fs.hit & act
        fs.fresh = fs.fresh & act
        if fs.needs is not None:
            fs.needs = fs.needs & act
        fs.pend = fs.pend * act.to(fs.pend.dtype)
        fs.busy = fs.busy & fs.active

    def _end_frame(
        self, st: AsyncState, fs: FrameState, ctx: _Context, tr: StepTrace, y: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The frame's output, spikes per population and forward steps; metrics folded into ``st``."""
        st.v = fs.v
        close_frame(st, tr, y, ctx.out_spiking)
        if fs.frame_cut is not None:
            st.frames_cut = st.frames_cut + fs.frame_cut.to(torch.float64)
        B = fs.v.shape[0]
        layer = torch.zeros(B, len(self.g.populations), dtype=fs.s_acc.dtype, device=fs.v.device)
        layer = layer.index_add(1, ctx.pon, fs.s_acc)
        out = fs.s_acc[:, ctx.out] if ctx.out_spiking else fs.v[:, ctx.out]
        steps = (
            torch.stack(tr.stepped).to(torch.float64).sum(0)
            if tr.stepped
            else torch.zeros(B, dtype=torch.float64, device=fs.v.device)
        )
        return out, layer, steps

    # -- a whole run ---------------------------------------------------------------------------
    def run(self, x: torch.Tensor, y: torch.Tensor | None = None, *, truncate: bool = False) -> RunRecord:
        """Run all frames of ``x`` (``[T, B, *input_shape]``); ``y`` enables correct-class metrics.

        ``stats`` holds ``[B]`` per-sample observables and ``[T, B]`` per-frame ones (keys ``frame_*``, see
        :mod:`~swiftspike.asynch.tracking`)."""
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
        synops = (
            [[torch.zeros(B, device=x.device), torch.zeros(B, device=x.device)] for _ in g.connections]
            if self.cfg.record_synops
            else None
        )
        outs, layers, fsteps = [], [], []
        for t in range(T):
            if truncate:
                st.detach_()
            o, lay, s = self.run_frame(st, x[t].reshape(B, -1), y, synops)
            outs.append(o)
            layers.append(lay)
            fsteps.append(s)
        out = torch.stack(outs)
        lay = torch.stack(layers)  # [T, B, P]
        rec = RunRecord(output=out, output_spiking=g.populations[g.output].spiking)
        for i, p in enumerate(g.populations):
            if p.spiking:
                rec.layers.append(LayerSpikes(p.name, lay[:, :, i], p.size))
        if synops is not None:
            for ci, c in enumerate(g.connections):
                rec.synops.append(
                    SynOps(
                        f"{c.src}->{c.dst}", synops[ci][0], synops[ci][1], float(fanout_ops(c.syn, _pre_ones(g, c))[0])
                    )
                )
        total_steps = st.steps.clamp(min=1)
        rec.stats = {
            "spikes": st.spikes,
            "steps": st.steps,
            "spikes_to_first_output": st.first_out_spikes,
            "steps_to_first_output": st.first_out_step,
            "spikes_to_first_correct": st.first_correct_spikes,
            "steps_to_decision": st.dec_step,
            "spikes_to_decision": st.dec_spikes,
            "queue_mean": st.queue_sum / total_steps,
            "queue_max": st.queue_max,
            "truncated_frames": st.truncated,
            "max_emitted": st.max_emitted,
            "frames_cut": st.frames_cut,
        }
        for key in FRAME_STATS:
            rec.stats[key] = torch.stack(st.frame[key])
        rec.frame_steps = torch.stack(fsteps)
        if self.cfg.record_step_outputs and st.step_outputs:
            rec.step_outputs = torch.stack(st.step_outputs)
            rec.step_mask = torch.stack(st.step_mask)
        return rec


def _count_synops(g: AsyncGraph, sources: dict[int, torch.Tensor], conns: list[int], synops: list) -> None:
    """Synaptic operations of gathered connections, counted exactly as the dense path does."""
    with torch.no_grad():
        for ci in conns:
            c = g.connections[ci]
            acs, macs = event_ops(c.syn, connection_input(g, c, sources[c.src]))
            synops[ci][0] += acs
            synops[ci][1] += macs


def _rand_like(mask: torch.Tensor, dtype, gen: torch.Generator | None) -> torch.Tensor:
    if gen is None:
        return torch.rand(mask.shape, dtype=dtype, device=mask.device)
    return torch.rand(mask.shape, dtype=dtype, generator=gen, device=gen.device).to(mask.device)


def _pre_ones(g: AsyncGraph, c: Connection) -> torch.Tensor:
    z = torch.ones(1, *g.shape_of(c.src), dtype=c.syn.weight.dtype, device=c.syn.weight.device)
    with torch.no_grad():
        for m in c.pre:
            z = m(z)
    return z


def run_async(
    net: torch.nn.Module,
    x: torch.Tensor,
    *,
    F: int = 8,
    scheduler: str | Scheduler = "momentum",
    y: torch.Tensor | None = None,
    batch_first: bool = False,
    generator: torch.Generator | None = None,
    truncate: bool = False,
    config: AsyncConfig | None = None,
    **kw: Any,
) -> RunRecord:
    """Run ``net`` (an ``SNN``/``nn.Sequential`` or :class:`AsyncGraph`) asynchronously over ``x`` ``[T, B, ...]``.

    Extra keywords go to :class:`AsyncConfig` (``input_mode``, ``stop``, ``k``, ``sync_gate``,
    ``refractory_dropout``, ``refractory_dropout_eval``, ``refractory_clamp``, ``currents``,
    ``max_steps_per_frame``, ``record_synops``, ``record_step_outputs``); or pass a whole ``config`` (then
    ``F``, ``scheduler`` and ``kw`` are ignored), e.g. ``AsyncConfig.asynctorch(F=16)``."""
    x = check_time_major(to_time_major(x, batch_first), "input", min_ndim=2)
    if not x.is_floating_point():
        x = x.float()
    g = as_graph(net, x.shape[2:])
    if config is None:
        try:
            config = AsyncConfig(F=F, scheduler=scheduler, **kw)
        except TypeError as e:
            raise SwiftSpikeError(f"unknown async engine option: {e}") from None
    return AsyncEngine(g, config, generator=generator).run(x, y, truncate=truncate)
