r"""Chunked scan for first-order linear recurrences (pure PyTorch).

Solves, for every channel independently,

.. math::

    H_t = a_t H_{t-1} + b_t, \qquad t = 0 \dots T-1, \qquad H_{-1} = h_0,

given decays :math:`a_t \in [0, 1]`, passed as :math:`m_t = 1 - a_t` (exact for decays near 1),
and :math:`b_t`. Time is processed in blocks (:func:`block_rows`, a bounded amount of scratch memory
reused for every block); inside a block, the rows are cut into chunks of ``C`` steps whose zero-start
local solutions are run together in ``C`` vectorised steps, stacked with the complement of the
cumulative decay from the chunk start,

.. math::

    \bar A_t = 1 - \prod_{s=c_0}^{t} a_s = \bar A_{t-1} + m_t (1 - \bar A_{t-1}) \in [0, 1],

which is bounded (no overflow) and keeps its precision where every ``a`` is near 1. The chunks are
joined in order (:math:`E_c = (1 - \bar A^{end}_c) E_{c-1} + h^{loc,end}_c`, scanned recursively when a
block has many chunks), and :math:`H_t = h^{loc}_t + (1 - \bar A_t) E_{c-1}`; the state after a block
starts the next one.

There is no division anywhere: the textbook closed form
:math:`H_t = P_t (h_0 + \sum_s b_s / P_s)` with :math:`P_t = \prod a` underflows :math:`P_t` to 0
(and ``b / P`` to inf/NaN) within a few hundred steps, so it is deliberately not used.

The backward pass is the same scan run backwards in time (custom autograd function), block after
block from the end: :math:`G_t = g_t + a_{t+1} G_{t+1}`, :math:`\partial b_t = G_t`,
:math:`\partial \log a_t = G_t a_t H_{t-1}`, :math:`\partial h_0 = a_0 G_0`.
"""

from __future__ import annotations

import math

import torch

from ..errors import SwiftSpikeError

#: Chunks are never longer than this (the local loop is vectorised over chunks).
MAX_CHUNK = 32


def auto_chunk(T: int) -> int:
    """A chunk length near :math:`\\sqrt{T}`, a power of two in [8, 32] (longer chunks measured slower
    on CPU)."""
    c = 2 ** round(math.log2(max(math.sqrt(max(T, 1)), 1.0)))
    return int(min(MAX_CHUNK, max(8, c)))


#: Target number of elements of one block (4 MB in float32): large enough that the per-op overhead of
#: the chunk loops is small, small enough that a block's buffers (allocated once per call and reused
#: for every block) add little to the peak memory of long sequences.
BLOCK_ELEMS = 1 << 20

#: Above this many chunks per block the chunk join is itself scanned in chunks (recursively).
_JOIN_LOOP_MAX = 2 * MAX_CHUNK


