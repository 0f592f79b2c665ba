import math

import pytest
import torch

from swiftspike.conversion import (
    METHODS,
    LayerCalibration,
    calibrate_layer,
    calibration_error,
    fit_threshold_amplitude,
    staircase,
)
from swiftspike.conversion.calibrate import if_spike_counts, kth_smallest, spike_count_thresholds
from swiftspike.errors import SwiftSpikeError
from swiftspike.neurons import IF


@pytest.mark.parametrize("T", [1, 2, 3, 8])
def test_staircase_equals_soft_reset_if_neuron(T):
    x = torch.rand(4000, generator=torch.Generator().manual_seed(T)) * 4.0 - 1.0  # off the exact step edges
    theta, amp, shift = 0.8, 1.3, 0.1
    neuron = IF(v_threshold=theta, reset="soft")
    s = neuron((x + shift).expand(T, -1).contiguous())
    sim = amp * s.mean(0)
    assert torch.allclose(sim, staircase(x, T, theta, amp, shift), atol=1e-6)


@pytest.mark.parametrize("T", [1, 2, 5])
def test_if_spike_counts_match_the_if_module_and_the_staircase_on_constant_input(T):
    g = torch.Generator().manual_seed(T)
    x_steps = torch.rand(T, 3000, generator=g) * 3.0 - 0.5
    neuron = IF(v_threshold=0.7, reset="soft")
    assert torch.equal(if_spike_counts(x_steps, 0.7), neuron(x_steps).sum(0))
    const = x_steps[0].expand(T, -1)
    assert torch.allclose(if_spike_counts(const, 0.7) / T, staircase(x_steps[0], T, 0.7, 1.0), atol=1e-6)


def test_late_input_spikes_less_than_its_mean_suggests():
    # mean current theta over T=2, but all of it arrives at step 2: the staircase says 2 spikes, IF fires 1
    x_steps = torch.tensor([[0.0], [2.0]])
    assert float(staircase(x_steps.mean(0), 2, 1.0, 1.0) * 2) == 2.0
    assert float(if_spike_counts(x_steps, 1.0)) == 1.0


def test_temporal_fit_has_lower_real_error_on_spike_train_inputs():
    """Fitted on the time course, (theta, A) beat the constant-current fit when judged by the real IF output."""
    T, mu = 2, 1.0
    g = torch.Generator().manual_seed(0)
    late = torch.rand(20000, generator=g) < 0.5  # half of the samples get their whole input at step 2
    total = torch.rand(20000, generator=g) * 1.2
    x_steps = torch.stack([torch.where(late, 0.0, total / 2), torch.where(late, total, total / 2)])
    x = x_steps.mean(0)
    y = x.clamp(0, mu)

    def real_error(cal):
        out = cal.amplitude * if_spike_counts(x_steps, cal.theta) / T
        return float(((y - out) ** 2).mean())

    flat = fit_threshold_amplitude(x, mu, T)
    temporal = fit_threshold_amplitude(x, mu, T, x_steps=x_steps)
    assert real_error(temporal) < 0.9 * real_error(flat)
    with pytest.raises(SwiftSpikeError):
        fit_threshold_amplitude(x, mu, T, x_steps=x_steps[:1])


@pytest.mark.parametrize("dist", ["half-normal", "exponential"])
@pytest.mark.parametrize("T", [1, 2])
def test_distribution_aware_beats_max_and_uniform_on_skewed_activations(dist, T):
    g = torch.Generator().manual_seed(0)
    if dist == "half-normal":
        x = torch.randn(50_000, generator=g).abs() * 0.8
    else:
        x = -torch.log(torch.rand(50_000, generator=g)) * 0.6
    x = x - 0.3  # some negative pre-activations, as after a real layer
    mu = 4.0
    errs = {m: calibration_error(x, mu, T, calibrate_layer(m, x, mu, T)) for m in METHODS}
    assert errs["distribution-aware"] < 0.7 * errs["max"]
    assert errs["distribution-aware"] < 0.7 * errs["uniform-optimal"]
    assert errs["distribution-aware"] <= errs["percentile"]


@pytest.mark.parametrize("method", METHODS)
def test_many_steps_rate_matches_clipped_activation_within_one_over_T(method):
    g = torch.Generator().manual_seed(1)
    x = torch.rand(20_000, generator=g) * 3.0 - 0.5
    mu, T = 2.0, 256
    cal = calibrate_layer(method, x, mu, T)
    out = staircase(x, T, cal.theta, cal.amplitude, cal.shift)
    ceiling = cal.theta if method == "percentile" else mu  # percentile: the 99.9th percentile, not mu
    ref = x.clamp(0, ceiling)
    assert (out - ref).abs().max() <= cal.amplitude / T + 2e-2 * (method == "distribution-aware")


def test_fit_beats_grid_corners_and_closed_form_amplitude():
    x = torch.rand(5000, generator=torch.Generator().manual_seed(3)) ** 3 * 2
    cal = fit_threshold_amplitude(x, 2.0, 2)
    best = calibration_error(x, 2.0, 2, cal)
    for th in (0.3, 0.7, 1.0, 2.0):
        for a in (0.3, 0.7, 1.0, 2.0):
            assert best <= calibration_error(x, 2.0, 2, LayerCalibration(th, a)) + 1e-9


