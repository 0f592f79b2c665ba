r"""Synaptic currents caused by emitted events: a dense reference and an event-gathered path.

Both compute, for every connection ``c`` and every sample, :math:`I_{dst} \mathrel{+}= W_c\,
\mathrm{pre}_c(e_{src})` without bias (the bias enters once per frame, with the leak), and the ``[B, P]``
mask of populations that at least one non-zero event reached.

* **Dense** (:func:`dense_currents`): the events of a source are a dense ``[B, n_src]`` tensor and each
  connection is one matrix product (or convolution) -- cost :math:`O(B \cdot n_{src} \cdot fan\text{-}out)`
  whatever the number of events. It is the reference.
* **Gathered** (:func:`gathered_currents`): the events are a list ``idx [B, K]`` (flat indices) with values
  ``val [B, K]``, at most ``F`` per sample. A ``Linear`` connection sums the weight columns of the emitting
  neurons, ``embedding_bag(idx, W^T, per_sample_weights=val)``; a convolution looks up, per emitting
  neuron, the ``out_channels/groups * prod(kernel)`` (output index, weight) pairs it feeds (a table built
  once from the layer geometry) and scatter-adds them. Linear pre-ops are folded in as an index map: each
  source neuron reaches at most one element after Flatten/Unflatten/Identity/AvgPool with non-overlapping
  windows (found by probing the pre-ops with unit vectors once per graph). Cost
  :math:`O(B \cdot K \cdot fan\text{-}out)`. Connections the gathered path cannot express (overlapping
  pools, string padding, non-zero padding modes, Dropout in training mode) use the dense product.

Both paths are differentiable in the weights and the event values and give the same values (up to the
order of floating-point summation) and gradients (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as Fn
from torch import nn

from ..metrics.synops import Synapse, event_ops
from .graph import INPUT, AsyncGraph, Connection

_PROBE_CHUNK = 256


def apply_syn(syn: Synapse, z: torch.Tensor) -> torch.Tensor:
    """The synaptic layer without its bias."""
    if isinstance(syn, nn.Linear):
        return Fn.linear(z, syn.weight)
    if isinstance(syn, nn.Conv2d):
        return Fn.conv2d(z, syn.weight, None, syn.stride, syn.padding, syn.dilation, syn.groups)
    return Fn.conv1d(z, syn.weight, None, syn.stride, syn.padding, syn.dilation, syn.groups)


def connection_input(g: AsyncGraph, c: Connection, src: torch.Tensor) -> torch.Tensor:
    """``pre(src)``: the synaptic layer's input for flat source events ``src`` ``[B, n_src]``."""
    z = src.reshape(src.shape[0], *g.shape_of(c.src))
    for m in c.pre:
        z = m(z)
    return z


Hits = list  # per population: None or a [B] bool tensor (a non-zero event reached it)


def _or(a: torch.Tensor | None, b: torch.Tensor) -> torch.Tensor:
    return b if a is None else a | b


def _add(a: torch.Tensor | None, b: torch.Tensor) -> torch.Tensor:
    return b if a is None else a + b


def dense_currents(
    g: AsyncGraph, sources: dict[int, torch.Tensor], *, conns: list[int] | None = None, synops: list | None = None
) -> tuple[list[torch.Tensor | None], Hits]:
    """Currents ``[B, n_dst]`` per population (``None`` where nothing arrives) and per population the ``[B]``
    mask of samples that a non-zero event reached (``None``: none), for dense source events
    ``sources[src] = [B, n_src]``; connections whose source is absent (or not in ``conns``) are skipped."""
    any_src = next(iter(sources.values()))
    B = any_src.shape[0]
    parts: list[torch.Tensor | None] = [None] * len(g.populations)
    hits: Hits = [None] * len(g.populations)
    for ci, c in enumerate(g.connections):
        src = sources.get(c.src)
        if src is None or (conns is not None and ci not in conns):
            continue
        hits[c.dst] = _or(hits[c.dst], (src.detach() != 0).any(1))
        z = connection_input(g, c, src)
        if synops is not None:
            with torch.no_grad():
                acs, macs = event_ops(c.syn, z)
                synops[ci][0] += acs
                synops[ci][1] += macs
        parts[c.dst] = _add(parts[c.dst], apply_syn(c.syn, z).reshape(B, -1))
    return parts, hits


