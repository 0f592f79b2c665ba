"""PSN baselines and reset-free LIF: analytic cases, serial == parallel, gradients, errors."""

import math

import pytest
import torch

from swiftspike.engines.sync import SNN
from swiftspike.errors import SwiftSpikeError
from swiftspike.neurons import LIF, PSN, LIFNoReset, MaskedPSN, SlidingPSN, reset
from swiftspike.neurons.factory import make_neuron


def test_psn_is_heaviside_of_weighted_sum():
    T = 6
    n = PSN(T)
    with torch.no_grad():
        n.weight.copy_(torch.tril(torch.ones(T, T)))  # cumulative sum over time
        n.bias.fill_(2.5)
    x = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 1.0]).reshape(T, 1, 1)
    s = n(x)
    # running sums 1,1,2,3,3,4 -> fire when > 2.5
    assert s.flatten().tolist() == [0, 0, 0, 1, 1, 1]


def test_psn_gradients_flow_to_weights_and_input():
    n = PSN(8)
    x = torch.randn(8, 3, 5, requires_grad=True)
    n(x).sum().backward()
    assert n.weight.grad.abs().sum() > 0 and n.bias.grad.abs().sum() > 0 and x.grad.abs().sum() > 0


def test_masked_psn_is_causal_band():
    T, k = 10, 3
    n = MaskedPSN(T, k=k)
    W = n.effective_weight()
    t = torch.arange(T)
    d = t[:, None] - t[None, :]
    assert torch.all(W[(d < 0) | (d >= k)] == 0)
    # a change at step 4 only affects steps 4..4+k-1
    x = torch.randn(T, 2, 3)
    x2 = x.clone()
    x2[4] += 5.0
    h1 = W @ x.reshape(T, -1)
    h2 = W @ x2.reshape(T, -1)
    changed = (h1 - h2).abs().sum(1) > 0
    assert changed.nonzero().flatten().tolist() == [4, 5, 6]


def test_masked_psn_and_sliding_psn_agree_with_shared_weights():
    T, k = 12, 4
    sp = SlidingPSN(k=k)
    mp = MaskedPSN(T, k=k)
    with torch.no_grad():
        w = torch.tensor([0.1, -0.3, 0.5, 0.9])
        sp.weight.copy_(w)
        sp.bias.fill_(0.4)
        # W[t, t-k+1+j] = w_j
        W = torch.zeros(T, T)
        for t in range(T):
            for j in range(k):
                s = t - k + 1 + j
                if s >= 0:
                    W[t, s] = w[j]
        mp.weight.copy_(W)
        mp.bias.fill_(0.4)
    x = torch.randn(T, 3, 2)
    assert torch.equal(sp(x), mp(x))


def test_sliding_psn_segments_and_single_step():
    x = torch.randn(30, 2, 4)
    n = SlidingPSN(k=4)
    whole = n(x)
    reset(n)
    parts = torch.cat([n(x[:7]), n(x[7:8]), n(x[8:])])
    assert torch.equal(parts, whole)
    reset(n)
    n.step_mode = "s"
    single = torch.stack([n(x[t]) for t in range(30)])
    assert torch.equal(single, whole)


def test_lif_noreset_matches_lif_without_spikes_and_analytic():
    # below threshold no LIF spike ever happens, so a reset-free LIF has the same membrane
    tau = 4.0
    x = torch.full((50, 1, 1), 0.1)
    n = LIFNoReset(tau=tau, v_threshold=100.0)
    n(x)
    beta = math.exp(-1 / tau)
    expected = 0.1 * (1 - beta**50) / (1 - beta)
    assert abs(float(n.v) - expected) < 1e-5
    lif = LIF(tau=tau, v_threshold=100.0)
    lif(x)
    assert torch.allclose(lif.state.v, n.v, atol=1e-6)


def test_lif_noreset_keeps_firing_while_lif_resets():
    x = torch.zeros(10, 1, 1)
    x[0] = 5.0
    s_nr = LIFNoReset(tau=1e6, v_threshold=1.0)(x)  # no leak, no reset: fires every step
    s_lif = LIF(tau=1e6, v_threshold=1.0)(x)  # fires once then resets
    assert s_nr.sum() == 10 and s_lif.sum() == 1


def test_lif_noreset_single_step_equals_parallel_and_grad():
    x = torch.randn(40, 2, 3, requires_grad=True)
    n = LIFNoReset(tau=3.0, v_threshold=0.5)
    s = n(x)
    s.sum().backward()
    g_par = x.grad.clone()
    x.grad = None
    n2 = LIFNoReset(tau=3.0, v_threshold=0.5, step_mode="s")
    s2 = torch.stack([n2(x[t]) for t in range(40)])
    s2.sum().backward()
    assert torch.equal(s, s2)
    assert torch.allclose(x.grad, g_par, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "name,kw",
    [
        ("psn", {"T": 6}),
        ("masked-psn", {"T": 6, "k": 2}),
        ("sliding-psn", {}),
        ("lif-noreset", {}),
        ("dsn", {"channels": 5}),
        ("dsn-binary", {}),
    ],
)
def test_same_layer_interface_in_a_network(name, kw):
    torch.manual_seed(0)
    net = SNN(torch.nn.Linear(3, 5), make_neuron(name, **kw), torch.nn.Linear(5, 2), make_neuron("li"))
    x = torch.rand(6, 4, 3)
    out = net(x)
    assert out.shape == (6, 4, 2)
    out.sum().backward()
    assert net[0].weight.grad is not None and torch.isfinite(net[0].weight.grad).all()


def test_psn_errors():
    with pytest.raises(SwiftSpikeError):
        PSN(4)(torch.randn(5, 1, 2))
    with pytest.raises(SwiftSpikeError):
        PSN(4, step_mode="s")
    with pytest.raises(SwiftSpikeError):
        make_neuron("psn")  # T is required
    with pytest.raises(SwiftSpikeError):
        PSN(0)
    with pytest.raises(SwiftSpikeError):
        make_neuron("nope")
    n = SlidingPSN()
    n(torch.randn(3, 2, 2))
    with pytest.raises(SwiftSpikeError):
        n(torch.randn(3, 4, 2))
