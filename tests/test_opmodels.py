"""The two operation-count models (event-counted, analytical), neuron updates and the energy model;
records of every executor through one ReportBuilder."""

import math

import pytest
import torch
from torch import nn

from swiftspike import LIF, SNN, SwiftSpikeError, reset, run_sync
from swiftspike.conversion import convert
from swiftspike.conversion.ann import ClippedReLU
from swiftspike.conversion.energy import measure, running_readout
from swiftspike.metrics import (
    ENERGY_TABLES,
    LayerSpikes,
    ReportBuilder,
    RunRecord,
    analytical_energy,
    analytical_synops,
    event_synops,
    layer_flops,
    neuron_updates,
    operation_costs,
    record_op_counts,
)
from swiftspike.timestep.diehl_cook import OpCounts
from swiftspike.timestep.study import costs, energy_per_sample

FP32 = ENERGY_TABLES["45nm-fp32"]


def test_analytical_model_hand_computed_conv_case():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    y = conv(torch.zeros(1, 2, 5, 5))
    F = layer_flops(conv, y)
    assert F == 3 * 5 * 5 * 2 * 9 == 1350  # out elements x C_in x k_h k_w, padding taps included
    assert layer_flops(nn.Linear(7, 4), torch.zeros(1, 4)) == 28
    # 2 samples with 10 and 25 non-zero inputs over the run, 50 input elements per step
    so = analytical_synops("c", torch.tensor([10, 25]), 50, F)
    assert so.model == "analytical" and so.n_pre == 50
    assert so.acs.tolist() == [0.2 * 1350, 0.5 * 1350] and so.macs.tolist() == [0.0, 0.0]
    first = analytical_synops("c", torch.tensor([10, 25]), 50, F, static_analog=True)
    assert first.macs.tolist() == [1350.0, 1350.0] and first.acs.tolist() == [0.0, 0.0]
    rec = RunRecord(output=torch.zeros(4, 2, 3), synops=[first, so], output_spiking=False)
    b = ReportBuilder()
    b.add(rec, torch.tensor([0, 1]))
    r = b.build()
    assert r.op_model == "analytical"
    assert r.macs == 1350 and r.acs == pytest.approx((270 + 675) / 2)
    assert r.energy_j == pytest.approx(1350 * FP32.e_mac + 472.5 * FP32.e_ac)
    assert r.ann_energy_j == pytest.approx(2 * 1350 * FP32.e_mac)
    with pytest.raises(SwiftSpikeError, match="n_pre"):
        analytical_synops("c", torch.tensor([1]), 0, 10)


def test_analytical_equals_event_model_on_a_linear_layer():
    """Fully connected: every event has the same fan-out, so both models count the same ACs."""
    torch.manual_seed(0)
    fc = nn.Linear(20, 6)
    x = (torch.rand(5, 3, 20) < 0.3).float()
    ev = event_synops("fc", fc, x)
    an = analytical_synops("fc", (x != 0).sum((0, 2)), 20, layer_flops(fc, fc(x[0])))
    assert torch.equal(ev.acs.double(), an.acs) and ev.dense_macs == an.dense_macs == 120


