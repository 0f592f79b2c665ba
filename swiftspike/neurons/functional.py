r"""The one neuron kernel: pure charge / fire / reset functions with explicit state (Norse style).

Every spiking neuron in swiftspike (the LIF/IF modules, LIF without reset, the converted IF layers,
the asynchronous engine's masked step and the Diehl & Cook network) goes through the functions in
this module; nothing else charges, fires or resets a membrane.

Discrete leaky integrate-and-fire, resting potential 0, per step ``t``:

.. math::

    h_t &= \beta\, v_{t-1} + x_t, \qquad \beta = e^{-dt/\tau} \quad(\beta = 1 \text{ for IF})
        && \text{(charge)} \\
    s_t &= H(h_t - v_\text{threshold}) && \text{(fire)} \\
    v_t &= \begin{cases} h_t (1 - s_t) + v_\text{reset}\, s_t & \text{HardReset} \\
                         h_t - v_\text{threshold}\, s_t & \text{SoftReset (subtraction)} \\
                         h_t & \text{NoReset} \end{cases} && \text{(reset)}

**Refractory period** (one definition for every neuron): with ``refractory_steps = r > 0`` a neuron
that fires is *refractory* for the next ``r`` steps, during which it neither integrates (its membrane
is held at the reset value, input is discarded) nor fires.

Parameters travel as one :class:`LIFParameters` and state as one :class:`LIFState`. ``lif_step`` is
the reference (autograd through every op); ``lif_multistep`` runs ``T`` steps and, without
refractoriness, uses a fused autograd function with a hand-written BPTT backward that gives the same
values and gradients with far fewer graph nodes. :func:`lif_masked_step` is the step of the
event-driven engine: only the neurons an event reached are charged and evaluated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Optional, Union

import torch

from ..errors import SwiftSpikeError
from .surrogate import ATan, Surrogate

Scalar = Union[torch.Tensor, float]


# -- reset mechanisms ----------------------------------------------------------------------------
@dataclass(frozen=True)
class HardReset:
    r"""After a spike the membrane is set to ``v_reset``: :math:`v = h(1-s) + v_\text{reset} s`."""

    v_reset: float = 0.0
    name = "hard"

    def __call__(self, h: torch.Tensor, s: torch.Tensor, v_threshold: Scalar) -> torch.Tensor:
        return h * (1 - s) + self.v_reset * s

    def after_spike(self, h: torch.Tensor, fired: torch.Tensor, v_threshold: Scalar) -> torch.Tensor:
        """Value path without autograd (``fired`` is boolean)."""
        return h.masked_fill(fired, self.v_reset)

    def jacobians(self, h: torch.Tensor, s: torch.Tensor, sg: torch.Tensor, v_threshold: torch.Tensor,
                  detach: bool) -> tuple[torch.Tensor, torch.Tensor]:
        r""":math:`\partial v/\partial h` and :math:`\partial v/\partial v_\text{threshold}` through the surrogate
        ``sg`` (``detach``: the reset is not differentiated)."""
        if detach:
            return 1.0 - s, torch.zeros_like(h)
        return (1.0 - s) + (self.v_reset - h) * sg, (h - self.v_reset) * sg


@dataclass(frozen=True)
class SoftReset:
    r"""Reset by subtraction: :math:`v = h - v_\text{threshold}\, s` (keeps the residual charge)."""

    name = "soft"

    def __call__(self, h: torch.Tensor, s: torch.Tensor, v_threshold: Scalar) -> torch.Tensor:
        return h - v_threshold * s

    def after_spike(self, h: torch.Tensor, fired: torch.Tensor, v_threshold: Scalar) -> torch.Tensor:
        return h - v_threshold * fired.to(h.dtype)

    def jacobians(self, h: torch.Tensor, s: torch.Tensor, sg: torch.Tensor, v_threshold: torch.Tensor,
                  detach: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if detach:
            return torch.ones_like(h), -s
        return 1.0 - v_threshold * sg, v_threshold * sg - s


@dataclass(frozen=True)
class NoReset:
    r"""The membrane is never reset: :math:`v = h` (a linear recurrence; spikes are read off it)."""

    name = "none"

    def __call__(self, h: torch.Tensor, s: torch.Tensor, v_threshold: Scalar) -> torch.Tensor:
        return h

    def after_spike(self, h: torch.Tensor, fired: torch.Tensor, v_threshold: Scalar) -> torch.Tensor:
        return h

    def jacobians(self, h: torch.Tensor, s: torch.Tensor, sg: torch.Tensor, v_threshold: torch.Tensor,
                  detach: bool) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.ones_like(h), torch.zeros_like(h)


Reset = Union[HardReset, SoftReset, NoReset]
RESETS = ("hard", "soft", "none")


def make_reset(spec: "str | Reset", v_reset: float = 0.0) -> Reset:
    """A reset object from a name (``hard`` to ``v_reset``, ``soft``, ``none``) or an existing object."""
    if isinstance(spec, (HardReset, SoftReset, NoReset)):
        return spec
    if spec == "hard":
        return HardReset(float(v_reset))
    if spec == "soft":
        return SoftReset()
    if spec == "none":
        return NoReset()
    raise SwiftSpikeError(f"unknown reset {spec!r}; choose one of: {', '.join(RESETS)}")


# -- parameters and state --------------------------------------------------------------------------
class LIFParameters(NamedTuple):
    r"""Everything that defines an LIF/IF neuron's step.

    ``beta`` (:math:`e^{-dt/\tau}`, 1 for IF) and ``v_threshold`` are scalars or tensors broadcastable
    to the state (per-neuron arrays, adaptive thresholds); ``reset`` is a :data:`Reset` object;
    ``refractory_steps`` the steps a neuron stays silent after firing; ``surrogate`` the backward of the
    Heaviside; ``detach_reset`` stops gradients through the reset."""

    beta: Scalar = 1.0
    v_threshold: Scalar = 1.0
    reset: Reset = HardReset()
    refractory_steps: int = 0
    surrogate: Surrogate = ATan()
    detach_reset: bool = False


class LIFState(NamedTuple):
    """Membrane ``v`` and remaining refractory steps ``refrac`` (``None`` when unused)."""

    v: torch.Tensor
    refrac: Optional[torch.Tensor] = None


def lif_init_state(like: torch.Tensor, refractory: bool = False, v0: float = 0.0) -> LIFState:
    """State shaped like one time step ``like`` (``[B, ...]``), membrane at ``v0``."""
    v = torch.full_like(like, v0) if v0 else torch.zeros_like(like)
    return LIFState(v, torch.zeros_like(like, dtype=torch.int32) if refractory else None)


# -- the three parts of a step ---------------------------------------------------------------------
def charge(v: torch.Tensor, x: torch.Tensor, beta: Scalar) -> torch.Tensor:
    r"""Leak and integrate: :math:`h = \beta v + x`."""
    return beta * v + x


def fire(h: torch.Tensor, v_threshold: Scalar, surrogate: Surrogate) -> torch.Tensor:
    r"""Spikes :math:`s = H(h - v_\text{threshold})` with the surrogate gradient in the backward pass."""
    return surrogate(h - v_threshold)


def reset_membrane(h: torch.Tensor, s: torch.Tensor, p: LIFParameters) -> torch.Tensor:
    """Membrane after the reset of pre-reset potential ``h`` given spikes ``s``."""
    sr = s.detach() if p.detach_reset else s
    return p.reset(h, sr, p.v_threshold)


def lif_step(x: torch.Tensor, state: LIFState, p: LIFParameters) -> tuple[torch.Tensor, LIFState]:
    """One step; returns ``(spikes, new_state)``. See the module docstring for the equations."""
    h = charge(state.v, x, p.beta)
    if p.refractory_steps <= 0:
        s = fire(h, p.v_threshold, p.surrogate)
        return s, LIFState(reset_membrane(h, s, p), None)
    refrac = state.refrac if state.refrac is not None else torch.zeros_like(x, dtype=torch.int32)
    active = refrac == 0
    # refractory: no integration (membrane held at the value the reset left) and no spike
    h = torch.where(active, h, state.v)
    s = fire(h, p.v_threshold, p.surrogate) * active.to(h.dtype)
    v = reset_membrane(h, s, p)
    fired = s.detach() > 0
    refrac = torch.where(fired, torch.full_like(refrac, p.refractory_steps), (refrac - 1).clamp(min=0))
    return s, LIFState(v, refrac)


def li_masked_step(x: torch.Tensor, v: torch.Tensor, beta: Scalar, *, leak: Optional[torch.Tensor]) -> torch.Tensor:
    r"""The charge of the event-driven step, alone (the LI readout): :math:`h = \beta v + x` where ``leak``,
    else :math:`h = v + x` (a neuron takes its leak once per frame, with its first event); ``leak=None``:
    no neuron leaks."""
    if leak is None:
        return v + x
    return torch.where(leak, charge(v, x, beta), v + x)


def lif_masked_step(x: torch.Tensor, v: torch.Tensor, p: LIFParameters, *, leak: Optional[torch.Tensor],
                    evaluate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""The event-driven step: only some neurons are charged with their leak and only some evaluated.

    :math:`h = \beta v + x` where ``leak`` (else :math:`h = v + x`, :func:`li_masked_step`),
    :math:`s = H(h - v_\text{th})` where ``evaluate`` (else 0), then the reset. Neurons with ``x = 0``, no
    leak and no evaluation keep their membrane. Returns ``(spikes, new_v, h)``; ``h`` (the membrane before
    the reset) is what the momentum scheduler ranks spikes by. Without autograd the same values are
    computed on the value path of the reset object (fewer ops)."""
    h = li_masked_step(x, v, p.beta, leak=leak)
    th = p.v_threshold
    if not (torch.is_grad_enabled() and (h.requires_grad or (isinstance(th, torch.Tensor) and th.requires_grad))):
        fired = (h >= th) & evaluate
        return fired.to(h.dtype), p.reset.after_spike(h, fired, th), h
    s = fire(h, th, p.surrogate) * evaluate.to(h.dtype)
    return s, reset_membrane(h, s, p), h


