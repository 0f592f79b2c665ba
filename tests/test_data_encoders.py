"""Spike encoders: statistics, analytic spike times, shapes and bad input."""

import math

import pytest
import torch

from swiftspike.data.encoders import (
    DirectEncoder,
    LatencyEncoder,
    RateEncoder,
    SequenceEncoder,
    delta_encode,
    direct_encode,
    latency_encode,
    make_encoder,
    rate_encode,
)
from swiftspike.errors import SwiftSpikeError


def test_rate_bernoulli_mean_matches_probability():
    x = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0])
    g = torch.Generator().manual_seed(0)
    s = rate_encode(x, 4000, generator=g)
    assert s.shape == (4000, 5) and set(s.unique().tolist()) <= {0.0, 1.0}
    m = s.mean(0)
    assert m[0] == 0 and m[4] == 1
    sd = torch.sqrt(x * (1 - x) / 4000)
    assert torch.all((m - x).abs() <= 5 * sd + 1e-9)
    half = rate_encode(x, 4000, gain=0.5, generator=g).mean(0)
    assert torch.all((half - 0.5 * x).abs() < 0.04)


def test_rate_poisson_probability_and_determinism():
    x = torch.tensor([0.0, 1.0, 3.0])
    s = rate_encode(x, 4000, method="poisson", generator=torch.Generator().manual_seed(1))
    p = 1 - torch.exp(-x)
    assert torch.all((s.mean(0) - p).abs() < 0.03)
    a = rate_encode(x, 50, method="poisson", generator=torch.Generator().manual_seed(3))
    b = rate_encode(x, 50, method="poisson", generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_latency_analytic_spike_times():
    T = 11
    x = torch.tensor([[1.0, 0.5, 0.0, 0.25, 0.005]])
    s = latency_encode(x, T)
    assert s.shape == (T, 1, 5)
    assert s.sum(0).tolist() == [[1, 1, 0, 1, 0]]  # 0 and below-threshold inputs stay silent
    t_first = s[:, 0].argmax(0)
    assert t_first[0] == 0 and t_first[1] == 5 and t_first[3] == round(0.75 * (T - 1))
    one = latency_encode(torch.tensor([0.3]), 1)
    assert one.tolist() == [[1.0]]


def test_direct_repeats_input():
    x = torch.rand(2, 3)
    d = direct_encode(x, 4)
    assert d.shape == (4, 2, 3) and all(torch.equal(d[t], x) for t in range(4))
    assert torch.equal(DirectEncoder(4)(x), d)


def test_delta_on_ramp():
    seq = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 0.5, 0.25, 0.0]).reshape(9, 1, 1)
    ev = delta_encode(seq, threshold=0.5)
    # ref starts at 0; +1 when 0.5 reached (t=2), ref=0.5; +1 at t=4 (1.0); -1 at t=6 (0.5); -1 at t=8 (0.0)
    assert ev.flatten().tolist() == [0, 0, 1, 0, 1, 0, -1, 0, -1]
    sp = delta_encode(seq, threshold=0.5, split_polarity=True)
    assert sp.shape == (9, 1, 1, 2)
    assert sp[..., 0].flatten().tolist() == [0, 0, 1, 0, 1, 0, 0, 0, 0]
    assert sp[..., 1].flatten().tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 1]
    slow = torch.linspace(0, 0.3, 31).reshape(31, 1)  # drifts 0.01 per step: events every ~0.1
    assert delta_encode(slow, threshold=0.1).sum() in (2, 3)
    ints = delta_encode(torch.tensor([[0], [2], [2]]), threshold=1.0)
    assert ints.flatten().tolist() == [0, 1, 0]


def test_encoder_objects_and_factory():
    x = torch.full((3, 2), 0.5)
    for name, cls in (
        ("rate", RateEncoder),
        ("poisson", RateEncoder),
        ("latency", LatencyEncoder),
        ("direct", DirectEncoder),
    ):
        enc = make_encoder(name, 7)
        assert isinstance(enc, cls) and enc(x).shape == (7, 3, 2)
    assert make_encoder("poisson", 3).method == "poisson"
    seq = torch.arange(24.0).reshape(2, 3, 4)  # [B, T, F]
    out = make_encoder("sequence", 3)(seq)
    assert isinstance(SequenceEncoder(), SequenceEncoder) and torch.equal(out, seq.transpose(0, 1))
    assert rate_encode(torch.tensor([1, 0]), 3).tolist() == [[1, 0]] * 3  # integer input accepted


@pytest.mark.parametrize(
    "call",
    [
        lambda: rate_encode(torch.rand(3), 0),
        lambda: rate_encode(torch.rand(3), -2),
        lambda: latency_encode(torch.rand(3), 0),
        lambda: direct_encode(torch.rand(3), 2.5),
        lambda: rate_encode(torch.tensor([0.2, math.nan]), 5),
        lambda: latency_encode(torch.tensor([math.inf]), 5),
        lambda: direct_encode(torch.tensor([math.nan]), 5),
        lambda: delta_encode(torch.tensor([[math.nan]]), 0.1),
        lambda: delta_encode(torch.zeros(0, 2), 0.1),
        lambda: delta_encode(torch.zeros(4), 0.1),
        lambda: delta_encode(torch.zeros(4, 2), 0.0),
        lambda: rate_encode(torch.tensor([1.5]), 3),
        lambda: rate_encode(torch.tensor([-0.5]), 3, method="poisson"),
        lambda: rate_encode(torch.rand(3), 3, gain=math.nan),
        lambda: rate_encode(torch.rand(3), 3, method="gauss"),
        lambda: rate_encode([0.1, 0.2], 3),
        lambda: make_encoder("morse", 5),
        lambda: make_encoder("rate", 0),
        lambda: RateEncoder(5, method="gauss"),
        lambda: SequenceEncoder()(torch.zeros(2, 0, 3)),
    ],
)
def test_encoder_bad_input(call):
    with pytest.raises(SwiftSpikeError):
        call()
