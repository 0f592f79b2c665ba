r"""Dynamic-decay spiking neuron (DSN): parallel training, serial inference.

Per channel, with :math:`X_t` the input current after the synaptic layer:

.. math::

    a'_t &= \beta + \sum_{j=0}^{k-1} w_j X_{t-k+1+j}
        \qquad\text{(causal depthwise conv1d over time, kernel } k = 4\text{, with bias } \beta) \\
    a_t &= \sigma(a'_t)^{1/\tau}, \qquad \log a_t = \tfrac{1}{\tau} \log\sigma(a'_t) \\
    H_t &= a_t H_{t-1} + (1 - a_t) X_t \qquad\text{(no reset: } a_t \to 0 \text{ acts as a reset)} \\
    S_t &= \mathrm{clip}(\mathrm{round}(H_t), 0, N)
        \qquad\text{integer mode (straight-through gradient on } [0, N]) \\
    S_t &= \Theta(H_t - v_\text{threshold}) \qquad\text{binary mode, } N = 1 \text{ (ATan surrogate)}

Because the decay depends on the input only (never on :math:`H` or :math:`S`), :math:`H` is a linear
recurrence with known coefficients: the *parallel* path solves it for all ``T`` at once with the
chunked scan of :mod:`swiftspike.neurons.scan`, block by block over time in one fused autograd node
that keeps only the input and ``H`` for backward (the gate is recomputed); the *serial* path keeps
O(1) state per neuron (``H`` and the last ``k - 1`` inputs) and advances one step at a time. Both
give the same membrane (to float rounding) and the same gradients; state is carried across calls so
a long sequence can be fed in segments. The gate is evaluated by :func:`dsn_gate` with ``1 - a_t``
exact for gates near 1 and ``a_t`` exact for gates near 0; the membrane update is written
``H + (1 - a)(X - H)`` so no step loses the small ``1 - a``. NaN/inf in the input (or state, or
gate) raises :class:`~swiftspike.errors.SwiftSpikeError` instead of reaching the spikes.

Integer spikes (0..N per step) can be expanded into ``N`` binary slots per step
(:func:`expand_integer_spikes`) so the next layer only accumulates; :func:`spike_time_metrics`
reports both the logical ``T`` and the effective ``T * N``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..errors import SwiftSpikeError, check_positive, check_positive_int, check_tensor, choose
from .functional import fire
from .modules import SpikingModule
from .scan import auto_chunk, block_rows, scan_block, scan_block_reverse
from .surrogate import Surrogate, get_surrogate

BACKENDS = ("torch", "triton")


class DSNState(NamedTuple):
    """``h``: membrane ``[B, ...]``; ``window``: the last ``k - 1`` inputs ``[k-1, B, ...]``
    (oldest first; zeros before the sequence started)."""

    h: torch.Tensor
    window: torch.Tensor


class _IntegerSpike(torch.autograd.Function):
    """``clip(round(h), 0, N)`` forward; straight-through (1 on [0, N], 0 outside) backward."""

    @staticmethod
    def forward(ctx, h, n_max):  # type: ignore[override]
        ctx.save_for_backward(h)
        ctx.n_max = n_max
        return torch.clamp(torch.round(h), 0.0, float(n_max))

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        (h,) = ctx.saved_tensors
        inside = (h >= 0).logical_and_(h <= ctx.n_max)
        return torch.where(inside, g, 0.0), None


def integer_spike(h: torch.Tensor, n_max: int = 4) -> torch.Tensor:
    """Integer spikes :math:`\\mathrm{clip}(\\mathrm{round}(h), 0, N)` with a straight-through
    rectangular gradient on ``[0, N]``."""
    return _IntegerSpike.apply(h, int(n_max))


def dsn_flat_params(
    weight: torch.Tensor, bias: torch.Tensor, step_shape: torch.Size
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gate kernel ``[C, k]`` and bias ``[C]`` spread over one flattened step of shape ``step_shape``
    (``[B, C, ...]``, channels on axis 1, or one shared channel): ``([k, M], [M])`` with
    ``M = prod(step_shape)``."""
    k = weight.shape[1]
    cshape = (1, weight.shape[0], *([1] * (len(step_shape) - 2)))
    w = weight.t().reshape(k, *cshape).expand(k, *step_shape).reshape(k, -1)
    return w, bias.reshape(cshape).expand(step_shape).reshape(-1)


