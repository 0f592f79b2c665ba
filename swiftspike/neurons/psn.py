r"""Parallel spiking neuron baselines and a reset-free LIF.

* :class:`PSN` -- parallel spiking neuron: one learnable ``T x T`` matrix :math:`W` and threshold
  vector :math:`b \in R^T` shared by all neurons of the layer,
  :math:`H = W X` (over time), :math:`S_t = \Theta(H_t - b_t)`. Needs a fixed ``T``; O(T^2) time and memory.
* :class:`MaskedPSN` -- the same with :math:`W` masked to a causal band of width ``k``
  (:math:`W_{ts} = 0` unless :math:`t - k < s \le t`), still ``T x T`` parameters.
* :class:`SlidingPSN` -- ``k`` shared weights slid over time,
  :math:`H_t = \sum_{j=0}^{k-1} w_j X_{t-k+1+j}`, :math:`S_t = \Theta(H_t - b)`: any ``T``, runs
  serially with the last ``k - 1`` inputs as state.
* :class:`LIFNoReset` -- LIF whose membrane is never reset, :math:`v_t = \beta v_{t-1} + x_t`,
  :math:`s_t = \Theta(v_t - v_\text{threshold})`: the one neuron kernel with ``NoReset()`` (a linear
  recurrence, solved by the kernel with the chunked scan).

All are :class:`~swiftspike.neurons.modules.SpikingModule` layers over time-major ``[T, B, ...]``
input, using a surrogate (ATan by default) for the backward pass of the step function.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..errors import SwiftSpikeError, check_positive, check_positive_int, check_tensor
from .functional import NoReset
from .modules import LIF, SpikingModule, check_multistep_input
from .surrogate import Surrogate, get_surrogate


def psn_membrane(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """:math:`H = W X` over the time axis: ``weight`` ``[T, T]``, ``x`` ``[T, ...]``."""
    T = x.shape[0]
    return (weight @ x.reshape(T, -1)).reshape(x.shape)


class PSN(SpikingModule):
    r"""Parallel spiking neuron with a full learnable ``T x T`` weight (see module docstring).

    Only multi-step input of exactly ``T`` steps is accepted (the matrix mixes all steps, also future
    ones, so the layer has no serial form and no state)."""

    def __init__(
        self, T: int, surrogate: str | Surrogate | None = "atan", v_threshold: float = 1.0, step_mode: str = "m"
    ) -> None:
        super().__init__(step_mode)
        if step_mode != "m":
            raise SwiftSpikeError(f"{type(self).__name__} only supports step_mode='m' (it mixes all T steps)")
        self.T = check_positive_int(T, "T")
        self.surrogate = get_surrogate(surrogate)
        bound = 1.0 / math.sqrt(self.T)
        self.weight = nn.Parameter(torch.empty(self.T, self.T).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.full((self.T,), float(v_threshold)))

    def reset_state(self) -> None:  # stateless across calls
        pass

    def effective_weight(self) -> torch.Tensor:
        return self.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_multistep_input(x)
        if x.shape[0] != self.T:
            raise SwiftSpikeError(f"{type(self).__name__} was built for T={self.T} steps, got T={x.shape[0]}")
        h = psn_membrane(x, self.effective_weight().to(x.dtype))
        b = self.bias.to(x.dtype).reshape(self.T, *([1] * (x.dim() - 1)))
        return self.surrogate(h - b)

    def extra_repr(self) -> str:
        return f"T={self.T}, surrogate={self.surrogate!r}"


class MaskedPSN(PSN):
    """PSN whose ``T x T`` weight is masked to the causal band of width ``k`` (the last ``k`` inputs)."""

    mask: torch.Tensor  # a buffer

    def __init__(self, T: int, k: int = 4, **kwargs) -> None:
        super().__init__(T, **kwargs)
        self.k = check_positive_int(k, "k")
        t = torch.arange(self.T)
        d = t.unsqueeze(1) - t.unsqueeze(0)
        self.register_buffer("mask", ((d >= 0) & (d < self.k)).to(torch.float32))
        with torch.no_grad():
            bound = 1.0 / math.sqrt(self.k)
            self.weight.uniform_(-bound, bound)

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.mask

    def extra_repr(self) -> str:
        return f"T={self.T}, k={self.k}, surrogate={self.surrogate!r}"


class SlidingPSN(SpikingModule):
    r"""``k`` shared weights slid causally over time, :math:`H_t = \sum_j w_j X_{t-k+1+j}`,
    :math:`S_t = \Theta(H_t - b)`; any ``T``, both step modes, the last ``k - 1`` inputs carried as state."""

    def __init__(
        self, k: int = 4, surrogate: str | Surrogate | None = "atan", v_threshold: float = 1.0, step_mode: str = "m"
    ) -> None:
        super().__init__(step_mode)
        self.k = check_positive_int(k, "k")
        self.surrogate = get_surrogate(surrogate)
        w = torch.zeros(self.k)
        w[-1] = 1.0  # start as the identity on the current input
        self.weight = nn.Parameter(w + torch.empty(self.k).uniform_(-0.1, 0.1))
        self.bias = nn.Parameter(torch.tensor(float(v_threshold)))
        self.window: torch.Tensor | None = None

    def reset_state(self) -> None:
        self.window = None

    def _window(self, step: torch.Tensor) -> torch.Tensor:
        if self.window is None:
            return step.new_zeros(self.k - 1, *step.shape)
        if self.window.shape[1:] != step.shape:
            raise SwiftSpikeError(
                f"SlidingPSN got per-step shape {tuple(step.shape)} but holds state of shape "
                f"{tuple(self.window.shape[1:])}; call swiftspike.reset(net) between sequences"
            )
        return self.window

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            check_tensor(x, "neuron input", min_ndim=1)
            xs = x.unsqueeze(0)
        else:
            check_multistep_input(x)
            xs = x
        T = xs.shape[0]
        xp = torch.cat([self._window(xs[0]), xs])
        w = self.weight.to(x.dtype)
        h = w[0] * xp[:T]
        for j in range(1, self.k):
            h = h + w[j] * xp[j : j + T]
        self.window = xp[xp.shape[0] - (self.k - 1) :]
        s = self.surrogate(h - self.bias.to(x.dtype))
        return s[0] if self.step_mode == "s" else s

    def extra_repr(self) -> str:
        return f"k={self.k}, surrogate={self.surrogate!r}"


class LIFNoReset(LIF):
    r"""LIF without reset, :math:`v_t = \beta v_{t-1} + x_t`, :math:`s_t = \Theta(v_t - v_\text{threshold})`,
    :math:`\beta = e^{-dt/\tau}`: the kernel of :mod:`~swiftspike.neurons.functional` with
    :class:`~swiftspike.neurons.functional.NoReset` (which solves the membrane in parallel over time with
    the chunked scan in ``'m'`` mode); state carried across calls."""

    def __init__(
        self,
        tau: float = 5.0,
        v_threshold: float = 1.0,
        surrogate: str | Surrogate | None = "atan",
        step_mode: str = "m",
        dt: float = 1.0,
    ) -> None:
        super().__init__(
            tau=check_positive(tau, "tau"),
            v_threshold=v_threshold,
            reset=NoReset(),
            surrogate=surrogate,
            step_mode=step_mode,
            dt=dt,
        )

    @property
    def v(self) -> torch.Tensor | None:
        """The membrane after the last step (``None`` before the first call)."""
        return None if self.state is None else self.state.v
