import math
from pathlib import Path

import pytest
import torch

from swiftspike.errors import SwiftSpikeError
from swiftspike.metrics import ReportBuilder, RunRecord
from swiftspike.timestep import (
    DCParams,
    DiehlCook,
    OpCounts,
    apply_update,
    assign_labels,
    energy_per_sample,
    normalize_columns,
    predict,
    scale_knobs,
    stdp_update,
    trace_step,
)
from swiftspike.timestep.policy import EnhancementPolicy
from swiftspike.timestep.study import costs

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_trace_step_hand_computed():
    x = torch.zeros(1, 1)
    x = trace_step(x, torch.ones(1, 1), tau=20.0)
    assert x.item() == 1.0
    x = trace_step(x, torch.zeros(1, 1), tau=20.0)
    assert x.item() == pytest.approx(math.exp(-1 / 20))
    x = trace_step(x, torch.ones(1, 1), tau=20.0)
    assert x.item() == pytest.approx(math.exp(-2 / 20) + 1)


def test_pair_stdp_on_hand_computed_traces():
    # pre 0 fires at t=0, post fires at t=1, pre 1 fires at t=2
    tau, nu_pre, nu_post = 20.0, 1e-2, 1e-1
    pre = torch.tensor([[[1.0, 0.0]], [[0.0, 0.0]], [[0.0, 1.0]]])
    post = torch.tensor([[[0.0]], [[1.0]], [[0.0]]])
    w = torch.full((2, 1), 0.5)
    xp, xq = torch.zeros(1, 2), torch.zeros(1, 1)
    total = torch.zeros(2, 1)
    for t in range(3):
        xp, xq = trace_step(xp, pre[t], tau), trace_step(xq, post[t], tau)
        total += stdp_update(w, pre[t], post[t], xp, xq, nu_pre, nu_post, "pair")
    d = math.exp(-1 / tau)
    assert total[0, 0].item() == pytest.approx(nu_post * d)  # pre-before-post: potentiation
    assert total[1, 0].item() == pytest.approx(-nu_pre * d)  # post-before-pre: depression


def test_soft_bound_rule_scales_with_distance_to_bounds():
    w = torch.tensor([[0.2], [0.9]])
    s_pre, s_post = torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0]])
    x_pre, x_post = torch.tensor([[1.0, 1.0]]), torch.tensor([[1.0]])
    dw = stdp_update(w, s_pre, s_post, x_pre, x_post, nu_pre=0.1, nu_post=0.2, rule="soft")
    expect = 0.2 * (1 - w) - 0.1 * w
    assert torch.allclose(dw, expect)
    dw_pair = stdp_update(w, s_pre, s_post, x_pre, x_post, nu_pre=0.1, nu_post=0.2, rule="pair")
    assert torch.allclose(dw_pair, torch.full_like(w, 0.1))


def test_batch_reduce_sum_and_mean():
    w = torch.rand(3, 2)
    a, b = torch.rand(1, 3), torch.rand(1, 2)
    one = stdp_update(w, a, b, a, b, 0.1, 0.2)
    two = stdp_update(w, a.repeat(2, 1), b.repeat(2, 1), a.repeat(2, 1), b.repeat(2, 1), 0.1, 0.2)
    mean = stdp_update(w, a.repeat(2, 1), b.repeat(2, 1), a.repeat(2, 1), b.repeat(2, 1), 0.1, 0.2, reduce="mean")
    assert torch.allclose(two, 2 * one) and torch.allclose(mean, one)
    with pytest.raises(SwiftSpikeError):
        stdp_update(w, a, b, a, b, 0.1, 0.2, rule="bogus")
    with pytest.raises(SwiftSpikeError):
        stdp_update(w, a, b, a, b, 0.1, 0.2, reduce="max")


def test_apply_update_clips_and_normalisation():
    w = torch.tensor([[0.5, 0.0], [0.5, 0.0]])
    apply_update(w, torch.tensor([[0.9, -1.0], [0.0, 0.0]]))
    assert w.max() <= 1 and w.min() >= 0
    w = torch.rand(784, 5)
    w[:, 3] = 0
    normalize_columns(w, 78.4)
    s = w.sum(0)
    assert torch.allclose(s[[0, 1, 2, 4]], torch.full((4,), 78.4), rtol=1e-5)
    assert s[3] == 0


