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
MAX_CHUNK = 128


def auto_chunk(T: int) -> int:
    """A chunk length near :math:`\\sqrt{T}` (power of two in [8, 128])."""
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
            h = torch.addcmul(b[t], a[t], h)
            out[t] = h
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
    h = bb[:, 0]
    hloc[:, 0] = h
    for j in range(1, chunk):  # zero-start local solutions of all chunks at once
        h = torch.addcmul(bb[:, j], a[:, j], h)
        hloc[:, j] = h
    cum = la.cumsum(1)  # log-space cumulative decay from each chunk start, always <= 0
    A = cum.exp()
    # chunk-level recurrence: E_c = A_end[c] * E_{c-1} + hloc_end[c], E_{-1} = h0
    ends = _scan_forward(cum[:, -1].contiguous(), hloc[:, -1].contiguous(), h0, chunk)
    starts = torch.cat([h0.unsqueeze(0), ends[:-1]])
    H = torch.addcmul(hloc, A, starts.unsqueeze(1))
    return H.view(n * chunk, M)[:T]


def scan_backward(g: torch.Tensor, log_a: torch.Tensor, a: torch.Tensor, h0: torch.Tensor, H: torch.Tensor,
                  chunk: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients ``(d log_a, d b, d h0)`` of the scan for output gradient ``g`` (flat ``[T, M]``)."""
    # reversed time: G'_k = a_{T-k} G'_{k-1} + g_{T-1-k}
    la_rev = torch.cat([log_a.new_zeros(1, log_a.shape[1]), log_a.flip(0)[:-1]])
    a_rev = torch.cat([a.new_ones(1, a.shape[1]), a.flip(0)[:-1]])
    G = _scan_forward(la_rev, g.flip(0), torch.zeros_like(h0), chunk, a_rev).flip(0)
    H_prev = torch.cat([h0.unsqueeze(0), H[:-1]])
    return G * a * H_prev, G, a[0] * G[0]


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
