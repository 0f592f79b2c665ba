r"""Pure LIF/IF dynamics with explicit state (Norse style).

Discrete leaky integrate-and-fire, resting potential 0, per step ``t``:

.. math::

    h_t &= \beta\, v_{t-1} + x_t, \qquad \beta = e^{-dt/\tau} \quad(\beta = 1 \text{ for IF}) \\
    s_t &= H(h_t - v_\text{threshold}) \\
    v_t &= \begin{cases} h_t (1 - s_t) + v_\text{reset}\, s_t & \text{hard reset} \\
                         h_t - v_\text{threshold}\, s_t & \text{soft reset (subtraction)} \end{cases}

With ``refractory_steps = r > 0`` a neuron that fires is clamped to ``v_reset`` and ignores input
for the next ``r`` steps. ``lif_step`` is the reference (autograd through every op);
``lif_multistep`` runs ``T`` steps and, without refractoriness, uses a fused autograd function with
a hand-written BPTT backward that gives the same values and gradients with far fewer graph nodes.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import torch

from .surrogate import Surrogate


class LIFState(NamedTuple):
    """Membrane ``v`` and remaining refractory steps ``refrac`` (``None`` when unused)."""

    v: torch.Tensor
    refrac: Optional[torch.Tensor] = None


def lif_init_state(like: torch.Tensor, refractory: bool = False) -> LIFState:
    """Zero state shaped like one time step ``like`` (``[B, ...]``)."""
    v = torch.zeros_like(like)
    return LIFState(v, torch.zeros_like(like, dtype=torch.int32) if refractory else None)


def lif_step(
    x: torch.Tensor,
    state: LIFState,
    *,
    beta: "torch.Tensor | float",
    v_threshold: "torch.Tensor | float",
    surrogate: Surrogate,
    v_reset: float = 0.0,
    soft_reset: bool = False,
    refractory_steps: int = 0,
    detach_reset: bool = False,
) -> tuple[torch.Tensor, LIFState]:
    """One LIF step. Returns ``(spikes, new_state)``; see the module docstring for equations."""
    h = beta * state.v + x
    if refractory_steps > 0:
        refrac = state.refrac if state.refrac is not None else torch.zeros_like(x, dtype=torch.int32)
        active = refrac == 0
        h = torch.where(active, h, torch.full_like(h, v_reset))
        s = surrogate(h - v_threshold) * active.to(h.dtype)
    else:
        refrac = None
        s = surrogate(h - v_threshold)
    sr = s.detach() if detach_reset else s
    if soft_reset:
        v = h - v_threshold * sr
    else:
        v = h * (1 - sr) + v_reset * sr
    if refractory_steps > 0:
        fired = s.detach() > 0
        refrac = torch.where(fired, torch.full_like(refrac, refractory_steps), (refrac - 1).clamp(min=0))
    return s, LIFState(v, refrac)


def _as_tensor(value: "torch.Tensor | float", like: torch.Tensor) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(dtype=like.dtype, device=like.device)
    return torch.tensor(float(value), dtype=like.dtype, device=like.device)


class _FusedLIF(torch.autograd.Function):
    """T-step LIF without refractoriness.

    Forward: one sequential loop of ~3 in-place ops per step. Backward: everything that does not
    depend on the recurrence (surrogate derivatives, reset Jacobians, parameter gradients) is
    computed for all steps at once; only the linear adjoint recurrence
    ``g_t = c_t + d_t * g_{t+1}`` runs step by step.
    """

    @staticmethod
    def forward(ctx, x, v0, beta, th, v_reset, soft, detach_reset, surrogate):  # type: ignore[override]
        T = x.shape[0]
        h_all = torch.empty_like(x)
        fired = torch.empty(x.shape, dtype=torch.bool, device=x.device)
        scalar_beta = beta.dim() == 0
        b = float(beta) if scalar_beta else beta
        v = v0
        for t in range(T):
            h = h_all[t]
            if scalar_beta:
                torch.add(x[t], v, alpha=b, out=h)
            else:
                torch.addcmul(x[t], b, v, out=h)
            s = torch.ge(h, th, out=fired[t])
            v = h - th * s if soft else h.masked_fill(s, v_reset)
        ctx.save_for_backward(h_all, v0, beta, th)
        ctx.cfg = (v_reset, soft, detach_reset, surrogate)
        return fired.to(x.dtype), v

    @staticmethod
    def backward(ctx, grad_s, grad_v):  # type: ignore[override]
        h_all, v0, beta, th = ctx.saved_tensors
        v_reset, soft, detach_reset, surrogate = ctx.cfg
        T = h_all.shape[0]
        need_x, need_v0, need_beta, need_th = ctx.needs_input_grad[:4]
        if grad_s is None:
            grad_s = torch.zeros_like(h_all)
        gh = torch.empty_like(h_all)
        g_beta = torch.zeros_like(h_all[0]) if need_beta else None
        g_th = torch.zeros_like(h_all[0]) if need_th else None
        # the adjoint flowing into v_{t1-1} from the step after the current chunk
        g_next_v = grad_v
        # Work backwards in chunks of steps small enough to stay in cache: within a chunk all
        # recurrence-free terms are computed at once, then the linear recurrence runs step by step.
        L = max(1, _CHUNK_ELEMS // max(1, h_all[0].numel()))
        for t1 in range(T, 0, -L):
            t0 = max(0, t1 - L)
            h = h_all[t0:t1]
            s = (h >= th).to(h.dtype)
            sg = surrogate.derivative(h - th)
            if soft:
                dvdh = torch.ones_like(h) if detach_reset else 1.0 - th * sg
            else:
                dvdh = (1.0 - s) if detach_reset else (1.0 - s) + (v_reset - h) * sg
            gs = grad_s[t0:t1]
            c = gs * sg  # direct contribution of each step's spike output
            g_out = gh[t0:t1]
            n = t1 - t0
            g = c[n - 1] if g_next_v is None else torch.addcmul(c[n - 1], g_next_v, dvdh[n - 1])
            g_out[n - 1] = g
            for i in range(n - 2, -1, -1):
                g = torch.addcmul(c[i], dvdh[i] * beta, g, out=g_out[i])
            if need_th:
                # adjoint reaching v_t: from h_{t+1} inside the chunk, from g_next_v at its end
                gv = torch.empty_like(h)
                gv[:-1] = g_out[1:] * beta
                gv[-1] = g_next_v if g_next_v is not None else 0.0
                if soft:
                    dvdth = -s if detach_reset else th * sg - s
                    g_th += (gv * dvdth - gs * sg).sum(0)
                else:
                    g_th += (gv * (h - v_reset) * sg - gs * sg).sum(0) if not detach_reset else (-gs * sg).sum(0)
            if need_beta:
                v_prev = torch.empty_like(h)
                v_prev[0] = v0 if t0 == 0 else _reset_value(h_all[t0 - 1], th, v_reset, soft)
                if n > 1:
                    v_prev[1:] = _reset_value(h[:-1], th, v_reset, soft)
                g_beta += (g_out * v_prev).sum(0)
            g_next_v = g_out[0] * beta
        gb = g_beta.sum_to_size(beta.shape) if need_beta else None
        gt = g_th.sum_to_size(th.shape) if need_th else None
        return (gh if need_x else None), (g_next_v if need_v0 else None), gb, gt, None, None, None, None


_CHUNK_ELEMS = 1 << 17  # elements per backward chunk (~0.5 MB per float32 temporary)


def _reset_value(h: torch.Tensor, th: torch.Tensor, v_reset: float, soft: bool) -> torch.Tensor:
    """Membrane after the threshold/reset of pre-reset potential ``h``."""
    fired = h >= th
    return h - th * fired.to(h.dtype) if soft else h.masked_fill(fired, v_reset)


def lif_multistep(
    x: torch.Tensor,
    state: LIFState,
    *,
    beta: "torch.Tensor | float",
    v_threshold: "torch.Tensor | float",
    surrogate: Surrogate,
    v_reset: float = 0.0,
    soft_reset: bool = False,
    refractory_steps: int = 0,
    detach_reset: bool = False,
    fused: bool = True,
) -> tuple[torch.Tensor, LIFState]:
    """Run ``T = x.shape[0]`` LIF steps over time-major ``x`` (``[T, B, ...]``).

    Equal in values and gradients to looping :func:`lif_step`; ``fused=False`` forces that loop.
    """
    if fused and refractory_steps == 0:
        b = _as_tensor(beta, x)
        th = _as_tensor(v_threshold, x)
        spikes, v = _FusedLIF.apply(x, state.v, b, th, float(v_reset), soft_reset, detach_reset, surrogate)
        return spikes, LIFState(v, None)
    out = []
    for t in range(x.shape[0]):
        s, state = lif_step(
            x[t], state, beta=beta, v_threshold=v_threshold, surrogate=surrogate, v_reset=v_reset,
            soft_reset=soft_reset, refractory_steps=refractory_steps, detach_reset=detach_reset,
        )
        out.append(s)
    return torch.stack(out), state


def li_multistep(x: torch.Tensor, v0: torch.Tensor, beta: "torch.Tensor | float") -> torch.Tensor:
    r"""Non-spiking leaky integrator readout: :math:`v_t = \beta v_{t-1} + x_t`; returns all ``v_t``."""
    out = torch.empty_like(x)
    v = v0
    for t in range(x.shape[0]):
        v = beta * v + x[t]
        out[t] = v
    return out
