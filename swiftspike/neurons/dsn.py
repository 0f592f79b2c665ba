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
log-space chunked scan of :mod:`swiftspike.neurons.scan`; the *serial* path keeps O(1) state per
neuron (``H`` and the last ``k - 1`` inputs) and advances one step at a time. Both give the same
membrane (to float rounding) and the same gradients; state is carried across calls so a long
sequence can be fed in segments. ``1 - a_t`` is computed as ``-expm1(log a_t)``, exact for gates
near 1.

Integer spikes (0..N per step) can be expanded into ``N`` binary slots per step
(:func:`expand_integer_spikes`) so the next layer only accumulates; :func:`spike_time_metrics`
reports both the logical ``T`` and the effective ``T * N``.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import SwiftSpikeError, check_positive, check_positive_int, check_tensor, choose
from .modules import SpikingModule
from .scan import _scan_forward, _scan_reverse, auto_chunk
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


def _view_channels(p: torch.Tensor, ndim: int) -> torch.Tensor:
    """Shape a per-channel vector ``[C]`` (or ``[C, k]``) to broadcast over ``[B, C, ...]``."""
    return p.reshape(*p.shape[:1], *([1] * (ndim - 2)), *p.shape[1:]) if p.dim() == 1 else p


def dsn_log_decay(x_pad: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, tau: float) -> torch.Tensor:
    r""":math:`\log a_t = \tfrac1\tau \log\sigma(a'_t)` for all ``t``.

    ``x_pad`` is ``[k - 1 + T, B, C, ...]`` (the ``k - 1`` earlier inputs first), ``weight`` ``[C, k]``,
    ``bias`` ``[C]``; returns ``[T, B, C, ...]``.
    """
    k = weight.shape[1]
    T = x_pad.shape[0] - (k - 1)
    extra = x_pad.dim() - 3  # dims after the channel axis
    w = weight.reshape(weight.shape[0], *([1] * extra), k)
    pre = bias.reshape(bias.shape[0], *([1] * extra))
    for j in range(k):
        pre = pre + w[..., j] * x_pad[j:j + T]
    return F.logsigmoid(pre) / tau


def dsn_step(
    x: torch.Tensor, state: DSNState, *, weight: torch.Tensor, bias: torch.Tensor, tau: float
) -> tuple[torch.Tensor, DSNState]:
    """One serial DSN step on ``x`` (``[B, C, ...]``): returns ``(H_t, new_state)``."""
    xp = torch.cat([state.window, x.unsqueeze(0)])
    log_a = dsn_log_decay(xp, weight, bias, tau)[0]
    h = log_a.exp() * state.h - torch.expm1(log_a) * x
    return h, DSNState(h, xp[1:])


class _DSNParallel(torch.autograd.Function):
    r"""Gate convolution, decay and chunked scan fused into one autograd node.

    Backward: with :math:`G` the reverse-scan adjoint (:func:`~swiftspike.neurons.scan.scan_backward`),
    :math:`\partial b = G`, :math:`\partial \log a = G a H_{t-1} - \partial b\, a X`,
    :math:`\partial a' = \partial \log a \,(1 - \sigma(a'))/\tau`, then the transposed conv."""

    @staticmethod
    def forward(ctx, x, window, weight, bias, h0, tau, chunk):  # type: ignore[override]
        xp = torch.cat([window, x])
        k = weight.shape[1]
        T = x.shape[0]
        cshape = (weight.shape[0], *([1] * (xp.dim() - 3)))
        pre = torch.mul(xp[0:T], weight[:, 0].reshape(cshape))
        for j in range(1, k):  # causal depthwise conv, in place (no autograd inside forward)
            pre.addcmul_(xp[j:j + T], weight[:, j].reshape(cshape))
        pre += bias.reshape(cshape)
        log_a = F.logsigmoid(pre).mul_(1.0 / tau)
        del pre
        a = log_a.exp()
        omb = torch.expm1(log_a).neg_()  # 1 - a, exact near a = 1
        b = omb * x
        c = auto_chunk(T) if chunk is None else chunk
        H = _scan_forward(log_a.view(T, -1), b.view(T, -1), h0.reshape(-1), c, a.view(T, -1)).view(x.shape)
        ctx.save_for_backward(xp, log_a, a, omb, h0, H, weight)
        ctx.cfg = (tau, c)
        return H

    @staticmethod
    def backward(ctx, gH):  # type: ignore[override]
        xp, log_a, a, omb, h0, H, weight = ctx.saved_tensors
        tau, c = ctx.cfg
        T = H.shape[0]
        k = weight.shape[1]
        x = xp[k - 1:]
        G = _scan_reverse(gH.reshape(T, -1).contiguous(), log_a.view(T, -1), a.view(T, -1), c).view(H.shape)
        g_h0 = a[0] * G[0]
        g_x = G * omb
        # d/d pre = G a (H_{t-1} - X_t) (1 - sigmoid(pre)) / tau, with 1 - sigmoid(pre) = -expm1(tau log a)
        g_pre = torch.empty_like(H)
        g_pre[0] = h0 - x[0]
        torch.sub(H[:-1], x[1:], out=g_pre[1:])
        g_pre.mul_(G).mul_(a).mul_(torch.mul(log_a, tau).expm1_()).mul_(-1.0 / tau)
        cshape = (weight.shape[0], *([1] * (xp.dim() - 3)))
        g_w = torch.empty_like(weight)
        g_win = torch.zeros_like(xp[:k - 1])
        tmp = torch.empty_like(g_pre)
        for j in range(k):
            wj = weight[:, j].reshape(cshape)
            # input x_s feeds pre_t at t = s - j + k - 1
            lo = k - 1 - j  # steps t < lo of this tap read the carried window, t >= lo read x
            if T > lo:
                g_x[: T - lo].addcmul_(g_pre[lo:], wj)
            m = min(lo, T)
            if m:
                g_win[j:j + m].addcmul_(g_pre[:m], wj)
            g_w[:, j] = torch.mul(g_pre, xp[j:j + T], out=tmp).sum_to_size(cshape).reshape(-1)
        g_bias = g_pre.sum_to_size(cshape).reshape(-1)
        return g_x, g_win, g_w, g_bias, g_h0.view(h0.shape), None, None