def dsn_preactivation(
    x_pad: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, out: torch.Tensor | None = None
) -> torch.Tensor:
    r"""Gate pre-activation :math:`a'_t = \beta + \sum_j w_j X_{t-k+1+j}` (causal depthwise conv) on
    flattened steps: ``x_pad`` ``[k - 1 + T, M]`` (the ``k - 1`` earlier inputs first), ``weight``
    ``[k, M]`` and ``bias`` ``[M]`` from :func:`dsn_flat_params`; returns ``[T, M]``, written into
    ``out`` when given (differentiable when it is not)."""
    k = weight.shape[0]
    T = x_pad.shape[0] - (k - 1)
    pre = torch.addcmul(bias, x_pad[0:T], weight[0], out=out)
    for j in range(1, k):
        pre = pre.addcmul_(x_pad[j : j + T], weight[j])
    return pre


def _integer_power(tau: float) -> int | None:
    """``1 / tau`` when it is a whole number in 1..16, else ``None``."""
    p = 1.0 / tau
    n = round(p)
    return n if 1 <= n <= 16 and abs(p - n) <= 1e-9 * p else None


def dsn_gate(
    u: torch.Tensor, tau: float, s: torch.Tensor | None = None, out: tuple | None = None, need_a: bool = True
) -> tuple[torch.Tensor | None, torch.Tensor]:
    r"""Decay ``a`` and ``1 - a`` from :math:`u = 1 - \sigma(a') = \sigma(-a')` (and, for ``a``,
    :math:`s = \sigma(a')`), with :math:`a = \sigma(a')^{1/\tau}`. Both stay accurate where they are
    tiny: ``1 - a`` for gates near 1, ``a`` (given ``s``) for gates near 0.

    For a whole :math:`p = 1/\tau` (the default ``tau = 0.25`` gives ``p = 4``): :math:`a = s^p` and
    :math:`1 - a = u (1 + s + \dots + s^{p-1})`, for ``p`` a power of two as
    :math:`u (1 + s)(1 + s^2)(1 + s^4)\cdots`; no logarithm and no exponential beyond the sigmoid.
    Otherwise :math:`\log a = p \log s` and :math:`1 - a = -\mathrm{expm1}(p\,\mathrm{log1p}(-u))`.
    Without ``s``, ``1 - u`` stands in for it (exact enough for ``1 - a``, not for a tiny ``a``).
    ``out``: buffers shaped like ``u`` for ``a`` (``s`` may already live there; it is overwritten) and
    ``1 - a``; without them the result is differentiable. ``need_a=False`` skips ``a`` (``None``)."""
    w_a, w_omb = (None, None) if out is None else out
    n = _integer_power(tau)
    if n is None:
        omb = torch.neg(torch.expm1(torch.log1p(-u) * (1.0 / tau), out=w_omb), out=w_omb)
        if not need_a:
            return None, omb
        log_s = torch.log(s) if s is not None else torch.log1p(-u)
        return torch.exp(log_s * (1.0 / tau), out=w_a), omb
    if s is None:
        s = torch.neg(u, out=w_a).add_(1.0)
    if n & (n - 1) == 0:  # p = 2^k: 1 - s^p = (1 - s)(1 + s)(1 + s^2)...(1 + s^(p/2))
        q = torch.add(s, 1.0, out=w_omb) if n > 1 else torch.ones_like(u)
        cur, m = s, 2
        while m < n:
            cur = torch.mul(cur, cur, out=w_a)
            q = torch.addcmul(q, q, cur, out=w_omb)  # q (1 + cur)
            m *= 2
        omb = torch.mul(q, u, out=w_omb)
        return (torch.mul(cur, cur, out=w_a) if n > 1 else cur) if need_a else None, omb
    q = torch.add(s, 1.0, out=w_omb)  # 1 + s + ... + s^(n-1), Horner
    for _ in range(n - 2):
        q = torch.mul(q, s, out=w_omb).add_(1.0)
    omb = torch.mul(q, u, out=w_omb)
    return (torch.pow(s, n) if need_a else None), omb