def test_label_assignment_and_prediction():
    counts = torch.tensor([[5.0, 0, 1], [3.0, 1, 0], [0.0, 4, 0], [1.0, 0, 6]])
    y = torch.tensor([0, 0, 1, 2])
    labels = assign_labels(counts, y, 3)
    assert labels.tolist() == [0, 1, 2]
    assert predict(counts, labels, 3).tolist() == [0, 0, 1, 2]
    # class 1 has no neuron: it can never win
    assert predict(torch.tensor([[0.0, 0.0, 0.0]]), torch.tensor([0, 0, 2]), 3).item() != 1
    with pytest.raises(SwiftSpikeError):
        assign_labels(counts, y[:2], 3)


def _binary_inputs(n, f, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, f, generator=g) < 0.3).float()


def test_inference_is_exactly_batched():
    # input_rate 1000 Hz at dt 1 ms -> p = pixel, binary pixels -> deterministic input spikes
    p = DCParams(input_rate=1000.0)
    net = DiehlCook(50, 8, p, seed=1)
    x = _binary_inputs(3, 50)
    rec = net.run(x, 30, record=True)
    both = rec.layers[0].spikes
    assert both.sum() > 0
    for i in range(3):
        one = net.run(x[i : i + 1], 30, record=True).layers[0].spikes
        assert torch.equal(one, both[:, i : i + 1])
    c = OpCounts.from_record(rec)
    assert c.samples == 3 and c.steps == 30 and c.trace_updates == 0
    assert c.synops == pytest.approx(c.input_spikes * 8 + c.exc_spikes + c.inh_spikes * 7)


def test_run_returns_the_one_run_record():
    p = DCParams(input_rate=1000.0)
    net = DiehlCook(50, 8, p, seed=1)
    x = _binary_inputs(4, 50, seed=2)
    rec = net.run(x, 25, record=True)
    assert isinstance(rec, RunRecord) and rec.output.shape == (25, 4, 0)  # no labels yet: no class evidence
    exc, inh = rec.layers
    assert (exc.name, exc.n_neurons, inh.name) == ("exc", 8, "inh")
    assert torch.equal(exc.per_step, exc.spikes.sum(2))
    # synaptic events per sample, all accumulates
    n_in = x.sum(1) * 25
    acs = {so.name: so.acs for so in rec.synops}
    assert torch.allclose(acs["input->exc"], n_in * 8)
    assert torch.allclose(acs["exc->inh"], exc.per_step.sum(0))
    assert torch.allclose(acs["inh->exc"], inh.per_step.sum(0) * 7)
    assert all(float(so.macs.sum()) == 0 for so in rec.synops)
    assert torch.equal(rec.stats["exc_spikes"], exc.per_step.sum(0))
    # with labels the output is per-step class evidence whose running arg-max is predict()'s class
    net.assign(x, torch.tensor([0, 1, 2, 3]), 25)
    rec = net.run(x, 25)
    assert rec.output.shape == (25, 4, 10)
    pred, _ = net.predict(x, 25)
    scores = rec.output.sum(0)
    top2 = scores.topk(2, dim=1).values
    decided = top2[:, 0] > top2[:, 1]
    assert decided.any()
    assert torch.equal(scores.argmax(1)[decided], pred[decided])
    # the one metrics path reads it like any other executor's record
    rb = ReportBuilder()
    rb.add(rec, pred)
    rep = rb.build()
    assert rep.accuracy == pytest.approx(float(decided.float().mean()))  # ties count as undecided there
    assert rep.spikes_per_layer["exc"] == pytest.approx(float(rec.layers[0].per_step.sum()) / 4)
    assert rep.synops == pytest.approx(sum(float(so.acs.sum()) for so in rec.synops) / 4)