def test_topspark_energy_from_a_diehl_cook_shaped_record():
    """The fields a Diehl & Cook RunRecord needs so that metrics give TopSpark's energy: exc and inh layers
    (n_neurons N each), analytical synops of input->exc (fan-out N), exc->inh (1), inh->exc (N-1), and the
    learning counts per sample in stats."""
    Fin, N, T, B = 4, 3, 5, 2
    n_in, n_exc, n_inh = torch.tensor([5.0, 2.0]), torch.tensor([2.0, 1.0]), torch.tensor([1.0, 0.0])
    spikes = torch.zeros(T, B)
    rec = RunRecord(
        output=torch.zeros(T, B, N),
        layers=[LayerSpikes("exc", spikes, N), LayerSpikes("inh", spikes, N)],
        synops=[
            analytical_synops("input->exc", n_in, Fin, Fin * N),
            analytical_synops("exc->inh", n_exc, N, N),
            analytical_synops("inh->exc", n_inh, N, N * (N - 1)),
        ],
        stats={
            "trace_update": torch.tensor([7.0, 7.0]),
            "weight_update": torch.tensor([3.0, 1.0]),
            "norm_op": torch.tensor([6.0, 6.0]),
        },
    )
    counts = record_op_counts(rec)
    assert counts["synop"].tolist() == [5 * 3 + 2 * 1 + 1 * 2, 2 * 3 + 1 * 1 + 0]  # events x fan-out
    assert torch.equal(counts["neuron_update"], neuron_updates(rec)) and counts["neuron_update"].tolist() == [
        30.0,
        30.0,
    ]
    c = OpCounts(
        samples=B,
        steps=T,
        synops=float(counts["synop"].sum()),
        neuron_updates=2.0 * N * B * T,
        trace_updates=14,
        weight_updates=4,
        norm_ops=12,
    )
    infer = {k: float(counts[k].sum()) for k in ("synop", "neuron_update")}
    assert analytical_energy(infer) / B == pytest.approx(energy_per_sample(c, False))
    train = {k: float(v.sum()) for k, v in counts.items()}
    assert analytical_energy(train) / B == pytest.approx(energy_per_sample(c, True))
    # hand: E_infer = (19 + 7) synops x 0.9 pJ + 60 updates x (4.6 + 0.9) pJ over 2 samples
    assert energy_per_sample(c, False) == pytest.approx((26 * 0.9e-12 + 60 * 5.5e-12) / 2)


def test_operation_costs_and_topspark_cost_table_agree():
    k = operation_costs("45nm-int32")
    assert k["synop"] == 0.1e-12 and k["mac"] == 3.2e-12 and k["neuron_update"] == pytest.approx(3.3e-12)
    assert costs("45nm-int32") == {kind: k[kind] for kind in costs("45nm-int32")}
    assert analytical_energy({"mac": 2, "synop": 10}) == pytest.approx(2 * 4.6e-12 + 10 * 0.9e-12)
    with pytest.raises(SwiftSpikeError, match="unknown operation"):
        analytical_energy({"flop": 1})


def _tiny_converted():
    ann = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        ClippedReLU(2.0),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 3 * 3, 8),
        nn.ReLU(),
        nn.Linear(8, 3),
    ).eval()
    torch.manual_seed(0)
    x = torch.rand(16, 1, 6, 6)
    return convert(ann, x, T=3, method="max"), x


def test_converted_snn_run_record_matches_forward_and_measure():
    snn, x = _tiny_converted()
    y = torch.arange(16) % 3
    with torch.no_grad():
        rec = snn.run(x, T=4)
        assert not rec.output_spiking and rec.output.shape == (4, 16, 3)
        assert torch.equal(running_readout(rec.output), snn(x, T=4, per_step=True))
        assert torch.allclose(rec.output.mean(0), snn(x, T=4))
    assert [ls.name for ls in rec.layers] == [a.layer_name for a in snn.spike_layers]
    for ls, a in zip(rec.layers, snn.spike_layers):
        assert torch.equal(ls.per_step.sum(0), a.spike_count)
    first, *rest = rec.synops
    assert all(so.model == "analytical" for so in rec.synops)
    assert first.macs.tolist() == [first.dense_macs] * 16 and float(first.acs.sum()) == 0
    for so in rest:
        assert torch.allclose(so.acs, so.events / so.n_pre * so.dense_macs)
    # measure() and the one ReportBuilder path give the same operations and energy
    m = measure(snn, x, y, T=4, batch_size=5)
    b = ReportBuilder()
    with torch.no_grad():
        for i in range(0, 16, 5):
            b.add(snn.run(x[i : i + 5], T=4), y[i : i + 5])
    r = b.build()
    assert r.op_model == "analytical" and r.time_steps == 4
    assert r.acs == pytest.approx(m["acs"]) and r.macs == pytest.approx(m["macs"])
    assert r.energy_j == pytest.approx(m["energy_j"]) and r.ann_energy_j == pytest.approx(m["ann_energy_j"])
    assert r.spikes_per_layer == pytest.approx(m["spikes_per_layer"])
    assert "SynapticOperations" not in r.neurobench  # analytical counts carry no NeuroBench effective ops