def dsn_step(
    x: torch.Tensor, state: DSNState, *, weight: torch.Tensor, bias: torch.Tensor, tau: float
) -> tuple[torch.Tensor, DSNState]:
    """One serial DSN step on ``x`` (``[B, C, ...]``): returns ``(H_t, new_state)``."""
    xp = torch.cat([state.window, x.unsqueeze(0)])
    w, b = dsn_flat_params(weight, bias, x.shape)
    pre = dsn_preactivation(xp.reshape(xp.shape[0], -1), w, b)[0].view(x.shape)
    _, omb = dsn_gate(torch.sigmoid(-pre), tau, need_a=False)
    h = state.h + omb * (x - state.h)  # a h + (1 - a) x, exact for a near 1
    return h, DSNState(h, xp[1:])


def _padded_rows(x: torch.Tensor, window: torch.Tensor, t0: int, t1: int) -> torch.Tensor:
    """Input rows ``[t0 - k + 1, t1)``, the carried window standing in before ``t = 0`` (a view of ``x``
    except in the first block)."""
    lo = t0 - window.shape[0]
    return x[lo:t1] if lo >= 0 else torch.cat([window[window.shape[0] + lo :], x[:t1]])


class _DSNParallel(torch.autograd.Function):
    r"""Gate convolution, gate and chunked scan fused into one autograd node, run block by block over
    time (:func:`~swiftspike.neurons.scan.block_rows`) in one set of block-sized buffers per call,
    on flattened steps ``[T, M]``.

    Only the input, the carried state and ``H`` are kept for backward; the gate is recomputed per
    block from the input. Backward, from the last block to the first: :math:`G` from
    :func:`~swiftspike.neurons.scan.scan_block_reverse`,
    :math:`\partial X_t = G_t (1 - a_t) + \sum_j w_j \partial a'_{t+k-1-j}`,
    :math:`\partial a'_t = G_t (H_{t-1} - X_t)\, a_t \sigma(-a'_t) / \tau`, :math:`\partial h_0 = a_0 G_0`."""

    @staticmethod
    def forward(ctx, x, window, weight, bias, h0, tau, chunk, n_max):  # type: ignore[override]
        ctx.set_materialize_grads(False)
        x = x.contiguous()
        T = x.shape[0]
        M = x[0].numel()
        xf = x.view(T, M)
        wf = window.reshape(window.shape[0], M)
        c = auto_chunk(T) if chunk is None else chunk
        R = block_rows(T, M, c, min_rows=weight.shape[1] - 1, max_share=8)
        nw, nb = dsn_flat_params(-weight, -bias, x.shape[1:])  # the conv gives -a' directly
        H = torch.empty_like(x)
        Hf = H.view(T, M)
        S = torch.empty_like(x) if n_max else H
        Sf = S.view(T, M)
        bm = x.new_empty(R, 2, M)  # (b, m = 1 - a), the scan's input
        work = x.new_empty(R, 3, M)  # the scan's; before it, sigma(-a') and sigma(a') of the gate
        buf = work.view(-1)[: 2 * R * M].view(2, R, M)
        h = h0.reshape(M)
        for t0 in range(0, T, R):
            t1 = min(T, t0 + R)
            L = t1 - t0
            u = torch.sigmoid(dsn_preactivation(_padded_rows(xf, wf, t0, t1), nw, nb, out=buf[0, :L]), out=buf[0, :L])
            _, omb = dsn_gate(u, tau, out=(buf[1, :L], bm[:L, 1]), need_a=False)
            torch.mul(omb, xf[t0:t1], out=bm[:L, 0])  # b = (1 - a) X
            h = scan_block(bm[:L], h, Hf[t0:t1], c, work)
            if n_max:  # integer spikes while the block is in cache
                torch.round(Hf[t0:t1], out=Sf[t0:t1]).clamp_(0.0, float(n_max))
        ctx.save_for_backward(x, window, weight, bias, h0, H)
        ctx.cfg = (tau, c, R, n_max)
        return S, H[-1].clone()

    @staticmethod
    def backward(ctx, g_out, g_last):  # type: ignore[override]
        x, window, weight, bias, h0, H = ctx.saved_tensors
        tau, c, R, n_max = ctx.cfg
        T = x.shape[0]
        M = x[0].numel()
        k = weight.shape[1]
        xf, Hf = x.view(T, M), H.view(T, M)
        wf = window.reshape(k - 1, M)
        nw, nb = dsn_flat_params(-weight, -bias, x.shape[1:])
        w_tau = nw * (-1.0 / tau)  # the kernel, with the 1/tau of d a / d a' folded in
        g_x = torch.empty_like(x)
        gxf = g_x.view(T, M)
        g_wf = xf.new_zeros(k, R, M)  # per tap, row and element of a step; summed at the end
        g_bf = xf.new_zeros(M)
        g_win = torch.zeros_like(window)
        g_winf = g_win.view(k - 1, M)
        buf = x.new_empty(2, R, M)  # sigma(-a'), a
        # row r holds (g_{r-1}, m_r): rows 1..L are the reverse scan's (g_t, m_{t+1}); column 1 of rows
        # 0..L-1 is m = 1 - a of the block in order
        z = x.new_empty(R + 1, 2, M)
        work = x.new_empty(R, 3, M)
        mask = torch.empty(2, R, M, dtype=torch.bool, device=x.device) if n_max else None
        zero = x.new_zeros(())
        halo: torch.Tensor | None = None  # conv-transpose terms for the last k - 1 rows of the block before
        carry = xf.new_zeros(M)  # a_{t1} G_{t1} from the block after
        for t0 in range(R * ((T - 1) // R), -1, -R):
            t1 = min(T, t0 + R)
            L = t1 - t0
            xp = _padded_rows(xf, wf, t0, t1)
            npre = dsn_preactivation(xp, nw, nb, out=buf[0, :L])  # -a'
            s = torch.sigmoid(torch.neg(npre, out=buf[1, :L]), out=buf[1, :L])
            u = torch.sigmoid(npre, out=npre)
            a, omb = dsn_gate(u, tau, s=s, out=(buf[1, :L], z[:L, 1]))
            z[L, 1] = 0
            gH = z[1 : L + 1, 0]  # dLoss/dH of the block: from the spikes (straight-through) or H itself
            if g_out is None:
                gH.zero_()
            elif mask is not None:  # n_max
                inside = torch.ge(Hf[t0:t1], 0.0, out=mask[0, :L]).logical_and_(
                    torch.le(Hf[t0:t1], float(n_max), out=mask[1, :L])
                )
                torch.where(inside, g_out[t0:t1].reshape(L, M), zero, out=gH)
            else:
                gH.copy_(g_out[t0:t1].reshape(L, M))
            if t1 == T and g_last is not None:  # through the carried state
                gH[L - 1] += g_last.reshape(M)
            carry = scan_block_reverse(z[1 : L + 1], z[0, 1], carry, gxf[t0:t1], c, work)
            G = gxf[t0:t1]
            hp = Hf[t0 - 1 : t1 - 1] if t0 > 0 else torch.cat([h0.reshape(1, M), Hf[: t1 - 1]])
            scratch = work.view(-1)[: L * M].view(1, L, M)
            # tau d/d a' = G (H_{t-1} - X_t) a (1 - sigmoid(a'))
            assert a is not None  # dsn_gate computed it (need_a)
            g_pre = torch.sub(hp, xf[t0:t1], out=scratch[0]).mul_(G).mul_(a).mul_(u)
            G.mul_(omb)  # G (1 - a): the direct part of d/dX, in place
            if halo is not None:
                G[L - (k - 1) :] += halo
            # conv transpose: X at position s feeds a'_t for t = s + k - 1 - j through tap j
            halo = xf.new_zeros(k - 1, M) if t0 > 0 else g_winf
            for j in range(k):
                lo = k - 1 - j  # rows r < lo of this tap read inputs before the block
                if lo < L:
                    G[: L - lo].addcmul_(g_pre[lo:], w_tau[j])
                m = min(lo, L)
                if m:
                    halo[j : j + m].addcmul_(g_pre[:m], w_tau[j])
            # weight gradients: tap j pairs g_pre_t with X_{t-k+1+j}: the k shifted windows of xp as one view
            g_wf[:, :L].addcmul_(xp.as_strided((k, L, M), (M, M, 1), xp.storage_offset()), g_pre)
            g_bf += g_pre.sum(0)
        cshape = (1, weight.shape[0], *([1] * (x.dim() - 3)))  # one step [B, C, ...] summed to [1, C, 1...]
        g_wf = g_wf.sum(1).mul_(1.0 / tau)
        g_w = g_wf.view(k, *x.shape[1:]).sum_to_size(k, *cshape).reshape(k, -1).t().contiguous()
        g_bias = g_bf.mul_(1.0 / tau).view(x.shape[1:]).sum_to_size(cshape).reshape(-1)
        return g_x, g_win, g_w, g_bias, carry.view(h0.shape), None, None, None


def dsn_membrane(
    x: torch.Tensor,
    state: DSNState,
    *,
    weight: torch.Tensor,
    bias: torch.Tensor,
    tau: float,
    chunk: int | None = None,
) -> tuple[torch.Tensor, DSNState]:
    """Parallel DSN membrane for all ``T`` steps of ``x`` (``[T, B, C, ...]``) via the chunked scan
    (one fused autograd node; same values and gradients as :func:`dsn_membrane_serial`)."""
    H, h = _DSNParallel.apply(x, state.window, weight, bias, state.h, float(tau), chunk, 0)
    return H, DSNState(h, _next_window(state.window, x))


def dsn_integer_spikes(
    x: torch.Tensor,
    state: DSNState,
    *,
    weight: torch.Tensor,
    bias: torch.Tensor,
    tau: float,
    n_max: int,
    chunk: int | None = None,
) -> tuple[torch.Tensor, DSNState]:
    """``integer_spike(dsn_membrane(x, ...), n_max)`` in one fused node: the same spikes and gradients
    without a second pass (and its temporaries) over ``[T, ...]``."""
    S, h = _DSNParallel.apply(x, state.window, weight, bias, state.h, float(tau), chunk, int(n_max))
    return S, DSNState(h, _next_window(state.window, x))


def _next_window(window: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The last ``k - 1`` inputs after ``x`` (without copying all of ``x``)."""
    n = window.shape[0]
    if n == 0:
        return window
    if x.shape[0] >= n:
        return x[x.shape[0] - n :].clone()  # a copy, so the state does not keep all of x alive
    return torch.cat([window[x.shape[0] :], x])


def dsn_membrane_serial(
    x: torch.Tensor, state: DSNState, *, weight: torch.Tensor, bias: torch.Tensor, tau: float
) -> tuple[torch.Tensor, DSNState]:
    """The same as :func:`dsn_membrane` with a loop of :func:`dsn_step` (reference / inference)."""
    out = []
    for t in range(x.shape[0]):
        h, state = dsn_step(x[t], state, weight=weight, bias=bias, tau=tau)
        out.append(h)
    return torch.stack(out), state


def expand_integer_spikes(s: torch.Tensor, n_max: int) -> torch.Tensor:
    """Integer spikes ``[T, B, ...]`` in 0..N -> binary ``[T * N, B, ...]``: step ``t`` becomes ``N``
    slots ``t*N + j`` holding ``1`` when ``S_t > j`` (so a count of ``m`` fires the first ``m`` slots)."""
    check_positive_int(n_max, "n_max")
    slots = torch.arange(n_max, device=s.device, dtype=s.dtype).reshape(1, n_max, *([1] * (s.dim() - 1)))
    return (s.unsqueeze(1) > slots).to(s.dtype).flatten(0, 1)


def spike_time_metrics(s: torch.Tensor, n_max: int) -> dict:
    """Logical ``T``, effective ``T * N`` and the number of binary events of integer spikes ``[T, B, ...]``."""
    T = int(s.shape[0])
    return {
        "logical_T": T,
        "effective_T": T * int(n_max),
        "slots_per_step": int(n_max),
        "binary_events": float(s.sum()),
        "samples": int(s.shape[1]) if s.dim() > 1 else 1,
    }


class DSN(SpikingModule):
    r"""Dynamic-decay spiking neuron layer (see the module docstring for the equations).

    Args:
        channels: number of channels (axis 2 of ``[T, B, C, ...]``, axis 1 in single-step mode) that
            get their own gate kernel; ``None`` shares one kernel across all channels.
        kernel_size: ``k`` of the causal gate convolution (4).
        tau: gate sharpness, :math:`a = \sigma(a')^{1/\tau}` (0.25).
        mode: ``'integer'`` (``N = n_max``) or ``'binary'`` (``N = 1``, threshold ``v_threshold``).
        n_max: largest integer spike ``N`` (4).
        v_threshold: threshold of the binary mode.
        surrogate: surrogate of the binary mode (ATan).
        path: ``'parallel'`` (scan; default for multi-step input) or ``'serial'`` (step loop).
        backend: ``'torch'`` (pure PyTorch, always available). ``'triton'`` is reserved for a CUDA
            kernel that this build does not ship, so selecting it raises instead of silently falling back.
        chunk: scan chunk length (default about sqrt(T)).
        gate_bias: initial gate bias (default 1.0, i.e. :math:`a \approx 0.3` for zero input).
        step_mode: ``'m'`` (``[T, B, ...]``) or ``'s'`` (``[B, ...]``, always serial).
        check_finite: raise :class:`~swiftspike.errors.SwiftSpikeError` when the input (or state, or
            gate) puts NaN/inf into the membrane; one check of the final ``[B, ...]`` state per call
            (skipped under ``torch.compile``). ``False`` skips it (e.g. to avoid a device sync per step).
    """

    def __init__(
        self,
        channels: int | None = None,
        kernel_size: int = 4,
        tau: float = 0.25,
        mode: str = "integer",
        n_max: int = 4,
        v_threshold: float = 0.5,
        surrogate: str | Surrogate | None = "atan",
        path: str = "parallel",
        backend: str = "torch",
        chunk: int | None = None,
        gate_bias: float = 1.0,
        step_mode: str = "m",
        check_finite: bool = True,
    ) -> None:
        super().__init__(step_mode)
        self.mode = choose("DSN mode", mode, ("integer", "binary"))
        self.path = choose("DSN path", path, ("parallel", "serial"))
        self.backend = choose("DSN backend", backend, BACKENDS)
        if self.backend == "triton":
            raise SwiftSpikeError("the triton DSN backend is not included in this build; use backend='torch'")
        self.kernel_size = check_positive_int(kernel_size, "kernel_size")
        self.tau = check_positive(tau, "tau")
        self.n_max = 1 if self.mode == "binary" else check_positive_int(n_max, "n_max")
        self.v_threshold = float(v_threshold)
        self.surrogate = get_surrogate(surrogate)
        self.chunk = None if chunk is None else check_positive_int(chunk, "chunk")
        self.channels = None if channels is None else check_positive_int(channels, "channels")
        c = self.channels or 1
        bound = 1.0 / self.kernel_size**0.5
        self.weight = nn.Parameter(torch.empty(c, self.kernel_size).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.full((c,), float(gate_bias)))
        self.check_finite = bool(check_finite)
        self.state: DSNState | None = None

    def reset_state(self) -> None:
        self.state = None

    def _params(self, like: torch.Tensor, channel_axis: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.channels is not None and (like.dim() <= channel_axis or like.shape[channel_axis] != self.channels):
            raise SwiftSpikeError(
                f"DSN built for {self.channels} channels got input of shape {tuple(like.shape)} "
                f"(channels are axis {channel_axis})"
            )
        return self.weight.to(like.dtype), self.bias.to(like.dtype)

    def _init(self, step: torch.Tensor) -> DSNState:
        if self.state is not None:
            if self.state.h.shape != step.shape:
                raise SwiftSpikeError(
                    f"DSN got input of per-step shape {tuple(step.shape)} but holds state of shape "
                    f"{tuple(self.state.h.shape)}; call swiftspike.reset(net) between sequences"
                )
            return self.state
        return DSNState(torch.zeros_like(step), step.new_zeros(self.kernel_size - 1, *step.shape))

    def spikes(self, h: torch.Tensor) -> torch.Tensor:
        """Spikes from membrane values."""
        if self.mode == "binary":
            return fire(h, self.v_threshold, self.surrogate)
        return integer_spike(h, self.n_max)

    def _check_finite(self, h: torch.Tensor, x: torch.Tensor) -> None:
        """One cheap check per call: NaN/inf anywhere in the input reaches the final membrane (a
        non-finite ``H`` stays non-finite through ``a H + (1 - a) X``), so only ``[B, ...]`` values are
        looked at; the diagnosis below runs on failure only. Skipped while compiling."""
        if not self.check_finite or torch.compiler.is_compiling() or bool(torch.isfinite(h).all()):
            return
        if not bool(torch.isfinite(x).all()):
            raise SwiftSpikeError("DSN input contains NaN or inf values")
        if not (bool(torch.isfinite(self.weight).all()) and bool(torch.isfinite(self.bias).all())):
            raise SwiftSpikeError("DSN gate weight or bias contains NaN or inf values (training diverged?)")
        if self.state is not None and not bool(torch.isfinite(self.state.h).all()):
            raise SwiftSpikeError("DSN carried state contains NaN or inf values; call swiftspike.reset(net)")
        raise SwiftSpikeError("DSN membrane became NaN or inf (input values too large for the gate convolution)")

    def _run(self, x: torch.Tensor, path: str | None, spikes: bool) -> torch.Tensor:
        check_tensor(x, "neuron input", min_ndim=2, finite=False)
        if x.shape[0] == 0:
            raise SwiftSpikeError("neuron input has T=0 time steps; T must be >= 1")
        x3 = x if x.dim() >= 3 else x.unsqueeze(-1)  # [T, B] -> one channel
        w, b = self._params(x3, 2)
        state = self._init(x3[0])
        p = choose("DSN path", path or self.path, ("parallel", "serial"))
        if p == "parallel" and spikes and self.mode == "integer":
            out, new = dsn_integer_spikes(x3, state, weight=w, bias=b, tau=self.tau, n_max=self.n_max, chunk=self.chunk)
        else:
            if p == "parallel":
                out, new = dsn_membrane(x3, state, weight=w, bias=b, tau=self.tau, chunk=self.chunk)
            else:
                out, new = dsn_membrane_serial(x3, state, weight=w, bias=b, tau=self.tau)
            out = self.spikes(out) if spikes else out
        self._check_finite(new.h, x)
        self.state = new
        return out.reshape(x.shape)

    def membrane(self, x: torch.Tensor, path: str | None = None) -> torch.Tensor:
        """Membrane ``H`` for multi-step ``x`` (``[T, B, C, ...]``), updating the carried state."""
        return self._run(x, path, spikes=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            check_tensor(x, "neuron input", min_ndim=1, finite=False)
            x2 = x if x.dim() >= 2 else x.unsqueeze(-1)
            w, b = self._params(x2, 1)
            h, new = dsn_step(x2, self._init(x2), weight=w, bias=b, tau=self.tau)
            self._check_finite(h, x)
            self.state = new
            return self.spikes(h.reshape(x.shape))
        return self._run(x, None, spikes=True)

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, kernel_size={self.kernel_size}, tau={self.tau:g}, mode={self.mode}, "
            f"n_max={self.n_max}, path={self.path}, backend={self.backend}"
        )
