"""NeuroBench's metrics: swiftspike's Report.neurobench equals NeuroBench's own Benchmark harness."""

import pytest
import torch
from torch import nn

from swiftspike import IF, LI, LIF, SNN, SwiftSpikeError, reset, run_sync
from swiftspike.metrics import ReportBuilder
from swiftspike.metrics.neurobench import connection_sparsity, effective_ops, footprint, parameter_count


def test_membrane_updates_hand_counted():
    """Every neuron at the first step, then only the neurons whose membrane changed: a neuron at 0 that
    fires and is reset to 0 in one step did not change (NeuroBench's definition)."""
    net = SNN(IF(v_threshold=1.0))
    x = torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.25]]).view(4, 1, 3)
    rec = run_sync(net, x, record_neurobench=True)
    (act,) = rec.neurons
    # neuron 0: v = .5, .5 (same), 0 (fired, reset), 0 (same) -> 1 + 0 + 1 + 0
    # neuron 1: always 0 -> 1;  neuron 2: 0, 0 (fired, reset to 0: unchanged), 0, .25 -> 1 + 0 + 0 + 1
    assert act.membrane_updates.tolist() == [2 + 1 + 2]
    assert act.nonzero.tolist() == [2] and act.steps == 4 and act.n_neurons == 3
    assert rec.output[:, 0].tolist() == [[0, 0, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0]]


@pytest.mark.parametrize("refractory", [0, 2])
def test_record_neurobench_keeps_the_values(refractory):
    torch.manual_seed(0)
    net = SNN(nn.Linear(6, 9), LIF(tau=4.0, refractory_steps=refractory), nn.Linear(9, 3), LI(tau=5.0))
    x = torch.rand(7, 4, 6) * 2
    a = run_sync(net, x, record=True)
    reset(net)
    b = run_sync(net, x, record_neurobench=True)
    assert torch.allclose(a.output, b.output, atol=1e-6) and torch.equal(a.layers[0].per_step, b.layers[0].per_step)
    assert [n.name for n in b.neurons] == ["1:LIF", "3:LI"]
    assert all(n.membrane_updates is not None for n in b.neurons)
    assert net[1].step_mode == "m" and net[3].step_mode == "m"  # restored


def test_neurobench_effective_ops_skip_zero_weights_and_static_metrics():
    fc = nn.Linear(3, 2, bias=True)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, -1.0]]))
    x = torch.tensor([[1.0, 1.0, 0.5], [0.0, 3.0, 0.0]])
    assert effective_ops(fc, x).tolist() == [1 + 0 + 2, 0.0]  # input 1 drives no non-zero weight
    net = nn.Sequential(fc, IF())
    assert parameter_count(net) == 8
    assert footprint(net) == 8 * 4 + 2 * 4  # parameters + IF's tau and v_threshold buffers
    assert connection_sparsity(net) == round(3 / 6, 4)
    assert connection_sparsity(nn.Sequential(IF())) is None


def _net():
    torch.manual_seed(0)
    net = SNN(
        nn.Conv2d(2, 4, 3, padding=1),
        LIF(tau=3.0),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 10),
        IF(v_threshold=0.5, reset="soft"),
        nn.Linear(10, 4),
        LIF(tau=2.0),
    )
    with torch.no_grad():
        net[0].weight[:, 0, 0, :] = 0.0  # some zero synapses: NeuroBench skips them
        net[4].weight[:3] = 0.0
    return net


def _data(n=36, T=5):
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(n, T, 2, 6, 6, generator=g) < 0.3).float()
    x[12:24] *= torch.rand(12, T, 2, 6, 6, generator=g) * 2  # an analog batch: MACs
    x[24:30] *= -1  # values in {-1, 0}: NeuroBench counts them as spikes (ACs)
    x[30:33] *= torch.where(torch.rand(3, T, 2, 6, 6, generator=g) < 0.5, 1.0, 0.5)  # a batch of 3 analog
    # and 3 binary samples: NeuroBench decides per layer call (the whole batch), so all its ops are MACs
    y = torch.arange(n) % 4
    return x, y


def test_report_neurobench_equals_neurobench_harness():
    pytest.importorskip("neurobench")
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount
    from neurobench.metrics.workload import (
        ActivationSparsity,
        ClassificationAccuracy,
        MembraneUpdates,
        SynapticOperations,
    )
    from neurobench.models import TorchModel
    from neurobench.processors.postprocessors import ChooseMaxCount
    from torch.utils.data import DataLoader, TensorDataset

    from swiftspike.interop.neurobench import SwiftSpikeModel, neurobench_model

    net = _net()
    x, y = _data()
    loader = DataLoader(TensorDataset(x, y), batch_size=6)
    metrics = [
        [Footprint, ConnectionSparsity, ParameterCount],
        [ClassificationAccuracy, ActivationSparsity, MembraneUpdates, SynapticOperations],
    ]
    model = neurobench_model(net)
    assert isinstance(model, SwiftSpikeModel)
    theirs = Benchmark(model, loader, [], [ChooseMaxCount()], metrics).run(quiet=True)

    b = ReportBuilder(model=net)
    for xb, yb in loader:
        reset(net)
        b.add(run_sync(net, xb, batch_first=True, record_neurobench=True), yb)
    ours = b.build().neurobench

    assert set(ours) == set(theirs)
    for k in ("Footprint", "ConnectionSparsity", "ParameterCount"):
        assert ours[k] == theirs[k], k
    so, so_nb = ours["SynapticOperations"], theirs["SynapticOperations"]
    assert so == pytest.approx(so_nb) and so["Effective_MACs"] > 0 and so["Effective_ACs"] > 0
    assert ours["MembraneUpdates"] == pytest.approx(theirs["MembraneUpdates"]) and ours["MembraneUpdates"] > 0
    assert ours["ActivationSparsity"] == pytest.approx(theirs["ActivationSparsity"])
    assert ours["ClassificationAccuracy"] == pytest.approx(theirs["ClassificationAccuracy"])
    # without the adapter NeuroBench does not see swiftspike's neurons at all
    plain = Benchmark(
        TorchModel(SNN(*net, batch_first=True)), loader, [], [lambda o: o.sum(0).argmax(-1)], [[], [MembraneUpdates]]
    ).run(quiet=True)
    assert plain["MembraneUpdates"] == 0
    assert all(m.step_mode == "m" for m in net.modules() if hasattr(m, "step_mode"))


def test_adapter_errors_are_clear():
    pytest.importorskip("neurobench")
    from swiftspike.interop.neurobench import neurobench_model

    with pytest.raises(SwiftSpikeError, match=r"nn\.Module"):
        neurobench_model("not a net")
