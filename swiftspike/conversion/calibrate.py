r"""Per-layer threshold / spike-amplitude calibration for ANN-to-SNN conversion.

A converted layer is an IF neuron with soft reset, threshold :math:`\theta`, whose spikes carry the
value :math:`A` (spike amplitude) and whose input current is shifted by :math:`b` each step. Driven
by a constant input :math:`x` for :math:`T` steps from :math:`v_0 = 0` it fires
:math:`n = \mathrm{clip}(\lfloor T (x + b) / \theta \rfloor, 0, T)` spikes, so its time-averaged output
is the staircase

.. math:: g_T(x; \theta, A, b) = \frac{A}{T}\,\mathrm{clip}\!\left(\left\lfloor \frac{T (x + b)}{\theta} \right\rfloor, 0, T\right).

The ANN layer it replaces outputs :math:`\mathrm{clip}(x, 0, \mu)`. Methods:

* ``max``: :math:`\theta = A =` the largest calibration activation (classic weight/threshold balancing);
* ``percentile``: :math:`\theta = A =` the ``p``-th percentile (99.9 by default) of the activations;
* ``uniform-optimal``: :math:`\theta = A = \mu`, :math:`b = \theta / (2T)` -- optimal when the
  pre-activations are uniform on :math:`[0, \mu]` (rounding instead of flooring);
* ``distribution-aware``: :math:`(\theta, A)` minimising
  :math:`\mathbb{E}[(\mathrm{clip}(x, 0, \mu) - g_T(x; \theta, A))^2]` over the *measured* pre-activations
  (:func:`fit_threshold_amplitude`; for each :math:`\theta` on a grid the best :math:`A` is closed-form).
  When the layer's input is a spike train rather than a constant current (every layer after the
  first in a converted network), :func:`if_spike_counts` replaces the staircase: the spike count of
  the real soft-reset IF neuron on the measured time-resolved input (an input arriving only at the
  last step cannot make a spike at the first).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..errors import SwiftSpikeError, check_positive, check_positive_int, check_tensor, choose
from ..neurons.functional import LIFParameters, SoftReset, lif_init_state, lif_multistep
from ..neurons.surrogate import Rectangular

METHODS = ("max", "percentile", "uniform-optimal", "distribution-aware")


@dataclass
class LayerCalibration:
    """Threshold ``theta``, spike amplitude ``amplitude`` and per-step input shift ``shift`` of one layer."""

    theta: float
    amplitude: float
    shift: float = 0.0


def staircase(x: torch.Tensor, T: int, theta: float, amplitude: float, shift: float = 0.0) -> torch.Tensor:
    r"""Time-averaged output :math:`g_T(x; \theta, A, b)` of a soft-reset IF neuron under constant input ``x``."""
    check_positive_int(T, "T")
    check_positive(theta, "theta")
    n = torch.floor(T * (x + shift) / theta + 1e-6).clamp(0, T)
    return amplitude * n / T


def if_spike_counts(x_steps: torch.Tensor, theta: float) -> torch.Tensor:
    r"""Spike counts of soft-reset IF neurons (:math:`v_0 = 0`) driven by ``x_steps`` (``[T, ...]``):
    :math:`h_t = v_{t-1} + x_t,\ s_t = [h_t \ge \theta],\ v_t = h_t - \theta s_t` -- the library's own
    :func:`~swiftspike.neurons.functional.lif_multistep` with :math:`\beta = 1`, so the fit counts exactly
    what the converted layer will fire. For a constant input this is the staircase count
    :math:`\mathrm{clip}(\lfloor T x/\theta \rfloor, 0, T)`."""
    check_positive(theta, "theta")
    with torch.no_grad():
        p = LIFParameters(beta=1.0, v_threshold=theta, reset=SoftReset(), surrogate=Rectangular(theta))
        spikes, _ = lif_multistep(x_steps, lif_init_state(x_steps[0]), p)
    return spikes.sum(0)


def calibration_error(x: torch.Tensor, mu: float, T: int, cal: LayerCalibration) -> float:
    r""":math:`\mathbb{E}[(\mathrm{clip}(x, 0, \mu) - g_T(x))^2]` over the samples in ``x``."""
    target = x.clamp(0, mu)
    return float(((target - staircase(x, T, cal.theta, cal.amplitude, cal.shift)) ** 2).mean())


def fit_threshold_amplitude(x: torch.Tensor, mu: float, T: int, n_grid: int = 200,
                            target: Optional[torch.Tensor] = None,
                            x_steps: Optional[torch.Tensor] = None) -> LayerCalibration:
    r"""Distribution-aware fit: :math:`\min_{\theta, A} \mathbb{E}[(y - g_T(x; \theta, A))^2]`.

    ``x``: measured pre-activations (any shape); ``y = target`` (default :math:`\mathrm{clip}(x, 0, \mu)`).
    :math:`\theta` is searched on a grid over :math:`(0, 1.5\,\mu]`; for fixed :math:`\theta` with
    :math:`r = n/T` the optimum is :math:`A = \sum y r / \sum r^2`. ``x_steps`` (``[T, *x.shape]``, the
    time-resolved input whose mean is ``x``) makes ``n`` the spike count of the real IF neuron on that
    input (:func:`if_spike_counts`) instead of the constant-input staircase.
    """
    x = x.detach().reshape(-1).float()
    y = x.clamp(0, mu) if target is None else target.detach().reshape(-1).float()
    if y.shape != x.shape:
        raise SwiftSpikeError("fit_threshold_amplitude: target must have as many values as x")
    if x_steps is not None:
        x_steps = x_steps.detach().reshape(x_steps.shape[0], -1).float()
        if x_steps.shape != (T, x.numel()):
            raise SwiftSpikeError(f"fit_threshold_amplitude: x_steps must be [T={T}, {x.numel()}], "
                                  f"got {tuple(x_steps.shape)}")

    def rate(theta: float) -> torch.Tensor:  # n / T under the chosen spike-count model
        return staircase(x, T, theta, 1.0) if x_steps is None else if_spike_counts(x_steps, theta) / T

    best = LayerCalibration(float(mu), float(mu))
    best_err = float(((y - mu * rate(mu)) ** 2).mean())  # the start (theta = A = mu), same count model
    for theta in torch.linspace(1.5 * mu / n_grid, 1.5 * mu, n_grid).tolist():
        r = rate(theta)
        rr = float((r * r).sum())
        if rr == 0:
            continue
        a = float((y * r).sum()) / rr
        if a <= 0:
            continue
        err = float(((y - a * r) ** 2).mean())
        if err < best_err:
            best_err, best = err, LayerCalibration(theta, a)
    return best


def calibrate_layer(method: str, x: torch.Tensor, mu: float, T: int, percentile: float = 99.9,
                    target: Optional[torch.Tensor] = None, x_steps: Optional[torch.Tensor] = None) -> LayerCalibration:
    """Calibrate one layer from its pre-activations ``x`` (samples of the layer's input current)."""
    choose("calibration method", method, METHODS)
    check_tensor(x, "calibration activations")
    check_positive(mu, "mu")
    check_positive_int(T, "T")
    if x.numel() == 0:
        raise SwiftSpikeError("calibration needs at least one activation sample")
    act = x.detach().reshape(-1).float().clamp(0, mu)
    if method == "max":
        th = float(act.max())
        th = th if th > 0 else float(mu)
        return LayerCalibration(th, th)
    if method == "percentile":
        if not 0 < percentile <= 100:
            raise SwiftSpikeError(f"percentile must be in (0, 100], got {percentile}")
        pos = act[act > 0]
        if pos.numel() == 0:
            return LayerCalibration(float(mu), float(mu))
        k = max(1, int(round(percentile / 100 * pos.numel())))
        th = float(pos.kthvalue(min(k, pos.numel())).values)
        return LayerCalibration(th, th)
    if method == "uniform-optimal":
        return LayerCalibration(float(mu), float(mu), float(mu) / (2 * T))
    return fit_threshold_amplitude(x, mu, T, target=target, x_steps=x_steps)