def block_rows(T: int, M: int, chunk: int, min_rows: int = 1, max_share: int | None = None) -> int:
    """Rows per block for a ``[T, M]`` scan: a multiple of ``chunk`` near :data:`BLOCK_ELEMS` elements,
    at least ``min_rows``, and no more than ``T`` rounded up to a whole chunk. ``max_share = q`` also
    keeps a block to about ``T / q`` rows (but not below ``BLOCK_ELEMS / 8`` elements), so that
    per-block buffers stay small next to the ``[T, M]`` tensors of a long sequence."""
    n = max(1, BLOCK_ELEMS // max(1, chunk * M))
    if max_share:
        n = min(n, max(-(-T // (max_share * chunk)), (BLOCK_ELEMS >> 3) // max(1, chunk * M), 1))
    n = max(n, -(-min_rows // chunk))
    return min(chunk * n, chunk * max(-(-T // chunk), -(-min_rows // chunk)))


def _pad_rows(t: torch.Tensor, rows: int) -> torch.Tensor:
    return torch.cat([t, t.new_zeros(rows - t.shape[0], *t.shape[1:])]) if rows > t.shape[0] else t


def _work(work: torch.Tensor | None, rows: int, M: int, like: torch.Tensor) -> torch.Tensor:
    """``[rows, 3, M]`` scratch (from ``work`` when given): two planes for the stacked recurrence, one
    for the decays ``a``."""
    if work is None:
        return torch.empty(rows, 3, M, dtype=like.dtype, device=like.device)
    return work.view(-1)[: rows * 3 * M].view(rows, 3, M)


def scan_block(
    bm: torch.Tensor, h: torch.Tensor, out: torch.Tensor, chunk: int, work: torch.Tensor | None = None
) -> torch.Tensor:
    r"""One block of :math:`H_t = (1 - m_t) H_{t-1} + b_t`; ``bm`` is ``[L, 2, M]`` holding ``b_t`` and
    ``m_t = 1 - a_t`` (given instead of ``a`` so that decays near 1 stay exact), ``h`` (``[M]``) the
    state before the block. Writes ``H`` (``[L, M]``) into ``out``; returns the state after the block.

    Chunks of ``chunk`` rows are solved from zero together (``chunk`` vectorised steps), and with them
    the complement of their cumulative decay, :math:`\bar A_t = 1 - \prod_{s=c_0}^{t} a_s \in [0, 1]`,
    which obeys the same recurrence with ``b = m`` (both run as one stacked op per step; bounded, no
    division, no overflow, and no cancellation where all ``a`` are near 1). The chunks are then
    joined in order, :math:`E_c = (1 - \bar A^{end}_c) E_{c-1} + h^{loc,end}_c`, and
    :math:`H_t = h^{loc}_t + E_{c-1} - \bar A_t E_{c-1}`. A last partial chunk is padded with
    ``m = 0, b = 0`` (the state stays constant over the padding). ``work`` (at least ``3 M`` times
    ``L`` rounded up to a whole chunk elements) holds the temporaries when given."""
    L, _, M = bm.shape
    c = min(chunk, L)
    n = -(-L // c)
    rows = n * c
    bm3 = _pad_rows(bm, rows).view(n, c, 2, M)
    w = _work(work, rows, M, bm)
    Y = w[:, :2].view(n, c, 2, M)  # (h_loc, A_bar)
    A = torch.neg(bm3[:, :, 1:], out=w[:, 2:].view(n, c, 1, M)).add_(1.0)  # a = 1 - m
    Y[:, 0] = bm3[:, 0]
    ys, bs, As = Y.unbind(1), bm3.unbind(1), A.unbind(1)
    for j in range(1, c):  # zero-start local solutions of all chunks at once (written in place)
        torch.addcmul(bs[j], As[j], ys[j - 1], out=ys[j])
    S = torch.empty(n + 1, M, dtype=bm.dtype, device=bm.device)  # chunk start values, then the end state
    S[0] = h
    if n > _JOIN_LOOP_MAX:
        scan_block(Y[:, c - 1], h, S[1:], chunk)
    else:
        ends = torch.neg(Y[:, c - 1, 1]).add_(1.0)  # the decay of each whole chunk
        ss, hs, es = S.unbind(0), Y[:, c - 1, 0].unbind(0), ends.unbind(0)
        for i in range(n):
            torch.addcmul(hs[i], es[i], ss[i], out=ss[i + 1])
    start = S[:n].unsqueeze(1)
    H = out.view(n, c, M) if rows == L else Y[:, :, 0]
    torch.add(Y[:, :, 0], start, out=H).addcmul_(Y[:, :, 1], start, value=-1.0)
    if rows != L:
        out.copy_(H.reshape(rows, M)[:L])
    return S[n]


def scan_block_reverse(
    gm: torch.Tensor,
    m0: torch.Tensor,
    carry: torch.Tensor,
    out: torch.Tensor,
    chunk: int,
    work: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""One block of the adjoint :math:`G_t = g_t + (1 - m_{t+1}) G_{t+1}`, in original time order (no
    flips). ``gm`` is ``[L, 2, M]`` holding ``g_t`` and ``m_{t+1}`` (shifted by one row; the last row's
    must be 0), ``m0`` the block's first ``m``, ``carry`` :math:`a_{t_1} G_{t_1}` from the block after
    (zeros for the last one). Writes ``G`` (``[L, M]``) into ``out`` and returns
    :math:`a_{t_0} G_{t_0}`, the carry for the block before. The decay from each step to its chunk end
    is kept as a complement, :math:`\bar D_t = 1 - \prod_{s=t+1}^{end} a_s`, stacked with the local
    adjoint."""
    L, _, M = gm.shape
    c = min(chunk, L)
    n = -(-L // c)
    rows = n * c
    gm3 = _pad_rows(gm, rows).view(n, c, 2, M)
    w = _work(work, rows, M, gm)
    Y = w[:, :2].view(n, c, 2, M)  # (G_loc, D_bar)
    A = torch.neg(gm3[:, :, 1:], out=w[:, 2:].view(n, c, 1, M)).add_(1.0)  # a_{t+1}
    Y[:, c - 1, 0] = gm3[:, c - 1, 0]
    Y[:, c - 1, 1] = 0
    ys, gs, As = Y.unbind(1), gm3.unbind(1), A.unbind(1)
    for j in range(c - 2, -1, -1):  # written in place into the strided chunk slices
        torch.addcmul(gs[j], As[j], ys[j + 1], out=ys[j])
    # K_i = a_first(i+1) G_first(i+1), what flows into chunk i from the chunk after it:
    # K_{n-1} = carry, K_{i-1} = P_{i-1} + (1 - Qb_{i-1}) K_i with P = a_first Gloc_first and
    # Qb = 1 - a_first D_first
    K = torch.empty(n, M, dtype=gm.dtype, device=gm.device)
    if n > 1:
        mf, Gf, Df = gm3[:-1, c - 1, 1], Y[1:, 0, 0], Y[1:, 0, 1]
        P = torch.addcmul(Gf, mf, Gf, value=-1.0)
        Qb = torch.add(Df, mf).addcmul_(mf, Df, value=-1.0)
        if n > _JOIN_LOOP_MAX:  # the same recurrence, scanned: g = (P, 0), m_{i+1} = Qb_i
            pq = torch.zeros(n, 2, M, dtype=gm.dtype, device=gm.device)
            pq[:-1, 0] = P
            pq[:-1, 1] = Qb
            scan_block_reverse(pq, m0, carry, K, chunk)
        else:
            K[n - 1] = carry
            ks, ps, qs = K.unbind(0), P.unbind(0), Qb.neg_().add_(1.0).unbind(0)
            for i in range(n - 1, 0, -1):
                torch.addcmul(ps[i - 1], qs[i - 1], ks[i], out=ks[i - 1])
    else:
        K[0] = carry
    k = K.unsqueeze(1)
    G = out.view(n, c, M) if rows == L else Y[:, :, 0]
    torch.add(Y[:, :, 0], k, out=G).addcmul_(Y[:, :, 1], k, value=-1.0)
    if rows != L:
        out.copy_(G.reshape(rows, M)[:L])
    g0 = out[0]
    return torch.addcmul(g0, m0, g0, value=-1.0)


def _scan_forward(log_a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, chunk: int) -> torch.Tensor:
    """Forward solve on flat ``[T, M]`` tensors, block after block (no autograd bookkeeping)."""
    T, M = b.shape
    out = torch.empty_like(b)
    R = block_rows(T, M, chunk)
    bm = b.new_empty(R, 2, M)
    work = b.new_empty(R, 3, M)
    h = h0
    for t0 in range(0, T, R):
        L = min(R, T - t0)
        bm[:L, 0] = b[t0 : t0 + L]
        torch.expm1(log_a[t0 : t0 + L], out=bm[:L, 1]).neg_()  # 1 - a, exact near a = 1
        h = scan_block(bm[:L], h, out[t0 : t0 + L], chunk, work)
    return out


def _scan_reverse(g: torch.Tensor, log_a: torch.Tensor, chunk: int) -> torch.Tensor:
    r"""Adjoint solve on flat ``[T, M]`` tensors: :math:`G_t = a_{t+1} G_{t+1} + g_t`,
    :math:`G_{T-1} = g_{T-1}`, block after block from the end."""
    T, M = g.shape
    out = torch.empty_like(g)
    R = block_rows(T, M, chunk)
    gm = g.new_empty(R, 2, M)
    work = g.new_empty(R, 3, M)
    carry = g.new_zeros(M)
    for t0 in range(R * ((T - 1) // R), -1, -R):
        L = min(R, T - t0)
        gm[:L, 0] = g[t0 : t0 + L]
        torch.expm1(log_a[t0 + 1 : t0 + L], out=gm[: L - 1, 1]).neg_()
        gm[L - 1, 1] = 0
        m0 = torch.expm1(log_a[t0]).neg_()
        carry = scan_block_reverse(gm[:L], m0, carry, out[t0 : t0 + L], chunk, work)
    return out


def scan_backward(
    g: torch.Tensor, log_a: torch.Tensor, a: torch.Tensor, h0: torch.Tensor, H: torch.Tensor, chunk: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Gradients ``(d log_a, d b, d h0)`` of the scan for output gradient ``g`` (flat ``[T, M]``):
    :math:`G` from :func:`_scan_reverse`, :math:`\partial \log a_t = G_t a_t H_{t-1}`,
    :math:`\partial b = G`, :math:`\partial h_0 = a_0 G_0`."""
    G = _scan_reverse(g, log_a, chunk)
    Ga = G * a
    g_h0 = Ga[0].clone()
    g_log_a = Ga
    g_log_a[1:] *= H[:-1]
    g_log_a[0] *= h0
    return g_log_a, G, g_h0


class _LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, log_a, b, h0, chunk):  # type: ignore[override]
        H = _scan_forward(log_a, b, h0, chunk)
        ctx.save_for_backward(log_a, h0, H)
        ctx.chunk = chunk
        return H

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        log_a, h0, H = ctx.saved_tensors
        g_log_a, g_b, g_h0 = scan_backward(g, log_a, log_a.exp(), h0, H, ctx.chunk)
        return g_log_a, g_b, g_h0, None


def linear_scan(
    log_a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, *, chunk: int | None = None
) -> torch.Tensor:
    r"""All :math:`H_t` of :math:`H_t = a_t H_{t-1} + b_t` for time-major ``log_a``, ``b`` (``[T, ...]``).

    ``h0`` (``[...]``, default zeros) is the state before step 0. ``chunk`` defaults to
    :func:`auto_chunk`. Differentiable in ``log_a``, ``b`` and ``h0``.
    """
    if log_a.shape != b.shape:
        raise SwiftSpikeError(f"log_a and b must have the same shape, got {tuple(log_a.shape)} and {tuple(b.shape)}")
    if b.dim() < 1 or b.shape[0] == 0:
        raise SwiftSpikeError("linear_scan needs a time axis with T >= 1")
    T = b.shape[0]
    rest = b.shape[1:]
    if h0 is None:
        h0 = b.new_zeros(rest)
    elif h0.shape != rest:
        raise SwiftSpikeError(f"h0 must have shape {tuple(rest)}, got {tuple(h0.shape)}")
    c = auto_chunk(T) if chunk is None else int(chunk)
    if c < 2:
        raise SwiftSpikeError(f"chunk must be an integer >= 2, got {chunk!r}")
    M = int(math.prod(rest))
    H = _LinearScan.apply(log_a.reshape(T, M).contiguous(), b.reshape(T, M).contiguous(), h0.reshape(M).contiguous(), c)
    return H.view(T, *rest)


def linear_scan_serial(log_a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """Reference: the same recurrence one step at a time (plain autograd)."""
    h = b.new_zeros(b.shape[1:]) if h0 is None else h0
    a = log_a.exp()
    out = []
    for t in range(b.shape[0]):
        h = a[t] * h + b[t]
        out.append(h)
    return torch.stack(out)