# -- the gathered path ---------------------------------------------------------------------------
@dataclass
class GatherPlan:
    """How one connection is gathered (shape information only; weights are looked up per run).

    ``pmap`` / ``pscale``: index of the synaptic-layer input element each source neuron reaches and the
    factor on the way (``None`` = identity); ``conv_tgt`` / ``conv_widx``: for a convolution, per input
    element the flat output index (``n_out`` = none) and flat weight index of each of its synapses."""

    conn: int
    n_src: int
    n_out: int
    pmap: torch.Tensor | None = None
    pscale: torch.Tensor | None = None
    conv_tgt: torch.Tensor | None = None
    conv_widx: torch.Tensor | None = None
    conv_valid: torch.Tensor | None = None
    _dev: dict = field(default_factory=dict)

    def on(self, device) -> GatherPlan:
        """The plan's index tensors on ``device`` (cached)."""
        key = str(device)
        if key not in self._dev:
            mv = lambda t: None if t is None else t.to(device)
            self._dev[key] = GatherPlan(
                self.conn,
                self.n_src,
                self.n_out,
                mv(self.pmap),
                mv(self.pscale),
                mv(self.conv_tgt),
                mv(self.conv_widx),
                mv(self.conv_valid),
            )
        return self._dev[key]


_RESHAPES = (nn.Flatten, nn.Unflatten, nn.Identity)


def _pre_map(g: AsyncGraph, c: Connection) -> tuple[bool, torch.Tensor | None, torch.Tensor | None]:
    """``(ok, pmap, pscale)``: the pre-ops as a one-to-at-most-one index map (``ok=False`` if not)."""
    pre = [m for m in c.pre if not isinstance(m, (nn.Dropout, *_RESHAPES))]
    if not pre:
        return True, None, None
    n = g.size_of(c.src)
    shape = g.shape_of(c.src)
    pmap = torch.full((n,), -1, dtype=torch.long)
    pscale = torch.zeros(n, dtype=torch.float64)
    with torch.no_grad():
        for j0 in range(0, n, _PROBE_CHUNK):
            j1 = min(n, j0 + _PROBE_CHUNK)
            z = torch.zeros(j1 - j0, n, dtype=torch.float64)
            z[torch.arange(j1 - j0), torch.arange(j0, j1)] = 1.0
            z = z.reshape(j1 - j0, *shape)
            for m in c.pre:
                if not isinstance(m, nn.Dropout):
                    z = m(z)
            z = z.reshape(j1 - j0, -1)
            nz = (z != 0).sum(1)
            if bool((nz > 1).any()):
                return False, None, None
            val, arg = z.abs().max(1)
            pmap[j0:j1] = torch.where(nz == 1, arg, torch.full_like(arg, -1))
            pscale[j0:j1] = torch.where(nz == 1, z.gather(1, arg[:, None]).squeeze(1), torch.zeros_like(val))
    return True, pmap, pscale


