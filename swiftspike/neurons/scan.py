r"""Log-space chunked scan for first-order linear recurrences (pure PyTorch).

Solves, for every channel independently,

.. math::

    H_t = a_t H_{t-1} + b_t, \qquad t = 0 \dots T-1, \qquad H_{-1} = h_0,

given :math:`\log a_t \le 0` (a decay in (0, 1]) and :math:`b_t`. The time axis is cut into chunks of
``C`` steps. Inside a chunk the cumulative decay from the chunk start is taken in log space,

.. math::

    A_t = \exp\Big(\sum_{s=c_0}^{t} \log a_s\Big) \in [0, 1],

whose exponent is always <= 0 (it can underflow to 0, which is the right answer, but never
overflows), and the zero-start local solution :math:`h^{loc}_t` is run step by step for all chunks at
once (``C`` vectorised steps). The chunk start values come from the same scan one level up (a
sequence of ``T / C`` chunk summaries with decay :math:`A_{end}` and input :math:`h^{loc}_{end}`), so
the whole solve needs about ``C + T / C`` vectorised steps instead of ``T``, and finally
:math:`H_t = h^{loc}_t + A_t H_{c_0 - 1}`.

There is no division anywhere: the textbook closed form
:math:`H_t = P_t (h_0 + \sum_s b_s / P_s)` with :math:`P_t = \prod a` underflows :math:`P_t` to 0
(and ``b / P`` to inf/NaN) within a few hundred steps, so it is deliberately not used.

The backward pass is the same scan run backwards in time (custom autograd function):
:math:`G_t = g_t + a_{t+1} G_{t+1}`, :math:`\partial b_t = G_t`,
:math:`\partial \log a_t = G_t a_t H_{t-1}`, :math:`\partial h_0 = a_0 G_0`.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from ..errors import SwiftSpikeError

#: Chunks are never longer than this (the local loop is vectorised over chunks).
MAX_CHUNK = 32


def auto_chunk(T: int) -> int:
    """A chunk length near :math:`\\sqrt{T}`, a power of two in [8, 32] (with the recursive chunk
    level, longer chunks measured slower on CPU)."""
    c = 2 ** round(math.log2(max(math.sqrt(max(T, 1)), 1.0)))
    return int(min(MAX_CHUNK, max(8, c)))


def _scan_forward(log_a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, chunk: int,
                  a: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Forward solve on flat ``[T, M]`` tensors (no autograd bookkeeping); ``a = exp(log_a)`` if known."""
    T, M = b.shape
    if T <= chunk:  # one chunk: plain vectorised loop
        out = torch.empty_like(b)
        a = log_a.exp() if a is None else a
        h = h0
        for t in range(T):
            h = torch.addcmul(b[t], a[t], h, out=out[t])
        return out
    n = -(-T // chunk)
    pad = n * chunk - T
    if pad:
        # log a = 0 (a = 1) and b = 0 keep H constant over the padding, so it cannot disturb anything
        log_a = torch.cat([log_a, log_a.new_zeros(pad, M)])
        b = torch.cat([b, b.new_zeros(pad, M)])
        a = None if a is None else torch.cat([a, a.new_ones(pad, M)])
    la = log_a.view(n, chunk, M)
    bb = b.view(n, chunk, M)
    a = la.exp() if a is None else a.view(n, chunk, M)
    hloc = torch.empty_like(bb)
    hloc[:, 0] = bb[:, 0]
    h = hloc[:, 0]
    for j in range(1, chunk):  # zero-start local solutions of all chunks at once (written in place)
        h = torch.addcmul(bb[:, j], a[:, j], h, out=hloc[:, j])
    cum = la.cumsum(1)  # log-space cumulative decay from each chunk start, always <= 0
    # chunk-level recurrence: E_c = A_end[c] * E_{c-1} + hloc_end[c], E_{-1} = h0
    ends = _scan_forward(cum[:, -1].contiguous(), hloc[:, -1].contiguous(), h0, chunk)
    starts = torch.cat([h0.unsqueeze(0), ends[:-1]])
    A = cum.exp_()  # in place: fewer large temporaries
    H = hloc.addcmul_(A, starts.unsqueeze(1))
    return H.view(n * chunk, M)[:T]


def _scan_reverse(g: torch.Tensor, log_a: torch.Tensor, a: torch.Tensor, chunk: int) -> torch.Tensor:
    r"""Adjoint solve on flat ``[T, M]`` tensors, in original time order (no flips):
    :math:`G_t = a_{t+1} G_{t+1} + g_t`, :math:`G_{T-1} = g_{T-1}`. Chunk-local decays to the chunk end
    are accumulated in log space, :math:`D_t = \exp(\sum_{s=t+1}^{end} \log a_s) \le 1`."""
    T, M = g.shape
    if T <= chunk:
        out = torch.empty_like(g)
        out[T - 1] = g[T - 1]
        G = out[T - 1]
        for t in range(T - 2, -1, -1):
            G = torch.addcmul(g[t], a[t + 1], G, out=out[t])
        return out
    n = -(-T // chunk)
    pad = n * chunk - T
    if pad:  # g = 0 at the end: the padded adjoint stays 0 and cannot leak into real steps
        g = torch.cat([g, g.new_zeros(pad, M)])
        log_a = torch.cat([log_a, log_a.new_zeros(pad, M)])
        a = torch.cat([a, a.new_ones(pad, M)])
    gg = g.view(n, chunk, M)
    la = log_a.view(n, chunk, M)
    aa = a.view(n, chunk, M)
    gloc = torch.empty_like(gg)
    LD = torch.empty_like(gg)
    gloc[:, chunk - 1] = gg[:, chunk - 1]
    G = gloc[:, chunk - 1]
    LD[:, chunk - 1] = 0
    L = LD[:, chunk - 1]
    for j in range(chunk - 2, -1, -1):  # written in place into the strided chunk slices
        G = torch.addcmul(gg[:, j], aa[:, j + 1], G, out=gloc[:, j])
        L = torch.add(L, la[:, j + 1], out=LD[:, j])
    # chunk level: F_c = G at the first step of chunk c,
    # F_c = (D_first(c) a_first(c+1)) F_{c+1} + gloc_first(c); in the shifted convention of this
    # function the coefficient sits at index c+1 with log value LD_first(c) + log a_first(c+1).
    lk = torch.zeros_like(la[:, 0])
    lk[1:] = LD[:-1, 0] + la[1:, 0]
    F = _scan_reverse(gloc[:, 0].contiguous(), lk, lk.exp(), chunk)
    D = LD.exp_()
    carry = torch.zeros_like(F)
    carry[:-1] = aa[1:, 0] * F[1:]  # a_first(c+1) F_{c+1}, zero after the last chunk
    G = gloc.addcmul_(D, carry.unsqueeze(1))
    return G.view(n * chunk, M)[:T]


def scan_backward(g: torch.Tensor, log_a: torch.Tensor, a: torch.Tensor, h0: torch.Tensor, H: torch.Tensor,
                  chunk: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Gradients ``(d log_a, d b, d h0)`` of the scan for output gradient ``g`` (flat ``[T, M]``):
    :math:`G` from :func:`_scan_reverse`, :math:`\partial \log a_t = G_t a_t H_{t-1}`,
    :math:`\partial b = G`, :math:`\partial h_0 = a_0 G_0`."""
    G = _scan_reverse(g, log_a, a, chunk)
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
    log_a: torch.Tensor, b: torch.Tensor, h0: Optional[torch.Tensor] = None, *, chunk: Optional[int] = None
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
    H = _LinearScan.apply(log_a.reshape(T, M).contiguous(), b.reshape(T, M).contiguous(),
                          h0.reshape(M).contiguous(), c)
    return H.view(T, *rest)


def linear_scan_serial(log_a: torch.Tensor, b: torch.Tensor, h0: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Reference: the same recurrence one step at a time (plain autograd)."""
    h = b.new_zeros(b.shape[1:]) if h0 is None else h0
    a = log_a.exp()
    out = []
    for t in range(b.shape[0]):
        h = a[t] * h + b[t]
        out.append(h)
    return torch.stack(out)
