"""Randman generator: analytic manifold, exactly n_spikes per unit, determinism, class structure."""

import math

import numpy as np
import pytest
import torch

from swiftspike.data import load_dataset
from swiftspike.data.randman import (
    RandomManifold,
    load_randman,
    make_randman,
    n_fourier_terms,
    randman_to_dense,
    spectrum,
)
from swiftspike.errors import SwiftSpikeError


def test_fourier_terms_and_spectrum():
    assert n_fourier_terms(2.0) == 32
    assert n_fourier_terms(0.5) == 1000  # capped
    np.testing.assert_allclose(spectrum(3, 2.0), [1 / 2, 1 / 5, 1 / 10])


def test_manifold_matches_formula():
    m = RandomManifold.random(3, 2, alpha=2.0, seed=5)
    assert m.theta.shape == (3, 2, 3, 32) and np.all(m.theta[:, :, 0, 0] == 0)
    x = np.array([[0.1, 0.7], [0.9, 0.3]])
    y = m(x)
    s = spectrum(32, 2.0)
    for n in range(2):
        for j in range(3):
            prod = 1.0
            for i in range(2):
                a, b, c = m.theta[j, i]
                prod *= sum(a[k] * s[k] * math.sin(2 * math.pi * (k * x[n, i] * b[k] + c[k])) for k in range(32))
            assert y[n, j] == pytest.approx(prod, rel=1e-10, abs=1e-14)


def test_make_randman_shape_spikes_and_determinism():
    kw = dict(n_classes=3, n_units=20, n_steps=30, dim_manifold=1, n_spikes=2, n_samples=50)
    ev, lab = make_randman(**kw, seed=3)
    assert ev.shape == (150, 40, 2) and lab.shape == (150,)
    assert np.bincount(lab).tolist() == [50, 50, 50]
    assert not np.all(np.diff(lab) >= 0)  # shuffled
    t, u = ev[..., 0], ev[..., 1]
    assert t.min() >= 0 and t.max() <= 30
    for n in range(len(lab)):  # every unit exactly n_spikes times
        assert np.bincount(u[n].astype(int), minlength=20).tolist() == [2] * 20
    for c in range(3):  # per-class min-max normalisation reaches both ends for every unit
        tc = t[lab == c]
        np.testing.assert_allclose(tc.min(axis=0), 0, atol=1e-9)
        np.testing.assert_allclose(tc.max(axis=0), 30, atol=1e-9)
    ev2, lab2 = make_randman(**kw, seed=3)
    np.testing.assert_array_equal(ev, ev2)
    np.testing.assert_array_equal(lab, lab2)
    ev3, _ = make_randman(**kw, seed=4)
    assert not np.allclose(ev, ev3)


def test_classes_differ_and_step_frac():
    ev, lab = make_randman(n_classes=2, n_units=10, n_steps=20, dim_manifold=1, n_samples=200, seed=0, step_frac=0.5)
    assert ev[..., 0].max() <= 10 + 1e-9
    m0, m1 = ev[lab == 0, :, 0].mean(0), ev[lab == 1, :, 0].mean(0)
    assert np.abs(m0 - m1).max() > 1.0  # different manifolds give different mean timing


def test_dense_binning_counts():
    ev = np.array([[[0.0, 0], [2.5, 1], [3.0, 1], [0.99, 2]]])
    d = randman_to_dense(ev, n_units=3, n_steps=3)
    expect = np.zeros((1, 3, 3), np.float32)
    expect[0, 0, 0] = 1
    expect[0, 2, 1] = 2  # t=2.5 -> step 2, t=3.0 clipped to the last step
    expect[0, 0, 2] = 1
    np.testing.assert_array_equal(d, expect)
    with pytest.raises(SwiftSpikeError):
        randman_to_dense(ev, n_units=2, n_steps=3)
    with pytest.raises(SwiftSpikeError):
        randman_to_dense(np.full((1, 2, 2), np.nan), n_units=3, n_steps=3)


def test_load_randman_dataset():
    d = load_dataset("randman", seed=1, n_classes=3, n_units=12, n_steps=25, n_samples=40)
    assert d.temporal and d.n_classes == 3 and d.input_shape == (12,)
    assert d.x_train.shape[1:] == (25, 12) and d.x_train.shape[0] + d.x_test.shape[0] == 120
    assert torch.all(d.x_train.sum(dim=1) == 1)  # one spike per unit and sample
    dflt = load_randman()
    assert dflt.x_train.shape[1:] == (50, 40) and dflt.n_classes == 5


@pytest.mark.parametrize(
    "kw",
    [
        dict(n_units=0),
        dict(n_steps=-1),
        dict(n_classes=1.5),
        dict(alpha=0),
        dict(step_frac=0),
        dict(step_frac=1.5),
        dict(n_spikes=0),
    ],
)
def test_randman_bad_params(kw):
    with pytest.raises(SwiftSpikeError):
        make_randman(**{**dict(n_classes=2, n_units=4, n_steps=5, n_samples=3), **kw})


def test_load_randman_unknown_param():
    with pytest.raises(SwiftSpikeError, match="unknown randman parameter"):
        load_dataset("randman", n_neurons=3)
