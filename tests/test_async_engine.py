import math

import pytest
import torch
from torch import nn

from swiftspike import IF, LIF, reset
from swiftspike.asynch import AsyncConfig, AsyncEngine, AsyncGraph, run_async, select_top
from swiftspike.bench.asynch import IndexTieMomentum, naive_reference
from swiftspike.engines.sync import run_sync
from swiftspike.errors import SwiftSpikeError
from swiftspike.models import build_model, default_spec


def _fc(seed, reset_mode="hard", widths=(20, 30, 25, 10), scale=3.0):
    torch.manual_seed(seed)
    layers = [nn.Flatten()]
    for i in range(len(widths) - 1):
        layers += [nn.Linear(widths[i], widths[i + 1]), LIF(tau=2.0 + i, reset=reset_mode)]
    net = nn.Sequential(*layers)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.mul_(scale)
                m.bias.mul_(3.0)
    return net


def _sync(net, x):
    reset(net)
    with torch.no_grad():
        return run_sync(net, x, record=True)


@pytest.mark.parametrize(
    "seed,reset_mode,sched", [(0, "hard", "random"), (1, "soft", "momentum"), (2, "hard", "momentum")]
)
def test_fc_equals_sync_engine_exactly(seed, reset_mode, sched):
    net = _fc(seed, reset_mode)
    x = (torch.rand(40, 12, 20) < 0.4).float()
    ref = _sync(net, x)
    with torch.no_grad():
        rec = run_async(net, x, F=30, scheduler=sched)  # F = widest layer
    assert sum(float(ls.per_step.sum()) for ls in ref.layers) > 100
    for a, b in zip(ref.layers, rec.layers):
        assert torch.equal(a.per_step, b.per_step)
    assert torch.equal(ref.output, rec.output)


@pytest.mark.parametrize(
    "nk,readout", [({}, "spike"), ({"reset": "soft"}, "spike"), ({"tau": 2.0, "v_threshold": 0.5}, "li")]
)
def test_conv_equals_sync_engine_exactly(nk, readout):
    torch.manual_seed(3)
    net = build_model(default_spec([1, 8, 8], 10, arch="conv", hidden=[6, 20], neuron_kwargs=nk, readout=readout))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.mul_(2)
                m.bias.mul_(2)
    x = (torch.rand(15, 6, 1, 8, 8) < 0.3).float()
    ref = _sync(net, x)
    with torch.no_grad():
        rec = run_async(net, x, F=6 * 64, scheduler="random", record_synops=True)
    for a, b in zip(ref.layers, rec.layers):
        assert torch.equal(a.per_step, b.per_step)
    if readout == "spike":
        assert torch.equal(ref.output, rec.output)
    else:
        assert torch.allclose(ref.output, rec.output, atol=1e-4)
    # synaptic events are the same as the sync engine's count
    for a, b in zip(ref.synops, rec.synops):
        assert torch.allclose(a.acs + a.macs, b.acs + b.macs)


@pytest.mark.parametrize("sched", ["random", "momentum"])
def test_queued_inputs_and_sync_gate_equal_sync(sched):
    net = _fc(4).double()
    x = (torch.rand(20, 8, 20) < 0.4).double()
    ref = _sync(net, x)
    with torch.no_grad():
        q = run_async(net, x, F=20 + 65, scheduler=sched, input_mode="queued")
        gate = run_async(net, x, F=2, scheduler=sched, sync_gate=True, input_mode="queued")
        free = run_async(net, x, F=2, scheduler=sched, input_mode="queued")
    for a, b, c in zip(ref.layers, q.layers, gate.layers):
        assert torch.equal(a.per_step, b.per_step)
        assert torch.equal(a.per_step, c.per_step)
    # without the gate, small F really changes the dynamics
    assert any(not torch.equal(a.per_step, c.per_step) for a, c in zip(ref.layers, free.layers))