def dsn_membrane(
    x: torch.Tensor, state: DSNState, *, weight: torch.Tensor, bias: torch.Tensor, tau: float,
    chunk: Optional[int] = None,
) -> tuple[torch.Tensor, DSNState]:
    """Parallel DSN membrane for all ``T`` steps of ``x`` (``[T, B, C, ...]``) via the chunked scan
    (one fused autograd node; same values and gradients as :func:`dsn_membrane_serial`)."""
    H = _DSNParallel.apply(x, state.window, weight, bias, state.h, float(tau), chunk)
    k = weight.shape[1]
    window = torch.cat([state.window, x])[-(k - 1):] if k > 1 else state.window
    return H, DSNState(H[-1], window)


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
    return {"logical_T": T, "effective_T": T * int(n_max), "slots_per_step": int(n_max),
            "binary_events": float(s.sum()), "samples": int(s.shape[1]) if s.dim() > 1 else 1}


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
    """

    def __init__(
        self,
        channels: Optional[int] = None,
        kernel_size: int = 4,
        tau: float = 0.25,
        mode: str = "integer",
        n_max: int = 4,
        v_threshold: float = 0.5,
        surrogate: "str | Surrogate | None" = "atan",
        path: str = "parallel",
        backend: str = "torch",
        chunk: Optional[int] = None,
        gate_bias: float = 1.0,
        step_mode: str = "m",
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
        bound = 1.0 / self.kernel_size ** 0.5
        self.weight = nn.Parameter(torch.empty(c, self.kernel_size).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.full((c,), float(gate_bias)))
        self.state: Optional[DSNState] = None

    def reset_state(self) -> None:
        self.state = None

    def _params(self, like: torch.Tensor, channel_axis: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.channels is not None:
            if like.dim() <= channel_axis or like.shape[channel_axis] != self.channels:
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
            return self.surrogate(h - self.v_threshold)
        return integer_spike(h, self.n_max)

    def membrane(self, x: torch.Tensor, path: Optional[str] = None) -> torch.Tensor:
        """Membrane ``H`` for multi-step ``x`` (``[T, B, C, ...]``), updating the carried state."""
        check_tensor(x, "neuron input", min_ndim=2, finite=False)
        if x.shape[0] == 0:
            raise SwiftSpikeError("neuron input has T=0 time steps; T must be >= 1")
        x3 = x if x.dim() >= 3 else x.unsqueeze(-1)  # [T, B] -> one channel
        w, b = self._params(x3, 2)
        state = self._init(x3[0])
        p = choose("DSN path", path or self.path, ("parallel", "serial"))
        if p == "parallel":
            H, self.state = dsn_membrane(x3, state, weight=w, bias=b, tau=self.tau, chunk=self.chunk)
        else:
            H, self.state = dsn_membrane_serial(x3, state, weight=w, bias=b, tau=self.tau)
        return H.reshape(x.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            check_tensor(x, "neuron input", min_ndim=1, finite=False)
            x2 = x if x.dim() >= 2 else x.unsqueeze(-1)
            w, b = self._params(x2, 1)
            h, self.state = dsn_step(x2, self._init(x2), weight=w, bias=b, tau=self.tau)
            return self.spikes(h.reshape(x.shape))
        return self.spikes(self.membrane(x))

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, kernel_size={self.kernel_size}, tau={self.tau:g}, mode={self.mode}, "
                f"n_max={self.n_max}, path={self.path}, backend={self.backend}")
