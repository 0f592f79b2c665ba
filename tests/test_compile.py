"""torch.compile on the layer-synchronous LIF path: zero graph breaks, same spikes and gradients as eager."""

import pytest
import torch
from torch import nn

from swiftspike import SNN, SwiftSpikeError
from swiftspike.engines.sync import run_sync
from swiftspike.neurons import LIF, reset


def _net_and_input():
    torch.manual_seed(0)
    net = SNN(nn.Linear(8, 16), LIF(v_threshold=0.5), nn.Linear(16, 4), LIF(reset="soft", tau=3.0, v_threshold=0.2))
    x = torch.rand(8, 3, 8) * 3
    return net, x


def _eager(net, x):
    reset(net)
    out = run_sync(net, x)
    out.sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    reset(net)
    return out.detach(), grads


def test_run_sync_has_no_graph_break_and_checks_stay_in_eager():
    net, x = _net_and_input()
    explanation = torch._dynamo.explain(lambda x: run_sync(net, x))(x)
    reset(net)
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1
    # the value checks skipped while tracing still run in eager mode
    bad = x.clone()
    bad[2, 1, 3] = float("nan")
    with pytest.raises(SwiftSpikeError, match="NaN"):
        run_sync(net, bad)


def _compiled_equals_eager(backend):
    net, x = _net_and_input()
    ref, ref_grads = _eager(net, x)
    assert ref.sum() > 5, "the test needs output spikes"
    f = torch.compile(lambda x: run_sync(net, x), fullgraph=True, backend=backend)
    out = f(x)
    out.sum().backward()
    reset(net)
    assert torch.equal(out.detach(), ref)
    for p, g in zip(net.parameters(), ref_grads):
        assert torch.allclose(p.grad, g, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_compiled_spikes_and_gradients_equal_eager():
    # aot_eager traces the forward and the backward like the default backend but skips code generation
    _compiled_equals_eager("aot_eager")


@pytest.mark.slow
def test_compiled_with_inductor_equals_eager():
    _compiled_equals_eager("inductor")