@pytest.mark.parametrize("policy_file", ["topspark_policy_mnist5k_n400.json", "topspark_policy_fmnist_n400.json"])
def test_refractory_neuron_neither_integrates_nor_fires_with_shipped_policies(policy_file):
    """Before the one kernel, a refractory excitatory neuron was still compared with its threshold, so
    with a threshold gap below v_reset - v_rest (the MNIST policy at T = 50: 4.91 mV < 5 mV) it fired on
    every step after its first spike. Now spikes are at least refrac + 1 steps apart."""
    pol = EnhancementPolicy.load(DOCS / policy_file)
    base = DCParams(theta_plus=0.2)  # the topspark CLI's baseline, to which the policies are applied
    covered = False
    for T in sorted(pol.table):
        p = pol.params_for(T, base)
        r = round(p.refrac / p.dt)
        net = DiehlCook(100, 1, p, seed=T)  # one excitatory neuron: no lateral inhibition, theta = 0
        s = net.run(torch.ones(1, 100), 120, record=True).layers[0].spikes[:, 0, 0]
        t_spk = s.nonzero().flatten()
        assert len(t_spk) >= 3, f"{policy_file} T={T}: the input must drive the neuron to fire repeatedly"
        assert int(t_spk.diff().min()) >= r + 1, f"{policy_file} T={T}: a spike inside the refractory period"
        if p.threshold_gap < p.v_reset - p.v_rest and r >= 1:
            covered = True
            # the reset value lies above the threshold, yet the neuron is silent while refractory
            assert len(t_spk) <= -(-120 // (r + 1)) and float(s[int(t_spk[0]) :].mean()) < 0.5
    if "mnist5k" in policy_file:
        assert covered, "the MNIST policy has a threshold gap below v_reset - v_rest (T = 50)"


def test_learning_keeps_bounds_and_normalisation_inference_changes_nothing():
    net = DiehlCook(100, 10, DCParams(input_rate=500.0, theta_plus=0.1), seed=0)
    x = _binary_inputs(4, 100)
    w0, th0 = net.W.clone(), net.theta.clone()
    net.run(x, 20)
    assert torch.equal(net.W, w0) and torch.equal(net.theta, th0)
    rec = net.run(x, 40, learn=True, record=True)
    counts, c = rec.layers[0].spikes.sum(0), OpCounts.from_record(rec)
    assert counts.sum() > 0, "the test needs some excitatory spikes"
    assert not torch.equal(net.W, w0)
    assert net.W.min() >= 0 and net.W.max() <= 1
    assert torch.allclose(net.W.sum(0), torch.full((10,), 10.0), rtol=1e-4)
    # theta grows by theta_plus per spike (decay over 40 ms with tau 1e7 ms is negligible)
    assert torch.allclose(net.theta, 0.1 * counts.sum(0), rtol=1e-4)
    assert c.weight_updates == pytest.approx(c.input_spikes * 10 + c.exc_spikes * 100)


@pytest.mark.parametrize("n", [100, 400, 900])
def test_paper_sizes_run_and_learn(n):
    net = DiehlCook(784, n, seed=0)
    x = torch.rand(4, 784)
    c = net.fit(x, torch.tensor([0, 1, 2, 3]), T=6, batch=2)
    assert net.labels.shape == (n,) and c.samples == 4
    pred, _ = net.predict(x, 6)
    assert pred.shape == (4,)


def test_bad_inputs_raise():
    net = DiehlCook(10, 4)
    with pytest.raises(SwiftSpikeError):
        net.run(torch.rand(2, 11), 5)
    with pytest.raises(SwiftSpikeError):
        net.run(torch.rand(2, 10) + 1, 5)
    with pytest.raises(SwiftSpikeError):
        net.run(torch.rand(2, 10), 0)
    with pytest.raises(SwiftSpikeError):
        net.predict(torch.rand(2, 10), 5)
    with pytest.raises(SwiftSpikeError):
        DCParams(tau=-1).validate()
    with pytest.raises(SwiftSpikeError):
        DCParams().updated(bogus=1)
    with pytest.raises(SwiftSpikeError):
        scale_knobs(DCParams(), {"bogus": 2.0})


def test_scale_knobs_and_energy_table():
    p = scale_knobs(DCParams(), {"learning_rate": 2.0, "leak": 0.5})
    assert p.nu_pre == pytest.approx(2e-4) and p.nu_post == pytest.approx(2e-2) and p.tau == 50.0
    k = costs()
    c = OpCounts(samples=2, synops=10, neuron_updates=4, trace_updates=6, weight_updates=8, norm_ops=2)
    assert energy_per_sample(c, False) == pytest.approx((10 * k["synop"] + 4 * k["neuron_update"]) / 2)
    assert energy_per_sample(c, True) == pytest.approx(
        (10 * k["synop"] + 4 * k["neuron_update"] + 16 * k["weight_update"]) / 2
    )
