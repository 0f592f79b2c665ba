"""Thin ``nn.Module`` wrappers around the pure neuron functions.

Every neuron layer derives from :class:`SpikingModule`: it keeps its own state between calls (so a
long sequence can be fed in segments), is cleared with :func:`reset`, and runs either one step at a
time (``step_mode='s'``, input ``[B, ...]``) or many (``step_mode='m'``, input ``[T, B, ...]``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import SwiftSpikeError, check_positive, check_tensor, choose
from .functional import LIFParameters, LIFState, Reset, charge, li_multistep, lif_multistep, lif_step, make_reset
from .surrogate import Surrogate, get_surrogate


def check_multistep_input(x: torch.Tensor) -> None:
    """Once per call of a multi-step neuron layer: a time-major tensor ``[T, B, ...]`` with ``T >= 1`` and
    (eager mode) no NaN/inf, checked in one pass before the time loop (see :func:`~swiftspike.errors.all_finite`)."""
    check_tensor(x, "neuron input", min_ndim=2)
    if x.shape[0] == 0:
        raise SwiftSpikeError("neuron input has T=0 time steps; T must be >= 1")


class SpikingModule(nn.Module):
    """Base class of stateful neuron layers (marks a layer as 'temporal' for the engines)."""

    #: True when the layer emits spikes (counted in metrics); False for analog readouts.
    emits_spikes: bool = True

    def __init__(self, step_mode: str = "m") -> None:
        super().__init__()
        self.step_mode = choose("step_mode", step_mode, ("s", "m"))

    def reset_state(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


def reset(net: nn.Module) -> None:
    """Clear the state of every neuron layer inside ``net`` (and only those)."""
    for m in net.modules():
        if isinstance(m, SpikingModule):
            m.reset_state()


class LIF(SpikingModule):
    r"""Leaky integrate-and-fire layer (see :mod:`swiftspike.neurons.functional`).

    Args:
        tau: membrane time constant in units of ``dt``; :math:`\beta = e^{-dt/\tau}`.
        v_threshold: firing threshold.
        v_reset: value after a hard reset.
        reset: ``'hard'`` (to ``v_reset``), ``'soft'`` (subtract ``v_threshold``), ``'none'``, or a
            :data:`~swiftspike.neurons.functional.Reset` object.
        refractory_steps: steps a neuron stays silent after firing.
        surrogate: name or :class:`Surrogate` object for the backward pass.
        learn_tau / learn_threshold: make ``tau`` / ``v_threshold`` trainable parameters.
        detach_reset: do not back-propagate through the reset.
        step_mode: ``'m'`` (``[T, B, ...]``) or ``'s'`` (``[B, ...]``).
        dt: time step (same unit as ``tau``).
    """

    def __init__(
        self,
        tau: float = 5.0,
        v_threshold: float = 1.0,
        v_reset: float = 0.0,
        reset: str | Reset = "hard",
        refractory_steps: int = 0,
        surrogate: str | Surrogate | None = "atan",
        learn_tau: bool = False,
        learn_threshold: bool = False,
        detach_reset: bool = False,
        step_mode: str = "m",
        dt: float = 1.0,
    ) -> None:
        super().__init__(step_mode)
        self.reset_mechanism: Reset = make_reset(reset, v_reset)
        if isinstance(refractory_steps, bool) or not isinstance(refractory_steps, int) or refractory_steps < 0:
            raise SwiftSpikeError(f"refractory_steps must be an integer >= 0, got {refractory_steps!r}")
        self.refractory_steps = refractory_steps
        self.surrogate = get_surrogate(surrogate)
        self.v_reset = float(v_reset)
        self.detach_reset = detach_reset
        self.dt = check_positive(dt, "dt")
        if tau != math.inf:
            check_positive(tau, "tau")
        v_threshold = float(v_threshold)
        if not math.isfinite(v_threshold):
            raise SwiftSpikeError(f"v_threshold must be finite, got {v_threshold!r}")
        t = torch.tensor(float(tau))
        th = torch.tensor(v_threshold)
        if learn_tau:
            if tau == math.inf:
                raise SwiftSpikeError("learn_tau needs a finite tau (IF neurons have no leak to learn)")
            self.tau = nn.Parameter(t)
        else:
            self.register_buffer("tau", t)
        if learn_threshold:
            self.v_threshold = nn.Parameter(th)
        else:
            self.register_buffer("v_threshold", th)
        self.state: LIFState | None = None

    @property
    def beta(self) -> torch.Tensor:
        r""":math:`\beta = e^{-dt/\tau}` (1 for IF)."""
        return torch.exp(-self.dt / self.tau)

    def reset_state(self) -> None:
        self.state = None

    @property
    def params(self) -> LIFParameters:
        """The layer's parameters for the kernel in :mod:`swiftspike.neurons.functional`."""
        return LIFParameters(
            self.beta, self.v_threshold, self.reset_mechanism, self.refractory_steps, self.surrogate, self.detach_reset
        )

    def _init(self, like: torch.Tensor) -> LIFState:
        if self.state is not None and self.state.v.shape == like.shape:
            return self.state
        if self.state is not None:
            raise SwiftSpikeError(
                f"{type(self).__name__} got input of per-step shape {tuple(like.shape)} but holds state "
                f"of shape {tuple(self.state.v.shape)}; call swiftspike.reset(net) between sequences"
            )
        v = torch.zeros_like(like)
        refrac = torch.zeros_like(like, dtype=torch.int32) if self.refractory_steps else None
        return LIFState(v, refrac)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            check_tensor(x, "neuron input", min_ndim=1)
            s, self.state = lif_step(x, self._init(x), self.params)
            return s
        check_multistep_input(x)
        s, self.state = lif_multistep(x, self._init(x[0]), self.params)
        return s

    def extra_repr(self) -> str:
        f = lambda t: f"{float(t):g}" if t.numel() == 1 else f"<per-neuron {tuple(t.shape)}>"
        return (
            f"tau={f(self.tau)}, v_threshold={f(self.v_threshold)}, reset={self.reset_mechanism.name}, "
            f"refractory_steps={self.refractory_steps}, surrogate={self.surrogate!r}"
        )