def _as_tensor(value: Scalar, like: torch.Tensor) -> torch.Tensor:
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
    def forward(ctx, x, v0, beta, th, reset, detach_reset, surrogate):  # type: ignore[override]
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
            v = reset.after_spike(h, s, th)
        ctx.save_for_backward(h_all, v0, beta, th)
        ctx.cfg = (reset, detach_reset, surrogate)
        return fired.to(x.dtype), v

    @staticmethod
    def backward(ctx, grad_s, grad_v):  # type: ignore[override]
        h_all, v0, beta, th = ctx.saved_tensors
        reset, detach_reset, surrogate = ctx.cfg
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
            dvdh, dvdth = reset.jacobians(h, s, sg, th, detach_reset)
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
                g_th += (gv * dvdth - gs * sg).sum(0)
            if need_beta:
                v_prev = torch.empty_like(h)
                prev_h = h_all[t0 - 1] if t0 > 0 else None
                v_prev[0] = v0 if prev_h is None else reset.after_spike(prev_h, prev_h >= th, th)
                if n > 1:
                    v_prev[1:] = reset.after_spike(h[:-1], h[:-1] >= th, th)
                g_beta += (g_out * v_prev).sum(0)
            g_next_v = g_out[0] * beta
        gb = g_beta.sum_to_size(beta.shape) if need_beta else None
        gt = g_th.sum_to_size(th.shape) if need_th else None
        return (gh if need_x else None), (g_next_v if need_v0 else None), gb, gt, None, None, None


