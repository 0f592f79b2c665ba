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
    """T-step LIF without refractoriness; backward is explicit BPTT over the stored ``h``."""

    @staticmethod
    def forward(ctx, x, v0, beta, th, v_reset, soft, detach_reset, surrogate):  # type: ignore[override]
        T = x.shape[0]
        h_all = torch.empty_like(x)
        spikes = torch.empty_like(x)
        v = v0
        for t in range(T):
            h = torch.addcmul(x[t], beta, v) if beta.dim() else torch.add(x[t], v, alpha=float(beta))
            h_all[t] = h
            s = h >= th
            spikes[t] = s
            if soft:
                v = h - th * spikes[t]
            else:
                v = torch.where(s, v_reset, h)
        ctx.save_for_backward(h_all, v0, beta, th)
        ctx.cfg = (v_reset, soft, detach_reset, surrogate)
        return spikes, v

    @staticmethod
    def backward(ctx, grad_s, grad_v):  # type: ignore[override]
        h_all, v0, beta, th = ctx.saved_tensors
        v_reset, soft, detach_reset, surrogate = ctx.cfg
        T = h_all.shape[0]
        need_x, need_v0, need_beta, need_th = ctx.needs_input_grad[:4]
        gx = torch.empty_like(h_all)
        gv = grad_v if grad_v is not None else torch.zeros_like(h_all[0])
        gbeta = torch.zeros_like(h_all[0]) if need_beta else None
        gth = torch.zeros_like(h_all[0]) if need_th else None
        if grad_s is None:
            grad_s = torch.zeros_like(h_all)
        for t in range(T - 1, -1, -1):
            h = h_all[t]
            sg = surrogate.derivative(h - th)
            gs = grad_s[t]
            s = (h >= th).to(h.dtype)
            if soft:
                dvdh = 1.0 if detach_reset else 1.0 - th * sg
            else:
                dvdh = (1.0 - s) if detach_reset else (1.0 - s) + (v_reset - h) * sg
            gh = gs * sg + gv * dvdh
            gx[t] = gh
            if need_beta or need_th:
                if need_beta:
                    if t > 0:
                        hp = h_all[t - 1]
                        sp = (hp >= th).to(h.dtype)
                        v_prev = hp - th * sp if soft else hp * (1 - sp) + v_reset * sp
                    else:
                        v_prev = v0
                    gbeta += gh * v_prev
                if need_th:
                    if soft:
                        dvdth = -s if detach_reset else -s + th * sg
                    else:
                        dvdth = 0.0 if detach_reset else -(v_reset - h) * sg
                    gth += -gs * sg + gv * dvdth
            gv = gh * beta
        g_beta = gbeta.sum_to_size(beta.shape) if need_beta else None
        g_th = gth.sum_to_size(th.shape) if need_th else None
        return (gx if need_x else None), (gv if need_v0 else None), g_beta, g_th, None, None, None, None


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