class IF(LIF):
    """Integrate-and-fire (no leak, :math:`\\beta = 1`); same arguments as :class:`LIF` minus ``tau``."""

    def __init__(self, v_threshold: float = 1.0, v_reset: float = 0.0, reset: str | Reset = "hard", **kwargs) -> None:
        if "tau" in kwargs or "learn_tau" in kwargs:
            raise SwiftSpikeError("IF neurons have no tau; use LIF for a leak")
        super().__init__(tau=math.inf, v_threshold=v_threshold, v_reset=v_reset, reset=reset, **kwargs)

    @property
    def beta(self) -> torch.Tensor:
        return torch.ones((), dtype=self.v_threshold.dtype, device=self.v_threshold.device)


class LI(SpikingModule):
    r"""Non-spiking leaky integrator readout, :math:`v_t = \beta v_{t-1} + x_t`; outputs ``v_t``.

    ``tau=inf`` gives a pure accumulator (:math:`\beta = 1`)."""

    emits_spikes = False
    tau: torch.Tensor  # a buffer

    def __init__(self, tau: float = math.inf, step_mode: str = "m", dt: float = 1.0) -> None:
        super().__init__(step_mode)
        if tau != math.inf:
            check_positive(tau, "tau")
        self.register_buffer("tau", torch.tensor(float(tau)))
        self.dt = check_positive(dt, "dt")
        self.v: torch.Tensor | None = None

    @property
    def beta(self) -> torch.Tensor:
        return torch.exp(-self.dt / self.tau)

    def reset_state(self) -> None:
        self.v = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            check_tensor(x, "neuron input", min_ndim=1)
            v0 = self.v if self.v is not None else torch.zeros_like(x)
            self.v = charge(v0, x, self.beta)
            return self.v
        check_multistep_input(x)
        v0 = self.v if self.v is not None else torch.zeros_like(x[0])
        out = li_multistep(x, v0, self.beta)
        self.v = out[-1]
        return out