_CHUNK_ELEMS = 1 << 17  # elements per backward chunk (~0.5 MB per float32 temporary)


def lif_multistep(x: torch.Tensor, state: LIFState, p: LIFParameters, *,
                  fused: bool = True) -> tuple[torch.Tensor, LIFState]:
    """Run ``T = x.shape[0]`` steps over time-major ``x`` (``[T, B, ...]``).

    Equal in values and gradients to looping :func:`lif_step`; ``fused=False`` forces that loop."""
    if fused and p.refractory_steps <= 0:
        b = _as_tensor(p.beta, x)
        th = _as_tensor(p.v_threshold, x)
        spikes, v = _FusedLIF.apply(x, state.v, b, th, p.reset, p.detach_reset, p.surrogate)
        return spikes, LIFState(v, None)
    out = []
    for t in range(x.shape[0]):
        s, state = lif_step(x[t], state, p)
        out.append(s)
    return torch.stack(out), state


def li_multistep(x: torch.Tensor, v0: torch.Tensor, beta: Scalar) -> torch.Tensor:
    r"""Non-spiking leaky integrator readout: :math:`v_t = \beta v_{t-1} + x_t` (:func:`charge` only);
    returns all ``v_t``."""
    out = torch.empty_like(x)
    v = v0
    for t in range(x.shape[0]):
        v = charge(v, x[t], beta)
        out[t] = v
    return out