def test_bad_inputs():
    x = torch.rand(10)
    with pytest.raises(SwiftSpikeError):
        calibrate_layer("median", x, 1.0, 2)
    with pytest.raises(SwiftSpikeError):
        calibrate_layer("max", x, 1.0, 0)
    with pytest.raises(SwiftSpikeError):
        calibrate_layer("max", torch.tensor([1.0, math.nan]), 1.0, 2)
    with pytest.raises(SwiftSpikeError):
        calibrate_layer("max", torch.empty(0), 1.0, 2)
    with pytest.raises(SwiftSpikeError):
        calibrate_layer("percentile", x, 1.0, 2, percentile=150)
    with pytest.raises(SwiftSpikeError):
        calibrate_layer("max", x, -1.0, 2)
    with pytest.raises(SwiftSpikeError):
        staircase(x, 2, 0.0, 1.0)


def _old_grid_search(x, mu, T, n_grid=200, target=None, x_steps=None):
    """The sequential grid search the vectorised fit replaced (200 passes, one per threshold), as reference."""
    x = x.reshape(-1).float()
    y = x.clamp(0, mu) if target is None else target.reshape(-1).float()

    def rate(theta):
        return staircase(x, T, theta, 1.0) if x_steps is None else if_spike_counts(x_steps, theta) / T

    best = LayerCalibration(float(mu), float(mu))
    best_err = float(((y - mu * rate(mu)) ** 2).mean())
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


@pytest.mark.parametrize("T", [1, 2, 3, 8])
@pytest.mark.parametrize("temporal", [False, True])
def test_vectorised_fit_finds_the_same_theta_and_amplitude_as_the_old_grid_search(T, temporal):
    g = torch.Generator().manual_seed(10 * T + temporal)
    n, mu = 6000, 2.0
    x_steps = None
    if temporal:  # spike-train-like input: a random share of the current arrives at each step, some negative
        x_steps = (torch.rand(T, n, generator=g) * 2.0 - 0.4) * (torch.rand(n, generator=g) * 2.0)
        x = x_steps.mean(0)
    else:
        x = torch.randn(n, generator=g) * 0.9 + 0.3
    target = (x + 0.2 * torch.randn(n, generator=g)).clamp(0, mu)
    for tgt in (None, target):
        ref = _old_grid_search(x, mu, T, target=tgt, x_steps=x_steps)
        new = fit_threshold_amplitude(x, mu, T, target=tgt, x_steps=x_steps)
        assert new.theta == ref.theta
        assert new.amplitude == pytest.approx(ref.amplitude, rel=1e-5)


def test_fit_keeps_the_start_when_no_grid_point_beats_it():
    # every value saturates far above the grid: theta = A = mu is optimal and no grid point is better
    x = torch.full((100,), 50.0)
    assert fit_threshold_amplitude(x, 1.0, 2) == _old_grid_search(x, 1.0, 2) == LayerCalibration(1.0, 1.0)
    # nothing ever spikes: the start stays
    assert fit_threshold_amplitude(-torch.rand(100), 1.0, 2) == LayerCalibration(1.0, 1.0)


@pytest.mark.parametrize("T", [1, 2, 3, 8])
def test_spike_count_thresholds_give_the_if_neuron_counts_at_every_threshold(T):
    g = torch.Generator().manual_seed(T)
    x_steps = torch.randn(T, 5000, generator=g) + 0.3  # includes negative currents and late inputs
    th = spike_count_thresholds(x_steps)
    assert th.shape == x_steps.shape
    assert bool((th[1:] <= th[:-1]).all())  # a count of k+1 needs a lower threshold than a count of k
    for theta in (0.05, 0.3, 0.71, 1.0, 2.5):
        assert torch.equal((theta <= th).sum(0).float(), if_spike_counts(x_steps, theta))


def test_max_is_the_true_maximum_not_a_subsample_maximum():
    x = torch.rand(3_000_000, generator=torch.Generator().manual_seed(0))
    x[1_234_567] = 3.25  # one value a 200 000-sample subsample misses 93 % of the time
    cal = calibrate_layer("max", x, 4.0, 2)
    assert cal.theta == cal.amplitude == 3.25
    assert calibrate_layer("max", x, 2.0, 2).theta == 2.0  # clipped at mu
    assert calibrate_layer("max", -x, 2.0, 2).theta == 2.0  # never positive: mu


@pytest.mark.parametrize("n", [1000, 200_000])
def test_kth_smallest_is_exact(n):
    g = torch.Generator().manual_seed(n)
    v = torch.randn(n, generator=g)
    ties = (v * 20).round() / 20  # many equal values
    for t in (v, ties):
        for k in (1, 2, n // 1000 + 1, n // 2, n - n // 1000, n - 1, n):
            assert kth_smallest(t, k) == float(t.kthvalue(k).values)
    with pytest.raises(SwiftSpikeError):
        kth_smallest(v, 0)


def test_percentile_is_exact_on_all_values():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(400_000, generator=g) * 1.5
    mu = 2.5
    pos = x.clamp(0, mu)
    pos = pos[pos > 0]
    for p in (50.0, 99.0, 99.9, 100.0):
        k = min(max(1, round(p / 100 * pos.numel())), pos.numel())
        th = float(pos.kthvalue(k).values)
        assert calibrate_layer("percentile", x, mu, 2, percentile=p) == LayerCalibration(th, th)