@pytest.mark.parametrize("ties", [False, True])
def test_engine_matches_naive_reference_with_small_F(ties):
    net = _fc(5, widths=(12, 16, 16, 6)).double()
    if ties:  # quantised weights: many equal membranes, ties broken by the lower index in both
        with torch.no_grad():
            for m in net:
                if isinstance(m, nn.Linear):
                    m.weight.copy_(torch.round(m.weight * 2) / 2)
                    m.bias.zero_()
    g = AsyncGraph.from_sequential(net, (12,))
    x = (torch.rand(5, 3, 12) < 0.5).double()
    ref_counts, ref_steps, done = naive_reference(g, x, F=3)
    assert done == 5 and ref_counts.sum() > 20
    for currents in ("dense", "gather"):
        rec = AsyncEngine(g, AsyncConfig(F=3, scheduler=IndexTieMomentum(), currents=currents)).run(x)
        counts = torch.stack([ls.per_step for ls in rec.layers], 2).float()
        assert torch.equal(counts, ref_counts)
        assert float(rec.stats["steps"].sum()) == ref_steps


def test_select_top_and_F1_emits_one_spike_per_step():
    queued = torch.tensor([[True, False, True, True], [False, False, False, False]])
    prio = torch.tensor([[0.1, 9.0, 0.7, 0.3], [1.0, 2.0, 3.0, 4.0]])
    assert select_top(queued, prio, 1).tolist() == [[False, False, True, False], [False] * 4]
    assert select_top(queued, prio, 2).tolist() == [[False, False, True, True], [False] * 4]
    net = _fc(6)
    x = (torch.rand(6, 5, 20) < 0.4).float()
    with torch.no_grad():
        r1 = run_async(net, x, F=1, scheduler="random")
        r3 = run_async(net, x, F=3, scheduler="momentum")
    assert r1.stats["max_emitted"].max() == 1
    assert r3.stats["max_emitted"].max() == 3
    # every network spike needs its own emission step when F = 1
    assert (r1.stats["steps"] >= r1.stats["spikes"]).all()


def _order_graph():
    """input(1) -> A (3 IF neurons, drives 1.5, 3.0, 2.0) -> B (3 IF neurons, one-to-one)."""
    g = AsyncGraph((1,))
    a = g.add_population("A", IF(), (3,))
    b = g.add_population("B", IF(), (3,))
    la, lb = nn.Linear(1, 3, bias=False), nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        la.weight.copy_(torch.tensor([[1.5], [3.0], [2.0]]))
        lb.weight.copy_(torch.eye(3) * 2)
    g.connect(-1, a, la)
    g.connect(a, b, lb)
    return g


def test_momentum_emits_largest_membrane_first_random_does_not():
    g = _order_graph()
    x = torch.ones(1, 300, 1)
    with torch.no_grad():
        mom = AsyncEngine(g, AsyncConfig(F=1, scheduler="momentum", stop="first_output")).run(x)
        rnd = AsyncEngine(
            g, AsyncConfig(F=1, scheduler="random", stop="first_output"), generator=torch.Generator().manual_seed(0)
        ).run(x)
    first_mom = mom.output[0].argmax(1)
    assert (mom.output[0].sum(1) == 1).all() and (first_mom == 1).all()  # h = 3.0 goes first
    counts = torch.bincount(rnd.output[0].argmax(1), minlength=3).float() / 300
    assert (counts > 0.2).all()  # random: each neuron first about a third of the time


def test_stop_rules():
    net = _fc(7, scale=4.0)
    x = (torch.rand(10, 16, 20) < 0.5).float()
    with torch.no_grad():
        q = run_async(net, x, F=2, scheduler="random")
        k0 = run_async(net, x, F=2, scheduler="momentum", stop="first_output", k=0)
        k5 = run_async(net, x, F=2, scheduler="momentum", stop="first_output", k=5)
    s = k0.stats
    fired = ~torch.isnan(s["steps_to_first_output"])
    assert fired.all()
    assert torch.equal(s["steps"], s["steps_to_first_output"])  # stopped right at the first output spike
    assert (k0.output.sum((0, 2)) >= 1).all()
    d = k5.stats["steps"] - k5.stats["steps_to_first_output"]
    assert (d <= 5).all() and (d == 5).float().mean() > 0.5
    assert (k5.stats["spikes"] <= q.stats["spikes"] + 1e-9).float().mean() > 0.5
    assert (k0.stats["spikes"] < q.stats["spikes"]).all()
    # spikes before the first output spike never exceed spikes in total
    assert (s["spikes_to_first_output"] <= s["spikes"]).all()


def _recurrent_graph(w_rec=5.0):
    g = AsyncGraph((4,))
    p = g.add_population("R", LIF(tau=10.0), (8,))
    inp, rec = nn.Linear(4, 8, bias=False), nn.Linear(8, 8, bias=False)
    with torch.no_grad():
        inp.weight.fill_(1.2)
        rec.weight.fill_(w_rec)
    g.connect(-1, p, inp)
    g.connect(p, p, rec)
    return g