def test_async_records_with_stats_through_the_same_builder():
    from swiftspike.asynch import run_async

    torch.manual_seed(0)
    net = SNN(nn.Linear(10, 12), LIF(tau=3.0), nn.Linear(12, 3), LIF(tau=3.0))
    x = (torch.rand(5, 6, 10) < 0.4).float()
    y = torch.arange(6) % 3
    rec = run_async(net, x, F=4, y=y, record_synops=True)
    b = ReportBuilder()
    b.add(rec, y)
    r = b.build()
    assert r.op_model == "event" and r.synops > 0
    st = rec.stats["steps"].double()
    assert r.stats["steps"] == pytest.approx(float(st.mean()))
    dec = rec.stats["steps_to_decision"].double()
    ok = torch.isfinite(dec)
    assert (
        (r.stats["steps_to_decision"] == pytest.approx(float(dec[ok].mean())))
        if bool(ok.any())
        else math.isnan(r.stats["steps_to_decision"])
    )
    assert "ClassificationAccuracy" in r.neurobench and "SynapticOperations" not in r.neurobench
    assert r.to_json()  # nested dicts with nan are JSON-safe
    reset(net)
    sync = run_sync(net, x, record_neurobench=True)
    b2 = ReportBuilder()
    b2.add(sync, y)
    assert "SynapticOperations" in b2.build().neurobench


def test_trainer_evaluate_still_builds_one_report():
    from swiftspike.data import make_encoder
    from swiftspike.training.trainer import evaluate

    torch.manual_seed(0)
    net = SNN(nn.Linear(10, 8), LIF(), nn.Linear(8, 3), LIF())
    x, y = torch.rand(20, 10), torch.arange(20) % 3
    r = evaluate(net, make_encoder("rate", 4), x, y, batch_size=8)
    assert r.n_samples == 20 and r.op_model == "event" and r.time_steps == 4
    assert set(r.neurobench) == {"ClassificationAccuracy"}  # plain records: no NeuroBench workload counts
    runner = lambda m, xb: run_sync(m, xb, record_neurobench=True)
    r = evaluate(net, make_encoder("rate", 4), x, y, batch_size=8, runner=runner)
    assert set(r.neurobench) == {
        "ClassificationAccuracy",
        "SynapticOperations",
        "ActivationSparsity",
        "MembraneUpdates",
    }
    assert r.neurobench["SynapticOperations"]["Effective_MACs"] == 0  # rate-coded input is binary
    assert r.neurobench["SynapticOperations"]["Effective_ACs"] == pytest.approx(r.acs)  # no zero weights


@pytest.mark.parametrize("learn", [False, True])
def test_topspark_energy_from_a_real_diehl_cook_record(learn):
    """The metrics path alone (record -> operation counts -> energy) gives TopSpark's documented energy."""
    from swiftspike.metrics.opmodels import analytical_energy, record_op_counts
    from swiftspike.timestep import DiehlCook, OpCounts, energy_per_sample

    torch.manual_seed(0)
    net = DiehlCook(16, 6, seed=1)
    x = torch.rand(3, 16)
    rec = net.run(x, 25, learn=learn)
    per_sample = record_op_counts(rec, learning=learn)
    from_record = sum(analytical_energy({k: float(v[b]) for k, v in per_sample.items()}) for b in range(3)) / 3
    assert from_record == pytest.approx(energy_per_sample(OpCounts.from_record(rec), learn), rel=1e-9)
    assert from_record > 0
