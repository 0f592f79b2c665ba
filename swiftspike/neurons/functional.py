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
from typing import NamedTuple

import torch

from ..errors import SwiftSpikeError
from .surrogate import ATan, Surrogate

Scalar = torch.Tensor | float


# -- reset mechanisms ----------------------------------------------------------------------------
def _sub_scaled(h: torch.Tensor, s: torch.Tensor, k: Scalar, out: torch.Tensor | None) -> torch.Tensor:
    """``h - k * s`` in one op (``k`` a number or a tensor broadcastable to ``h``)."""
    if isinstance(k, torch.Tensor):
        return torch.addcmul(h, s, k, value=-1, out=out) if out is not None else torch.addcmul(h, s, k, value=-1)
    return torch.add(h, s, alpha=-float(k), out=out) if out is not None else torch.add(h, s, alpha=-float(k))


@dataclass(frozen=True)
class HardReset:
    r"""After a spike the membrane is set to ``v_reset``: :math:`v = h(1-s) + v_\text{reset} s`."""

    v_reset: float = 0.0
    name = "hard"

    def __call__(self, h: torch.Tensor, s: torch.Tensor, v_threshold: Scalar) -> torch.Tensor:
        return h * (1 - s) + self.v_reset * s

    def after_spike(
        self, h: torch.Tensor, s: torch.Tensor, v_threshold: Scalar, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Value path without autograd for spikes ``s`` in {0, 1} (any float dtype), written into ``out``
        when given. Bit-identical to :meth:`__call__`: ``h - h s`` is exactly 0 where ``s = 1``."""
        v = torch.addcmul(h, h, s, value=-1, out=out) if out is not None else torch.addcmul(h, h, s, value=-1)
        return v.add_(s, alpha=self.v_reset) if self.v_reset != 0.0 else v

    def jacobians(
        self,
        h: torch.Tensor,
        s: torch.Tensor,
        sg: torch.Tensor,
        v_threshold: torch.Tensor,
        detach: bool,
        need_th: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        r""":math:`\partial v/\partial h` and (``need_th``) :math:`\partial v/\partial v_\text{threshold}`
        through the surrogate ``sg`` (``detach``: the reset is not differentiated). Fresh tensors."""
        if detach:
            return 1.0 - s, (torch.zeros_like(h) if need_th else None)
        if self.v_reset == 0.0:
            dvdh = torch.addcmul(1.0 - s, h, sg, value=-1)
        else:
            dvdh = torch.addcmul(1.0 - s, self.v_reset - h, sg)
        return dvdh, ((h - self.v_reset) * sg if need_th else None)


@dataclass(frozen=True)
class SoftReset:
    r"""Reset by subtraction: :math:`v = h - v_\text{threshold}\, s` (keeps the residual charge)."""

    name = "soft"

    def __call__(self, h: torch.Tensor, s: torch.Tensor, v_threshold: Scalar) -> torch.Tensor:
        return h - v_threshold * s

    def after_spike(
        self, h: torch.Tensor, s: torch.Tensor, v_threshold: Scalar, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        return _sub_scaled(h, s, v_threshold, out)

    def jacobians(
        self,
        h: torch.Tensor,
        s: torch.Tensor,
        sg: torch.Tensor,
        v_threshold: torch.Tensor,
        detach: bool,
        need_th: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if detach:
            return torch.ones_like(h), (-s if need_th else None)
        return 1.0 - v_threshold * sg, (v_threshold * sg - s if need_th else None)


@dataclass(frozen=True)
class NoReset:
    r"""The membrane is never reset: :math:`v = h` (a linear recurrence; spikes are read off it).

    :func:`lif_multistep` solves it with the parallel :func:`~swiftspike.neurons.scan.linear_scan`."""

    name = "none"

    def __call__(self, h: torch.Tensor, s: torch.Tensor, v_threshold: Scalar) -> torch.Tensor:
        return h

    def after_spike(
        self, h: torch.Tensor, s: torch.Tensor, v_threshold: Scalar, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        return out.copy_(h) if out is not None else h

    def jacobians(
        self,
        h: torch.Tensor,
        s: torch.Tensor,
        sg: torch.Tensor,
        v_threshold: torch.Tensor,
        detach: bool,
        need_th: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        return torch.ones_like(h), (torch.zeros_like(h) if need_th else None)


Reset = HardReset | SoftReset | NoReset
RESETS = ("hard", "soft", "none")


def make_reset(spec: str | Reset, v_reset: float = 0.0) -> Reset:
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
    refrac: torch.Tensor | None = None


def lif_init_state(like: torch.Tensor, refractory: bool = False, v0: float = 0.0) -> LIFState:
    """State shaped like one time step ``like`` (``[B, ...]``), membrane at ``v0``."""
    v = torch.full_like(like, v0) if v0 else torch.zeros_like(like)
    return LIFState(v, torch.zeros_like(like, dtype=torch.int32) if refractory else None)


# -- the three parts of a step ---------------------------------------------------------------------
def _needs_grad(*ts: object) -> bool:
    """Whether autograd records an op on these (tensors that require grad, grad mode on)."""
    return torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in ts)


def charge(v: torch.Tensor, x: torch.Tensor, beta: Scalar) -> torch.Tensor:
    r"""Leak and integrate: :math:`h = \beta v + x`."""
    return beta * v + x


def fire(h: torch.Tensor, v_threshold: Scalar, surrogate: Surrogate) -> torch.Tensor:
    r"""Spikes :math:`s = H(h - v_\text{threshold})` with the surrogate gradient in the backward pass
    (without gradients, one comparison)."""
    if not _needs_grad(h, v_threshold):
        return torch.ge(h, v_threshold).to(h.dtype)
    return surrogate(h - v_threshold)


def reset_membrane(h: torch.Tensor, s: torch.Tensor, p: LIFParameters) -> torch.Tensor:
    """Membrane after the reset of pre-reset potential ``h`` given spikes ``s`` (without gradients, the
    reset object's bit-identical in-place value path)."""
    if not _needs_grad(h, s, p.v_threshold):
        return p.reset.after_spike(h, s, p.v_threshold)
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
    s = fire(h, p.v_threshold, p.surrogate) * active
    v = reset_membrane(h, s, p)
    refrac = torch.where(s.detach() > 0, p.refractory_steps, (refrac - 1).clamp_(min=0))
    return s, LIFState(v, refrac)


def li_masked_step(x: torch.Tensor, v: torch.Tensor, beta: Scalar, *, leak: torch.Tensor | None) -> torch.Tensor:
    r"""The charge of the event-driven step, alone (the LI readout): :math:`h = \beta v + x` where ``leak``,
    else :math:`h = v + x` (a neuron takes its leak once per frame, with its first event); ``leak=None``:
    no neuron leaks."""
    if leak is None:
        return v + x
    return torch.where(leak, charge(v, x, beta), v + x)


def lif_masked_step(
    x: torch.Tensor, v: torch.Tensor, p: LIFParameters, *, leak: torch.Tensor | None, evaluate: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
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


def _lif_forward_values(
    x: torch.Tensor, v0: torch.Tensor, beta: torch.Tensor, th: torch.Tensor, reset: Reset, h_all: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The value path of ``T`` steps without autograd, in place into preallocated outputs: spikes are
    written straight into a float ``[T, ...]`` tensor and the membrane is reset into one reused buffer,
    so a step costs four in-place ops (charge as a multiply and an add, fire, reset) and allocates nothing.
    ``h_all`` (``[T, ...]``, optional) receives every pre-reset membrane (needed by the backward pass); without
    it one buffer is reused."""
    T = x.shape[0]
    spikes = torch.empty_like(x)
    v_buf = torch.empty_like(x[0])
    v = v0
    hs = h_all.unbind(0) if h_all is not None else (torch.empty_like(x[0]),) * T
    for x_t, h, s in zip(x.unbind(0), hs, spikes.unbind(0)):
        # charge as beta * v + x with two roundings, exactly as charge() (a fused multiply-add would
        # round once and give membranes that differ from lif_step's in the last bit)
        torch.mul(v, beta, out=h).add_(x_t)
        torch.ge(h, th, out=s)
        v = reset.after_spike(h, s, th, out=v_buf)
    return spikes, v


class _FusedLIF(torch.autograd.Function):
    """T-step LIF without refractoriness.

    Forward: :func:`_lif_forward_values` (four in-place ops per step, no allocation). Backward:
    everything that does not depend on the recurrence (surrogate derivatives, reset Jacobians,
    parameter gradients) is computed for a chunk of steps at once; only the linear adjoint recurrence
    ``g_t = c_t + a_t g_{t+1}`` (one fused multiply-add per step) runs step by step.
    """

    @staticmethod
    def forward(ctx, x, v0, beta, th, reset, detach_reset, surrogate):  # type: ignore[override]
        h_all = torch.empty_like(x)
        spikes, v = _lif_forward_values(x, v0, beta, th, reset, h_all)
        ctx.save_for_backward(h_all, spikes, v0, beta, th)
        ctx.cfg = (reset, detach_reset, surrogate)
        return spikes, v

    @staticmethod
    def backward(ctx, grad_s, grad_v):  # type: ignore[override]
        h_all, spikes, v0, beta, th = ctx.saved_tensors
        reset, detach_reset, surrogate = ctx.cfg
        T = h_all.shape[0]
        need_x, need_v0, need_beta, need_th = ctx.needs_input_grad[:4]
        gh = torch.empty_like(h_all)
        b = float(beta) if beta.dim() == 0 else None  # a scalar decay folds into the recurrence's multiply-add
        g_beta = torch.zeros_like(h_all[0]) if need_beta else None
        g_th = torch.zeros_like(h_all[0]) if need_th else None
        # the adjoint flowing into v_{t1-1} from the step after the current chunk
        g_next_v = grad_v
        # Work backwards in chunks of steps small enough to stay in cache: within a chunk all
        # recurrence-free terms are computed at once, then the linear recurrence runs step by step.
        L = max(1, _CHUNK_ELEMS // max(1, h_all[0].numel()))
        for t1 in range(T, 0, -L):
            t0 = max(0, t1 - L)
            n = t1 - t0
            h = h_all[t0:t1]
            s = spikes[t0:t1]
            sg = surrogate.derivative(h - th)
            dvdh, dvdth = reset.jacobians(h, s, sg, th, detach_reset, need_th)
            # direct contribution of each step's spike output (written into gh, then updated in place)
            g_out = torch.mul(grad_s[t0:t1], sg, out=gh[t0:t1]) if grad_s is not None else gh[t0:t1].zero_()
            if g_next_v is not None:
                g_out[n - 1].addcmul_(g_next_v, dvdh[n - 1])
            if n > 1:
                # g_t += (dv_t/dh_t) (dh_{t+1}/dv_t) g_{t+1}, with dh_{t+1}/dv_t = beta
                g = g_out[n - 1]
                if b is not None:
                    for i in range(n - 2, -1, -1):
                        g = g_out[i].addcmul_(dvdh[i], g, value=b)
                else:
                    a = dvdh[: n - 1].mul_(beta)
                    for i in range(n - 2, -1, -1):
                        g = g_out[i].addcmul_(a[i], g)
            if g_th is not None:  # need_th
                # adjoint reaching v_t: from h_{t+1} inside the chunk, from g_next_v at its end
                gv = torch.empty_like(h)
                torch.mul(g_out[1:], beta, out=gv[:-1])
                gv[-1] = g_next_v if g_next_v is not None else 0.0
                gs_sg = torch.mul(grad_s[t0:t1], sg) if grad_s is not None else 0.0
                g_th += (gv * dvdth - gs_sg).sum(0)
            if g_beta is not None:  # need_beta
                v_prev = torch.empty_like(h)
                if t0 > 0:
                    reset.after_spike(h_all[t0 - 1], spikes[t0 - 1], th, out=v_prev[0])
                else:
                    v_prev[0] = v0
                if n > 1:
                    reset.after_spike(h[:-1], s[:-1], th, out=v_prev[1:])
                g_beta += (g_out * v_prev).sum(0)
            g_next_v = g_out[0] * beta
        gb = g_beta.sum_to_size(beta.shape) if g_beta is not None else None
        gt = g_th.sum_to_size(th.shape) if g_th is not None else None
        return (gh if need_x else None), (g_next_v if need_v0 else None), gb, gt, None, None, None


_CHUNK_ELEMS = 1 << 17  # elements per backward chunk (~0.5 MB per float32 temporary)


def lif_multistep(
    x: torch.Tensor, state: LIFState, p: LIFParameters, *, fused: bool = True
) -> tuple[torch.Tensor, LIFState]:
    """Run ``T = x.shape[0]`` steps over time-major ``x`` (``[T, B, ...]``).

    Equal in values and gradients to looping :func:`lif_step`; ``fused=False`` forces that loop. How the
    steps run is chosen here and only here:

    * refractory neurons, ``fused=False`` or code being traced by ``torch.compile``: the
      :func:`lif_step` loop (plain tensor ops, which the compiler fuses itself);
    * :class:`NoReset`: the membrane is a linear recurrence, solved in parallel over time by
      :func:`~swiftspike.neurons.scan.linear_scan`, and the spikes are read off it;
    * otherwise the fused step loop: without gradients only the value path (no stored membranes),
      with gradients the custom autograd function with its hand-written backward.
    """
    if fused and p.refractory_steps <= 0 and not torch.compiler.is_compiling():
        b = _as_tensor(p.beta, x)
        th = _as_tensor(p.v_threshold, x)
        if isinstance(p.reset, NoReset):
            from .scan import linear_scan

            v_all = linear_scan(torch.log(b).expand(x.shape), x, state.v)
            return fire(v_all, th, p.surrogate), LIFState(v_all[-1].clone(), None)
        if not _needs_grad(x, state.v, b, th):
            spikes, v = _lif_forward_values(x, state.v, b, th, p.reset, None)
            return spikes, LIFState(v, None)
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