def test_refractoriness_once_per_frame_and_dropout_only_in_training():
    g = _recurrent_graph()
    x = torch.ones(6, 3, 4)
    with torch.no_grad():
        r = AsyncEngine(g, AsyncConfig(F=1, refractory_dropout=0.9)).run(x)
    assert r.output.max() == 1  # strong self-excitation, still at most one spike per neuron per frame
    assert r.output.sum() == 6 * 3 * 8
    torch.manual_seed(0)
    rd = AsyncEngine(g, AsyncConfig(F=1, refractory_dropout=0.9, max_steps_per_frame=200)).run(x)
    assert rd.output.max() > 1  # with gradients on (training) dropout lets neurons fire again


def test_bias_enters_once_per_frame():
    """Zero-weight connections keep touching B every step; its bias 0.3 must still count once per frame."""
    g = AsyncGraph((4,))
    a = g.add_population("A", IF(), (10,))
    b = g.add_population("B", IF(), (1,))
    la, lb = nn.Linear(4, 10, bias=False), nn.Linear(10, 1)
    with torch.no_grad():
        la.weight.fill_(1.0)
        lb.weight.zero_()
        lb.weight[0, 0] = 1e-9  # a tiny, non-zero current every time A emits
        lb.bias.fill_(0.3)
    g.connect(-1, a, la)
    g.connect(a, b, lb)
    x = torch.ones(12, 2, 4)
    with torch.no_grad():
        rec = AsyncEngine(g, AsyncConfig(F=1)).run(x)  # F=1: ~10 forward steps per frame
    assert (rec.frame_steps >= 10).all()
    fired = rec.output[:, 0, 0].nonzero().flatten().tolist()
    assert fired == [3, 7, 11]  # 0.3 per frame crosses 1.0 in the 4th frame, then again after reset


def test_skip_connection_graph_runs_and_counts():
    g = AsyncGraph((6,))
    h = g.add_population("h", LIF(), (5,))
    o = g.add_population("o", LIF(), (3,))
    g.connect(-1, h, nn.Linear(6, 5))
    g.connect(h, o, nn.Linear(5, 3))
    g.connect(-1, o, nn.Linear(6, 3))  # skip
    x = (torch.rand(5, 4, 6) < 0.5).float()
    with torch.no_grad():
        rec = AsyncEngine(g, AsyncConfig(F=2)).run(x)
    assert rec.output.shape == (5, 4, 3)
    total = sum(float(ls.per_step.sum()) for ls in rec.layers)
    assert total == float(rec.stats["spikes"].sum())


def test_bad_inputs():
    net = _fc(8)
    x = torch.rand(4, 2, 20)
    with pytest.raises(SwiftSpikeError, match="F must be"):
        run_async(net, x, F=0)
    with pytest.raises(SwiftSpikeError, match="F must be"):
        run_async(net, x, F=2.5)
    with pytest.raises(SwiftSpikeError, match="scheduler"):
        run_async(net, x, scheduler="fifo")
    with pytest.raises(SwiftSpikeError, match="NaN"):
        run_async(net, torch.full((4, 2, 20), math.nan))
    with pytest.raises(SwiftSpikeError, match="T must be"):
        run_async(net, torch.zeros(0, 2, 20))
    with pytest.raises(SwiftSpikeError, match="cannot take input"):
        run_async(net, torch.rand(4, 2, 21))
    with pytest.raises(SwiftSpikeError, match="targets"):
        run_async(net, x, y=torch.zeros(3, dtype=torch.long))
    with pytest.raises(SwiftSpikeError, match="refractory_dropout"):
        run_async(net, x, refractory_dropout=1.0)
    with pytest.raises(SwiftSpikeError, match="stop rule"):
        run_async(net, x, stop="never")
    with pytest.raises(SwiftSpikeError, match="not supported"):
        run_async(nn.Sequential(nn.Linear(20, 4), LIF(), nn.MaxPool1d(2)), x)
    with pytest.raises(SwiftSpikeError, match="end with a neuron"):
        run_async(nn.Sequential(nn.Linear(20, 4)), x)
    with pytest.raises(SwiftSpikeError, match="unknown async engine option"):
        run_async(net, x, colour="blue")
