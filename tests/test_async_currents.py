"""Gathered (event-list) currents equal the dense reference: values, gradients, whole runs and training."""

import pytest
import torch
from torch import nn

from swiftspike import IF, LIF
from swiftspike.asynch import AsyncConfig, AsyncEngine, AsyncGraph, run_async
from swiftspike.asynch.currents import dense_currents, gather_plan, gathered_currents, weight_table
from swiftspike.asynch.graph import INPUT
from swiftspike.models import build_model, default_spec
from swiftspike.training.losses import ce_count_loss

GRID = 2.0**-10


def _dyadic(net):
    """Weights and biases on a 2**-10 grid: every sum of them is exact, in any order."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                m.weight.copy_(torch.round(m.weight * 3 / GRID) * GRID)
                if m.bias is not None:
                    m.bias.copy_(torch.round(m.bias * 3 / GRID) * GRID)
    return net


def _graphs():
    """One connection each: Linear, Conv2d (stride, padding, groups), Conv1d (dilation), AvgPool+Conv2d,
    AvgPool+Flatten+Linear."""
    torch.manual_seed(0)
    out = []
    g = AsyncGraph((12,))
    g.add_population("a", LIF(), (7,))
    g.connect(INPUT, 0, nn.Linear(12, 7))
    out.append(g)
    g = AsyncGraph((4, 7, 6))
    g.add_population("a", LIF(), (6, 4, 3))
    g.connect(INPUT, 0, nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2))
    out.append(g)
    g = AsyncGraph((3, 11))
    g.add_population("a", LIF(), (5, 7))
    g.connect(INPUT, 0, nn.Conv1d(3, 5, 3, dilation=2))
    out.append(g)
    g = AsyncGraph((2, 9, 8))
    g.add_population("a", LIF(), (3, 4, 4))
    g.connect(INPUT, 0, nn.Conv2d(2, 3, 3, padding=1), pre=[nn.AvgPool2d(2)])
    out.append(g)
    g = AsyncGraph((2, 6, 6))
    g.add_population("a", LIF(), (5,))
    g.connect(INPUT, 0, nn.Linear(18, 5), pre=[nn.AvgPool2d(2), nn.Flatten()])
    out.append(g)
    return out


@pytest.mark.parametrize("gi", range(5))
def test_gathered_currents_equal_dense_values_and_gradients(gi):
    g = _graphs()[gi]
    c = g.connections[0]
    plan = gather_plan(g, 0)
    assert plan is not None
    n, B, K = g.n_in, 5, 6
    torch.manual_seed(gi)
    idx = torch.stack([torch.randperm(n)[:K] for _ in range(B)])
    val = (torch.rand(B, K) * 2).double().requires_grad_()
    val_pad = torch.where(torch.rand(B, K) < 0.2, torch.zeros(B, K, dtype=torch.float64), val)  # padding entries
    c.syn.double()
    dense_e = torch.zeros(B, n, dtype=torch.float64).scatter(1, idx, val_pad)
    parts_d, hits_d = dense_currents(g, {INPUT: dense_e})
    table = weight_table(c.syn, plan)
    parts_g, hits_g = gathered_currents(
        g,
        idx,
        val_pad,
        conns=[0],
        plans={0: plan},
        tables={0: table},
        entry_src=torch.zeros(n, dtype=torch.long),
        entry_local=torch.arange(n),
    )
    assert torch.allclose(parts_d[0], parts_g[0], atol=1e-12)
    assert torch.equal(hits_d[0], hits_g[0])
    w = torch.randn_like(parts_d[0])
    gd = torch.autograd.grad((parts_d[0] * w).sum(), [c.syn.weight, val], retain_graph=True)
    gg = torch.autograd.grad((parts_g[0] * w).sum(), [c.syn.weight, val])
    for a, b in zip(gd, gg):
        assert a.abs().sum() > 0
        assert torch.allclose(a, b, atol=1e-10)


def _fc(seed, widths=(20, 48, 40, 10)):
    torch.manual_seed(seed)
    layers = [nn.Flatten()]
    for i in range(len(widths) - 1):
        layers += [nn.Linear(widths[i], widths[i + 1]), LIF(tau=2.0 + i, reset="soft" if i % 2 else "hard")]
    net = nn.Sequential(*layers)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.mul_(3.0)
    return _dyadic(net)


@pytest.mark.parametrize(
    "F,sched,input_mode", [(2, "momentum", "start"), (5, "random", "start"), (3, "momentum", "queued")]
)
def test_engine_gather_equals_dense_whole_runs(F, sched, input_mode):
    net = _fc(1)
    x = (torch.rand(6, 9, 20) < 0.4).float()
    recs = {}
    for cur in ("dense", "gather"):
        with torch.no_grad():
            recs[cur] = run_async(
                net,
                x,
                F=F,
                scheduler=sched,
                currents=cur,
                input_mode=input_mode,
                record_synops=True,
                generator=torch.Generator().manual_seed(3),
            )
    d, gth = recs["dense"], recs["gather"]
    assert sum(float(ls.per_step.sum()) for ls in d.layers) > 100
    for a, b in zip(d.layers, gth.layers):
        assert torch.equal(a.per_step, b.per_step)
    assert torch.equal(d.stats["steps"], gth.stats["steps"])
    for a, b in zip(d.synops, gth.synops):
        assert torch.equal(a.acs, b.acs) and torch.equal(a.macs, b.macs)


def test_engine_gather_equals_dense_on_conv_net():
    torch.manual_seed(3)
    net = _dyadic(build_model(default_spec([1, 8, 8], 10, arch="conv", hidden=[6, 20])))
    x = (torch.rand(5, 4, 1, 8, 8) < 0.3).float()
    g = AsyncGraph.from_sequential(net, (1, 8, 8))
    eng = AsyncEngine(g, AsyncConfig(F=3, currents="gather"))
    assert set(eng.current_paths().values()) == {"gather"}  # conv after AvgPool, and AvgPool+Flatten+Linear
    with torch.no_grad():
        a = AsyncEngine(g, AsyncConfig(F=3, currents="dense", record_synops=True)).run(x)
        b = AsyncEngine(g, AsyncConfig(F=3, currents="gather", record_synops=True)).run(x)
    assert sum(float(ls.per_step.sum()) for ls in a.layers) > 20
    for la, lb in zip(a.layers, b.layers):
        assert torch.equal(la.per_step, lb.per_step)
    for sa, sb in zip(a.synops, b.synops):
        assert torch.equal(sa.acs, sb.acs) and torch.equal(sa.macs, sb.macs)


@pytest.mark.parametrize("arch", ["mlp", "conv"])
def test_training_through_gathered_path_gives_dense_gradients(arch):
    """With gradients on, the gathered path also carries the zero-valued ghost events: same loss, same gradients."""
    torch.manual_seed(0)
    spec = default_spec([1, 8, 8], 10, arch=arch, hidden=[4, 16] if arch == "conv" else [24, 16])
    net = _dyadic(build_model(spec))  # exact currents in both paths: the same spikes, step by step
    x = (torch.rand(4, 6, 1, 8, 8) < 0.4).float()
    y = torch.randint(0, 10, (6,))
    res = {}
    for cur in ("dense", "gather"):
        rec = run_async(net, x, F=3, scheduler="momentum", currents=cur, generator=torch.Generator().manual_seed(1))
        loss = ce_count_loss(rec.output, y) + 0.01 * sum(ls.per_step.sum() for ls in rec.layers)
        res[cur] = (loss, torch.autograd.grad(loss, list(net.parameters()), allow_unused=True))
    assert res["dense"][0].item() == pytest.approx(res["gather"][0].item())
    for a, b in zip(res["dense"][1], res["gather"][1]):
        if a is None:
            assert b is None
            continue
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    assert any(a is not None and a.abs().sum() > 0 for a in res["dense"][1])


def test_auto_picks_dense_with_gradients_and_gather_for_wide_sources():
    g = AsyncGraph.from_sequential(nn.Sequential(nn.Linear(8, 64), IF(), nn.Linear(64, 4), IF()), (8,))
    eng = AsyncEngine(g, AsyncConfig(F=4))
    assert eng.current_paths(grad=False) == {"0->1": "gather"}  # 64 sources >= 4 * F
    assert eng.current_paths(grad=True) == {"0->1": "dense"}
    assert AsyncEngine(g, AsyncConfig(F=32)).current_paths() == {"0->1": "dense"}
    assert AsyncEngine(g, AsyncConfig(F=4, input_mode="queued")).current_paths() == {"-1->0": "dense", "0->1": "gather"}
    # Dropout in training mode cannot be gathered (random), in eval mode it can
    g2 = AsyncGraph((8,))
    g2.add_population("a", IF(), (4,))
    drop = nn.Dropout(0.5)
    g2.connect(INPUT, 0, nn.Linear(8, 4), pre=[drop])
    eng2 = AsyncEngine(g2, AsyncConfig(F=1, currents="gather", input_mode="queued"))
    assert eng2.current_paths() == {"-1->0": "dense"}
    drop.eval()
    assert eng2.current_paths() == {"-1->0": "gather"}