def _conv_table(
    syn: nn.Conv1d | nn.Conv2d, in_shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """Per input element of a Conv1d/2d: the flat output index and flat weight index of each synapse."""
    if isinstance(syn.padding, str) or syn.padding_mode != "zeros":
        return None
    d = len(syn.kernel_size)
    C = in_shape[0]
    sp = in_shape[1:]
    Co, g = syn.out_channels, syn.groups
    Cg, Og = C // g, Co // g
    k, st, pad, dil = syn.kernel_size, syn.stride, syn.padding, syn.dilation
    out_sp = [(sp[r] + 2 * pad[r] - dil[r] * (k[r] - 1) - 1) // st[r] + 1 for r in range(d)]
    n_out = Co * math.prod(out_sp)
    # input element (c, *i), kernel offset (*kk), output channel o within the group of c
    grids = np.meshgrid(*[np.arange(C)] + [np.arange(s) for s in sp], indexing="ij")
    cin = grids[0].reshape(-1, 1, 1)
    pos = [gg.reshape(-1, 1, 1) for gg in grids[1:]]
    koff = np.stack(np.meshgrid(*[np.arange(kk) for kk in k], indexing="ij"), 0).reshape(d, 1, -1, 1)
    oo = np.arange(Og).reshape(1, 1, -1)
    valid = np.ones((cin.shape[0], koff.shape[2], Og), dtype=bool)
    out_flat = np.zeros_like(valid, dtype=np.int64)
    kflat = np.zeros((1, koff.shape[2], 1), dtype=np.int64)
    for r in range(d):
        num = pos[r] + pad[r] - koff[r] * dil[r]
        o_r = num // st[r]
        valid &= (num % st[r] == 0) & (o_r >= 0) & (o_r < out_sp[r])
        out_flat = out_flat * out_sp[r] + np.clip(o_r, 0, out_sp[r] - 1)
        kflat = kflat * k[r] + koff[r]
    o = (cin // Cg) * Og + oo  # output channel
    out_flat = o * math.prod(out_sp) + out_flat
    widx = (o * Cg + cin % Cg) * math.prod(k) + kflat
    n_in = cin.shape[0]
    tgt = np.where(valid, out_flat, n_out).reshape(n_in, -1)
    widx = np.where(valid, widx, 0).reshape(n_in, -1)
    return (
        torch.from_numpy(tgt),
        torch.from_numpy(np.ascontiguousarray(widx)),
        torch.from_numpy(valid.reshape(n_in, -1)),
    )


def gather_plan(g: AsyncGraph, ci: int) -> GatherPlan | None:
    """The gather plan of connection ``ci``, or ``None`` when only the dense product can run it
    (built once per graph and connection; Dropout in training mode is checked per run)."""
    cache = g.__dict__.setdefault("_gather_plans", {})
    c = g.connections[ci]
    key = (ci, id(c))
    if key in cache:
        return cache[key]
    plan: GatherPlan | None = None
    ok, pmap, pscale = _pre_map(g, c)
    if ok:
        n_src = g.size_of(c.src)
        n_out = g.populations[c.dst].size
        if isinstance(c.syn, nn.Linear):
            plan = GatherPlan(ci, n_src, n_out, pmap, pscale)
        else:
            with torch.no_grad():
                z = torch.zeros(1, *g.shape_of(c.src))
                for m in c.pre:
                    z = m(z)
            tab = _conv_table(c.syn, tuple(z.shape[1:]))
            if tab is not None:
                plan = GatherPlan(ci, n_src, n_out, pmap, pscale, *tab)
    cache[key] = plan
    return plan


def weight_table(syn: Synapse, plan: GatherPlan) -> torch.Tensor:
    """Rows of the per-source synapse values: ``W^T`` ``[n_in, out]`` (Linear) or ``[n_in, fan]`` (conv)."""
    if isinstance(syn, nn.Linear):
        return syn.weight.t().contiguous()
    p = plan.on(syn.weight.device)
    assert p.conv_widx is not None and p.conv_valid is not None
    w = syn.weight.reshape(-1)[p.conv_widx]
    return w * p.conv_valid.to(w.dtype)


def gather_one(
    syn: Synapse,
    plan: GatherPlan,
    table: torch.Tensor,
    local: torch.Tensor,
    val: torch.Tensor,
    offsets: torch.Tensor | None = None,
) -> torch.Tensor:
    """Currents ``[B, n_out]`` of one connection from source-local event indices ``local`` ``[B, K]``
    (valid indices, any value where ``val == 0``) and event values ``val`` ``[B, K]``; ``offsets`` are the
    bag starts ``0, K, 2K, ...`` (made when not given)."""
    p = plan.on(local.device)
    if p.pmap is not None:
        assert p.pscale is not None
        val = val * p.pscale.to(val.dtype)[local]
        local = p.pmap[local].clamp(min=0)
    B, K = local.shape
    if isinstance(syn, nn.Linear):
        if offsets is None:
            offsets = torch.arange(0, B * K, K, device=local.device)
        return torch.embedding_bag(
            table, local.reshape(-1), offsets, False, 0, False, val.reshape(-1).to(table.dtype), False
        )[0]
    assert p.conv_tgt is not None
    rows = table[local] * val.to(table.dtype)[:, :, None]  # [B, K, fan]
    tgt = p.conv_tgt[local].reshape(B, -1)
    out = rows.new_zeros(B, p.n_out + 1)
    out = out.scatter_add(1, tgt, rows.reshape(B, -1))
    return out[:, : p.n_out]


def gathered_currents(
    g: AsyncGraph,
    idx: torch.Tensor,
    val: torch.Tensor,
    *,
    conns: list[int],
    plans: dict[int, GatherPlan],
    tables: dict[int, torch.Tensor],
    entry_src: torch.Tensor,
    entry_local: torch.Tensor,
    cache: dict | None = None,
) -> tuple[list[torch.Tensor | None], Hits]:
    """Currents and hit masks per population (as :func:`dense_currents`) for the event list ``idx`` ``[B, K]``
    (queue entries) with values ``val`` ``[B, K]`` (0 for padding entries).

    ``entry_src[j]`` is the source of queue entry ``j`` (``0`` input, ``p + 1`` population ``p``),
    ``entry_local[j]`` its index within that source; ``cache`` keeps the bag offsets between steps."""
    B, K = idx.shape
    parts: list[torch.Tensor | None] = [None] * len(g.populations)
    hits: Hits = [None] * len(g.populations)
    sid = entry_src[idx]
    loc = entry_local[idx]
    offsets = None
    if cache is not None:
        offsets = cache.get((B, K))
        if offsets is None:
            offsets = cache[(B, K)] = torch.arange(0, B * K, K, device=idx.device)
    by_src: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
    for ci in conns:
        c = g.connections[ci]
        if c.src not in by_src:
            m = sid == (0 if c.src == INPUT else c.src + 1)
            w = val * m
            by_src[c.src] = (loc * m, w, (w.detach() != 0).any(1))
        local, w, has = by_src[c.src]
        hits[c.dst] = _or(hits[c.dst], has)
        parts[c.dst] = _add(parts[c.dst], gather_one(c.syn, plans[ci], tables[ci], local, w, offsets))
    return parts, hits
