r"""The graph the asynchronous engine runs: neuron populations and synaptic connections.

Neurons live in *populations* (any shape) that share one flat index space; the inputs come first
(``n_in`` indices), then every population in construction order. A *connection* maps the spikes of a
source (the input, index ``INPUT = -1``, or any population, itself included) through optional linear
pre-ops (Flatten, Unflatten, AvgPool, Identity, Dropout) and one ``nn.Linear`` / ``nn.Conv1d`` /
``nn.Conv2d`` into a destination population, so feed-forward, skip and recurrent wiring all work.
:meth:`AsyncGraph.from_sequential` compiles a layered network (e.g. a swiftspike ``SNN``); the modules
are shared, so training the graph trains the network.

Each spiking population is charged, fired and reset by the one neuron kernel
(:func:`~swiftspike.neurons.functional.lif_masked_step`) with the ``LIFParameters`` of its module
(``neuron.params``); an LI readout is charge-only (:func:`~swiftspike.neurons.functional.li_masked_step`).
:meth:`AsyncGraph.kernel_groups` merges neighbouring populations whose reset, surrogate and
``detach_reset`` agree into one kernel call with per-neuron ``beta`` and ``v_threshold``.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as Fn
from torch import nn

from ..errors import SwiftSpikeError
from ..metrics.synops import Synapse, is_synaptic
from ..neurons.functional import LIFParameters
from ..neurons.modules import LI, LIF, SpikingModule

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
    syn: Synapse
    pre: tuple[nn.Module, ...] = ()


@dataclass
class KernelGroup:
    """Neurons ``[start, stop)`` updated by one kernel call: ``params`` for spiking groups (per-neuron
    ``beta`` / ``v_threshold`` when populations were merged), ``None`` for an LI (charge-only) group with
    leak ``beta``."""

    start: int
    stop: int
    params: LIFParameters | None
    beta: Any = None


def _surrogate_key(s: Any) -> tuple:
    return (type(s), tuple(sorted(vars(s).items())))


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

    def shape_of(self, idx: int) -> tuple[int, ...]:
        """Per-sample shape of source ``idx`` (``INPUT`` or a population index)."""
        return self.input_shape if idx == INPUT else self.populations[idx].shape

    _shape = shape_of  # older name

    def size_of(self, idx: int) -> int:
        return math.prod(self.shape_of(idx))

    def connect(self, src: int, dst: int, syn: nn.Module, pre: Sequence[nn.Module] = ()) -> None:
        """Connect source ``src`` (``-1`` = input, else a population index) to population ``dst``."""
        if not is_synaptic(syn):
            raise SwiftSpikeError(f"a connection needs nn.Linear or nn.Conv1d/2d, got {type(syn).__name__}")
        for m in pre:
            if not isinstance(m, LINEAR_PRE_OPS):
                raise SwiftSpikeError(
                    f"{type(m).__name__} is not linear in the spikes; the async engine accepts only "
                    "Flatten, AvgPool, Identity and Dropout before a synaptic layer"
                )
        if not (src == INPUT or 0 <= src < len(self.populations)) or not 0 <= dst < len(self.populations):
            raise SwiftSpikeError(f"connection {src}->{dst} refers to a missing population")
        try:
            with torch.no_grad():
                z = torch.zeros(1, *self.shape_of(src), dtype=syn.weight.dtype, device=syn.weight.device)
                for m in pre:
                    z = m(z)
                out = syn(z)
        except RuntimeError as e:
            raise SwiftSpikeError(f"connection {src}->{dst} does not fit: {str(e).splitlines()[0]}") from None
        if tuple(out.shape[1:]) != self.populations[dst].shape:
            raise SwiftSpikeError(
                f"connection {src}->{dst} gives shape {tuple(out.shape[1:])}, "
                f"population has {self.populations[dst].shape}"
            )
        self.connections.append(Connection(src, dst, syn, tuple(pre)))
        self._mods.append(syn)
        for m in pre:
            self._mods.append(m)

    @classmethod
    def from_sequential(cls, net: nn.Module, input_shape: Sequence[int]) -> AsyncGraph:
        """Compile a layered ``nn.Sequential`` (e.g. a swiftspike ``SNN``) into a graph sharing its modules."""
        if not isinstance(net, nn.Sequential):
            raise SwiftSpikeError(f"from_sequential expects an nn.Sequential, got {type(net).__name__}")
        g = cls(input_shape)
        src = INPUT
        pre: list[nn.Module] = []
        syn: Synapse | None = None
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
                        f"layer {name} cannot take input of shape {tuple(shape)}: {str(e).splitlines()[0]}"
                    ) from None
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
                    "(allowed: Linear/Conv, LIF/IF/LI, and Flatten/AvgPool/Identity/Dropout before a synaptic layer)"
                )
        if syn is not None or pre or not g.populations:
            raise SwiftSpikeError("the network must end with a neuron layer")
        return g

    # -- pieces used by the engine ------------------------------------------------------------
    def bias(self, dtype, device) -> torch.Tensor:
        """Per-neuron bias ``[N]``: the sum of the biases of every connection into each neuron."""
        b = torch.zeros(self.n_neurons, dtype=dtype, device=device)
        for c in self.connections:
            if c.syn.bias is None:
                continue
            p = self.populations[c.dst]
            bb = c.syn.bias.to(dtype)
            full = bb.view(-1, *([1] * (len(p.shape) - 1))).expand(p.shape).reshape(-1) if len(p.shape) > 1 else bb
            b = b + Fn.pad(full, (p.start, self.n_neurons - p.start - p.size))
        return b

    def has_bias(self) -> bool:
        return any(c.syn.bias is not None for c in self.connections)

    def kernel_groups(self, dtype, device) -> list[KernelGroup]:
        """Kernel calls covering all neurons: neighbouring spiking populations with the same reset object,
        surrogate and ``detach_reset`` share one call (per-neuron ``beta`` and ``v_threshold``)."""
        groups: list[KernelGroup] = []
        members: list[list[Population]] = []
        for p in self.populations:
            if not p.spiking:
                groups.append(
                    KernelGroup(p.start, p.start + p.size, None, p.neuron.beta.to(device=device, dtype=dtype))
                )
                members.append([p])
                continue
            prm: LIFParameters = cast(LIF, p.neuron).params
            last = groups[-1] if groups else None
            if (
                last is not None
                and last.params is not None
                and last.stop == p.start
                and last.params.reset == prm.reset
                and last.params.detach_reset == prm.detach_reset
                and _surrogate_key(last.params.surrogate) == _surrogate_key(prm.surrogate)
            ):
                last.stop = p.start + p.size
                members[-1].append(p)
            else:
                groups.append(KernelGroup(p.start, p.start + p.size, prm))
                members.append([p])
        for grp, ps in zip(groups, members):
            if grp.params is None:
                continue
            prms = [cast(LIF, p.neuron).params for p in ps]
            if len(ps) == 1:
                beta, th = (
                    torch.as_tensor(prms[0].beta).to(device=device, dtype=dtype),
                    torch.as_tensor(prms[0].v_threshold).to(device=device, dtype=dtype),
                )
            else:
                beta = torch.cat(
                    [
                        torch.as_tensor(q.beta).to(device=device, dtype=dtype).reshape(()).expand(p.size)
                        for q, p in zip(prms, ps)
                    ]
                )
                th = torch.cat(
                    [
                        torch.as_tensor(q.v_threshold).to(device=device, dtype=dtype).reshape(()).expand(p.size)
                        for q, p in zip(prms, ps)
                    ]
                )
            grp.params = prms[0]._replace(beta=beta, v_threshold=th)
        return groups

    def slice_of(self, idx: int) -> slice:
        """Indices of source ``idx`` in the flat space (inputs first, then the populations)."""
        if idx == INPUT:
            return slice(0, self.n_in)
        p = self.populations[idx]
        return slice(self.n_in + p.start, self.n_in + p.start + p.size)


_GRAPHS: dict[tuple[int, tuple[int, ...]], tuple[Any, AsyncGraph]] = {}


def as_graph(net: nn.Module, input_shape: Sequence[int]) -> AsyncGraph:
    """``net`` itself when it is an :class:`AsyncGraph`, else its compiled (and cached) graph."""
    if isinstance(net, AsyncGraph):
        return net
    key = (id(net), tuple(input_shape))
    hit = _GRAPHS.get(key)
    if hit is not None and hit[0]() is net:
        return hit[1]
    g = AsyncGraph.from_sequential(net, input_shape)
    _GRAPHS[key] = (weakref.ref(net), g)
    return g
