import math

import pytest
import torch

from swiftspike.conversion import (METHODS, LayerCalibration, calibrate_layer, calibration_error,
                                   fit_threshold_amplitude, staircase)
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
    if method == "percentile":  # the ceiling is the 99.9th percentile, not mu
        ref = x.clamp(0, cal.theta)
    else:
        ref = x.clamp(0, mu)
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
