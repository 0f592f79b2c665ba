r"""Per-layer threshold / spike-amplitude calibration for ANN-to-SNN conversion.

A converted layer is an IF neuron with soft reset, threshold :math:`\theta`, whose spikes carry the
value :math:`A` (spike amplitude) and whose input current is shifted by :math:`b` each step. Driven
by a constant input :math:`x` for :math:`T` steps from :math:`v_0 = 0` it fires
:math:`n = \mathrm{clip}(\lfloor T (x + b) / \theta \rfloor, 0, T)` spikes, so its time-averaged output
is the staircase

.. math::

    g_T(x; \theta, A, b) =
    \frac{A}{T}\,\mathrm{clip}\!\left(\left\lfloor \frac{T (x + b)}{\theta} \right\rfloor, 0, T\right).

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

Cost. ``max`` is one pass over the activations (the exact maximum), ``percentile`` an exact selection
(:func:`kth_smallest`: a small random sample brackets the wanted rank, only the values inside the bracket
are ranked). The distribution-aware fit never simulates the neuron once per grid threshold: a neuron's
spike count is a non-increasing step function of its threshold, :math:`n(\theta) = \#\{k : \theta \le
\theta_k\}`, so one pass finds every value's breakpoints :math:`\theta_1 \ge \dots \ge \theta_T`
(:math:`\theta_k = T x / k` for a constant input, :func:`spike_count_thresholds` for a spike train) and one
histogram per :math:`k` gives :math:`\sum y\,n` and :math:`\sum n^2` at every grid threshold at once.
All activations are used (no subsampling) unless ``max_samples`` asks for a random subset.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

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


def spike_count_thresholds(x_steps: torch.Tensor) -> torch.Tensor:
    r"""Breakpoints of the spike count of soft-reset IF neurons (:math:`v_0 = 0`) driven by ``x_steps``
    (``[T, ...]``) as a function of the threshold: ``out[k - 1]`` (``[T, ...]``) is the largest :math:`\theta`
    at which a neuron fires at least ``k`` spikes (``<= 0`` if no positive threshold does), so
    ``if_spike_counts(x_steps, theta) == (theta <= out).sum(0)`` for every :math:`\theta > 0`.

    With :math:`S_t = \sum_{u \le t} x_u`, soft reset makes the neuron spike at step :math:`t` iff
    :math:`S_t \ge \theta (N_{t-1} + 1)`; it fires at least :math:`k` spikes iff some
    :math:`t_1 < \dots < t_k` have :math:`S_{t_j} \ge j \theta` (firing as early as possible is optimal), so
    :math:`\theta_k = \max_{t_1 < \dots < t_k} \min_j S_{t_j} / j`, a dynamic programme over :math:`t` with
    :math:`T(T+1)/2` elementwise steps, independent of how many thresholds are tried afterwards."""
    check_tensor(x_steps, "x_steps", min_ndim=1, finite=False)
    xs = x_steps.detach()
    xs = xs.float() if not xs.is_floating_point() else xs
    T = xs.shape[0]
    best = torch.full_like(xs, -math.inf)  # best[k-1]: running max over t of the best k-spike sequence ending at t
    s = torch.zeros_like(xs[0])
    tmp = torch.empty_like(s)
    for t in range(T):
        s += xs[t]
        for k in range(min(t + 1, T), 1, -1):  # k descending: best[k-2] still holds steps < t
            torch.div(s, k, out=tmp)
            torch.minimum(tmp, best[k - 2], out=tmp)
            torch.maximum(best[k - 1], tmp, out=best[k - 1])
        torch.maximum(best[0], s, out=best[0])
    return best


def grid_sums(
    breakpoints: Callable[[int], torch.Tensor], T: int, y: torch.Tensor, step: float, n_grid: int, extra: float
) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    r"""For thresholds :math:`\theta_j = (j + 1)\,\mathrm{step}` (``j < n_grid``) and :math:`\theta = ` ``extra``
    (:math:`\ge` ``step``): :math:`\sum_i y_i n_i(\theta)` and :math:`\sum_i n_i(\theta)^2`, where the spike count
    :math:`n_i(\theta) = \#\{k \le T : \theta \le b_{ik}\}` is given by the breakpoints ``breakpoints(k)``
    (``[N]``, one per value of ``y``, non-increasing in ``k``). Uses :math:`n^2 = \sum_{k \le n} (2k - 1)` and
    one histogram per :math:`k` over the grid (value ``i`` counts for the grid points below :math:`b_{ik}`);
    values whose breakpoint fell below the grid are dropped from the later ``k`` (they cannot count again).
    Returns ``(sy [n_grid], sn [n_grid], sy_extra, sn_extra)``, summed in float64."""
    y64 = y.detach().reshape(-1).double()
    dev = y.device
    hy = torch.zeros(n_grid + 1, dtype=torch.float64, device=dev)
    hn = torch.zeros(n_grid + 1, dtype=torch.float64, device=dev)
    n_extra = torch.zeros(y64.shape, dtype=torch.float32, device=dev)  # spike count at theta = extra
    ey = en = 0.0  # contributions at theta = extra of the values already dropped
    sel: torch.Tensor | None = None  # indices of the values still in play
    fbuf = torch.empty(y64.shape, dtype=torch.float32, device=dev)
    c = torch.empty(y64.shape, dtype=torch.int32, device=dev)
    for k in range(1, T + 1):
        if y64.numel() == 0:
            break
        b = breakpoints(k).reshape(-1)
        if sel is not None:
            b = b.index_select(0, sel)
        torch.div(b, step, out=fbuf)
        fbuf.clamp_(0, n_grid)
        c.copy_(fbuf)  # truncation = floor for values >= 0: value i counts for the grid points j < c_i
        hy += torch.bincount(c, weights=y64, minlength=n_grid + 1)
        hn += (2 * k - 1) * torch.bincount(c, minlength=n_grid + 1).double()
        n_extra += b >= extra
        if k < T and int(torch.count_nonzero(c)) < 0.5 * y64.numel():
            drop = c == 0
            gone = n_extra[drop].double()
            ey += float(torch.dot(y64[drop], gone))
            en += float(torch.dot(gone, gone))
            keep = (~drop).nonzero().squeeze(1)
            y64, n_extra = y64.index_select(0, keep), n_extra.index_select(0, keep)
            sel = keep if sel is None else sel.index_select(0, keep)
            fbuf, c = fbuf[: keep.numel()], c[: keep.numel()]
    sy = hy.flip(0).cumsum(0).flip(0)[1:]  # sy[j] = sum of hy[c] over c > j
    sn = hn.flip(0).cumsum(0).flip(0)[1:]
    n64 = n_extra.double()
    return sy, sn, ey + float(torch.dot(y64, n64)), en + float(torch.dot(n64, n64))


def fit_threshold_amplitude(
    x: torch.Tensor,
    mu: float,
    T: int,
    n_grid: int = 200,
    target: torch.Tensor | None = None,
    x_steps: torch.Tensor | None = None,
) -> LayerCalibration:
    r"""Distribution-aware fit: :math:`\min_{\theta, A} \mathbb{E}[(y - g_T(x; \theta, A))^2]`.

    ``x``: measured pre-activations (any shape); ``y = target`` (default :math:`\mathrm{clip}(x, 0, \mu)`).
    :math:`\theta` is searched on a grid over :math:`(0, 1.5\,\mu]`; for fixed :math:`\theta` with
    :math:`r = n/T` the optimum is :math:`A = \sum y r / \sum r^2`, with error
    :math:`(\sum y^2 - (\sum y r)^2 / \sum r^2) / N`. ``x_steps`` (``[T, *x.shape]``, the
    time-resolved input whose mean is ``x``) makes ``n`` the spike count of the real IF neuron on that
    input (:func:`if_spike_counts`, via :func:`spike_count_thresholds`) instead of the constant-input
    staircase. The start :math:`\theta = A = \mu` (same count model) is kept unless a grid point beats it;
    among equal errors the smallest :math:`\theta` wins. All grid points are evaluated together
    (:func:`grid_sums`), exactly, on every value.
    """
    x = x.detach().reshape(-1).float()
    y = x.clamp(0, mu) if target is None else target.detach().reshape(-1).float()
    if y.shape != x.shape:
        raise SwiftSpikeError("fit_threshold_amplitude: target must have as many values as x")
    if x_steps is not None:
        x_steps = x_steps.detach().reshape(x_steps.shape[0], -1).float()
        if x_steps.shape != (T, x.numel()):
            raise SwiftSpikeError(
                f"fit_threshold_amplitude: x_steps must be [T={T}, {x.numel()}], got {tuple(x_steps.shape)}"
            )
    n = x.numel()
    y64 = y.double()
    yy = float(torch.dot(y64, y64))
    step = 1.5 * mu / n_grid
    # values whose first breakpoint (the largest) lies below the smallest grid threshold never spike on the
    # grid (nor at mu >= step): they only enter sum(y^2); drop them before the per-k work
    if x_steps is None:
        active = x >= step * (1 - 1e-6) / T
    else:
        s, top = torch.zeros_like(x), torch.full_like(x, -math.inf)  # top = max_t S_t, the first breakpoint
        for t in range(T):
            s += x_steps[t]
            torch.maximum(top, s, out=top)
        active = top >= step
        del s, top
    idx = active.nonzero().squeeze(1)
    if idx.numel() < 0.9 * n:
        x, y = x.index_select(0, idx), y.index_select(0, idx)
        x_steps = None if x_steps is None else x_steps.index_select(1, idx)
    if x_steps is not None:
        thresholds = spike_count_thresholds(x_steps)

        def breakpoints(k: int) -> torch.Tensor:
            return thresholds[k - 1]
    else:

        def breakpoints(k: int) -> torch.Tensor:  # floor(T x / theta + 1e-6) >= k  <=>  theta <= T x / (k - 1e-6)
            return x * (T / (k - 1e-6))

    grid = torch.linspace(step, 1.5 * mu, n_grid)
    sy, sn, sy_mu, sn_mu = grid_sums(breakpoints, T, y, step, n_grid, float(mu))
    start_err = (yy - 2 * mu * sy_mu / T + mu * mu * sn_mu / T**2) / n  # theta = A = mu
    amp = T * sy / sn.clamp(min=1.0)
    err = (yy - sy * sy / sn.clamp(min=1.0)) / n
    err = torch.where((sn > 0) & (amp > 0), err, math.inf)
    j = int(torch.argmin(err))  # first minimum: the smallest theta among equal errors
    if float(err[j]) < start_err:
        return LayerCalibration(float(grid[j]), float(amp[j]))
    return LayerCalibration(float(mu), float(mu))


def kth_smallest(v: torch.Tensor, k: int, generator: torch.Generator | None = None, sample: int = 16384) -> float:
    r"""Exact ``k``-th smallest (1-based) value of ``v`` (flattened). A random sample of ``sample`` values
    brackets the rank (:math:`\pm 4` standard deviations of the sample rank), one pass counts the values
    below the bracket and ranks only those inside it; if the bracket misses, the whole tensor is ranked.
    The result never depends on the sample, only the cost does."""
    v = v.reshape(-1)
    n = v.numel()
    if not 1 <= k <= n:
        raise SwiftSpikeError(f"kth_smallest: k must be in [1, {n}], got {k}")
    if n <= 4 * sample:
        return float(v.kthvalue(k).values)
    g = generator if generator is not None else torch.Generator(device=v.device).manual_seed(0)
    s = v[torch.randint(n, (sample,), generator=g, device=v.device)].sort().values
    q = k / n
    half = 4.0 * math.sqrt(q * (1 - q) * sample) + 2
    lo_i, hi_i = math.floor(q * sample - half), math.ceil(q * sample + half)
    lo = float(s[lo_i]) if lo_i >= 0 else -math.inf
    hi = float(s[hi_i]) if hi_i < sample else math.inf
    below = int(torch.count_nonzero(v < lo))
    inside = v[(v >= lo) & (v <= hi)]
    r = k - below
    if 1 <= r <= inside.numel():
        return float(inside.kthvalue(r).values)
    return float(v.kthvalue(k).values)


def calibrate_layer(
    method: str,
    x: torch.Tensor,
    mu: float,
    T: int,
    percentile: float = 99.9,
    target: torch.Tensor | None = None,
    x_steps: torch.Tensor | None = None,
    max_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> LayerCalibration:
    """Calibrate one layer from its pre-activations ``x`` (samples of the layer's input current).

    ``max`` and ``percentile`` are exact over all of ``x``. ``max_samples`` (distribution-aware only): fit on
    a random subset of that many values (drawn with ``generator``) when ``x`` holds more; default: all."""
    choose("calibration method", method, METHODS)
    check_tensor(x, "calibration activations")
    check_positive(mu, "mu")
    check_positive_int(T, "T")
    if x.numel() == 0:
        raise SwiftSpikeError("calibration needs at least one activation sample")
    mu = float(mu)
    if method == "max":
        th = min(float(x.detach().max()), mu)
        th = th if th > 0 else mu
        return LayerCalibration(th, th)
    if method == "percentile":
        if not 0 < percentile <= 100:
            raise SwiftSpikeError(f"percentile must be in (0, 100], got {percentile}")
        act = x.detach().reshape(-1).float().clamp(0, mu)
        n_pos = int(torch.count_nonzero(act))
        if n_pos == 0:
            return LayerCalibration(mu, mu)
        k = min(max(1, round(float(percentile) / 100 * n_pos)), n_pos)
        th = kth_smallest(act, act.numel() - n_pos + k, generator)  # the k-th smallest positive value
        return LayerCalibration(th, th)
    if method == "uniform-optimal":
        return LayerCalibration(mu, mu, mu / (2 * T))
    if max_samples is not None and x.numel() > check_positive_int(max_samples, "max_samples"):
        idx = torch.randint(x.numel(), (max_samples,), generator=generator, device=x.device)
        x = x.reshape(-1)[idx]
        target = None if target is None else target.reshape(-1)[idx]
        x_steps = None if x_steps is None else x_steps.reshape(T, -1)[:, idx]
    return fit_threshold_amplitude(x, mu, T, target=target, x_steps=x_steps)
