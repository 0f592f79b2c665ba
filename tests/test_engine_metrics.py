import pytest
import torch
from torch import nn

from swiftspike import IF, LIF, SNN, SwiftSpikeError, reset, run_sync
from swiftspike.metrics import (
    ENERGY_TABLES,
    ReportBuilder,
    RunRecord,
    count_synops,
    decision_latency,
    energy,
    first_spike_step,
    get_energy_table,
    running_scores,
)


def hand_net():
    fc1, fc2 = nn.Linear(4, 3, bias=False), nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        fc1.weight.fill_(1.0)
        fc2.weight.copy_(torch.tensor([[1.0, 1.0, 1.0], [-1.0, 0.0, 0.0]]))
    return SNN(fc1, IF(v_threshold=0.5), fc2, IF(v_threshold=0.5))


def test_energy_counts_on_hand_counted_network():
    net = hand_net()
    # step 0: inputs 0 and 2 fire; step 1: input 3 fires
    x = torch.tensor([[[1.0, 0, 1, 0]], [[0, 0, 0, 1.0]]])
    rec = run_sync(net, x, record=True)
    # layer 1: 3 input spikes x 3 targets = 9 ACs; h = 2 then 1 -> all 3 fire twice (6 spikes)
    # layer 2: 6 spikes x 2 targets = 12 ACs; output neuron 0 fires both steps, neuron 1 never
    assert [float(s.acs[0]) for s in rec.synops] == [9.0, 12.0]
    assert [float(s.macs[0]) for s in rec.synops] == [0.0, 0.0]
    assert [s.dense_macs for s in rec.synops] == [12.0, 6.0]
    assert rec.output[:, 0].tolist() == [[1, 0], [1, 0]]
    b = ReportBuilder("45nm-fp32")
    b.add(rec, torch.tensor([0]))
    r = b.build()
    assert r.acs == 21 and r.macs == 0 and r.synops == 21
    assert r.energy_j == pytest.approx(21 * 0.9e-12)
    assert r.ann_energy_j == pytest.approx(18 * 4.6e-12)
    assert r.energy_ratio_vs_ann == pytest.approx(18 * 4.6 / (21 * 0.9))
    assert r.spikes_per_sample == 8  # 6 hidden + 2 output
    assert r.spikes_per_layer == {"1:IF": 6.0, "3:IF": 2.0}
    assert r.spike_density == pytest.approx(8 / (5 * 2))
    assert r.accuracy == 1.0 and r.latency_steps == 1.0 and r.first_spike_step == 1.0
    r_int = ReportBuilder("45nm-int32")
    r_int.add(rec, torch.tensor([0]))
    assert r_int.build().energy_j == pytest.approx(21 * 0.1e-12)


def test_analog_inputs_are_macs():
    net = hand_net()
    x = torch.tensor([[[0.5, 0, 0.25, 0]]])
    rec = run_sync(net, x, record=True)
    assert float(rec.synops[0].macs[0]) == 6.0 and float(rec.synops[0].acs[0]) == 0.0


@pytest.mark.parametrize("conv_kw", [dict(padding=1), dict(padding=0, stride=2), dict(padding=2, dilation=2, groups=2)])
def test_conv_synops_exact_against_brute_force(conv_kw):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, **conv_kw)
    x = (torch.rand(1, 2, 4, 7, 7) > 0.7).float()
    so = count_synops("c", conv, x)
    # brute force: perturb each non-zero input alone and count output entries it touches
    conv_ones = nn.Conv2d(4, 6, 3, bias=False, **conv_kw)
    conv_ones.weight.data.fill_(1.0)
    total = 0
    for idx in torch.nonzero(x[0, 0]):
        probe = torch.zeros(1, 4, 7, 7)
        probe[0, idx[0], idx[1], idx[2]] = 1.0
        with torch.no_grad():
            total += int((conv_ones(probe) != 0).sum())
    assert float(so.acs[0]) == total


def test_energy_tables_and_errors():
    assert set(ENERGY_TABLES) == {"45nm-fp32", "45nm-int32"}
    assert energy(10, 100, "45nm-fp32") == pytest.approx(10 * 4.6e-12 + 100 * 0.9e-12)
    with pytest.raises(SwiftSpikeError):
        get_energy_table("7nm")


def test_decision_latency_hand_made():
    # sample 0 (y=0): class 1 spikes at t0, class 0 at t2, t3 -> counts t0 [0,1], t1 [0,1], t2 [1,1] tie, t3 [2,1]
    # sample 1 (y=1): class 1 at t0 -> correct from step 1
    out = torch.zeros(4, 2, 2)
    out[0, 0, 1] = 1
    out[2, 0, 0] = 1
    out[3, 0, 0] = 1
    out[0, 1, 1] = 1
    y = torch.tensor([0, 1])
    lat = decision_latency(running_scores(out, True), y)
    assert lat.tolist() == [4.0, 1.0]
    assert first_spike_step(out).tolist() == [1.0, 1.0]
    rec = RunRecord(output=out)
    b = ReportBuilder()
    b.add(rec, y)
    r = b.build()
    assert r.accuracy == 1.0
    assert r.latency_steps == 2.5
    assert r.accuracy_per_step == [0.5, 0.5, 0.5, 1.0]


def test_analog_readout_scores_are_the_running_mean_like_the_membrane_loss():
    # class 0 leads on average (3, 3, -1 -> mean 5/3 vs 1), class 1 only at the last step
    out = torch.tensor([[3.0, 1.0], [3.0, 1.0], [-1.0, 1.0]]).view(3, 1, 2)
    y = torch.tensor([0])
    scores = running_scores(out, False)
    assert torch.allclose(scores[:, 0], torch.tensor([[3.0, 1.0], [3.0, 1.0], [5.0 / 3, 1.0]]))
    assert scores[-1].argmax(1).item() == out.mean(0).argmax(1).item() == 0  # what ce_membrane_loss trains
    rec = RunRecord(output=out)
    rec.output_spiking = False
    b = ReportBuilder()
    b.add(rec, y)
    r = b.build()
    assert r.accuracy == 1.0 and r.latency_steps == 1.0


def test_never_correct_latency_is_T_plus_one():
    out = torch.zeros(3, 1, 2)
    out[:, 0, 1] = 1
    assert decision_latency(running_scores(out, True), torch.tensor([0])).tolist() == [4.0]


def test_run_sync_batch_first_and_record_spikes():
    torch.manual_seed(0)
    net = SNN(nn.Linear(3, 5), LIF(), nn.Linear(5, 2), LIF())
    x = torch.rand(6, 4, 3) * 3
    a = run_sync(net, x)
    reset(net)
    b = run_sync(net, x.transpose(0, 1), batch_first=True)
    assert torch.equal(a, b)
    reset(net)
    rec = run_sync(net, x, record_spikes=True)
    assert rec.layers[0].spikes.shape == (6, 4, 5)
    assert torch.equal(rec.layers[0].spikes.flatten(2).sum(-1), rec.layers[0].per_step)
    assert torch.equal(rec.output, a)


def test_conv_network_runs_time_folded():
    net = SNN(nn.Conv2d(1, 4, 3, padding=1), LIF(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3), LIF())
    out = net(torch.rand(5, 2, 1, 8, 8))
    assert out.shape == (5, 2, 3)


@pytest.mark.parametrize(
    "bad, msg",
    [
        (torch.zeros(0, 2, 3), "T=0"),
        (torch.zeros(2, 3), "at least 3"),
        (torch.full((2, 1, 3), float("nan")), "NaN"),
        (torch.full((2, 1, 3), float("inf")), "NaN or inf"),
        (torch.zeros(2, 1, 7), "cannot take"),
    ],
)
def test_run_sync_bad_inputs(bad, msg):
    net = SNN(nn.Linear(3, 2), LIF())
    with pytest.raises(SwiftSpikeError, match=msg):
        run_sync(net, bad)


def test_run_sync_rejects_non_sequential():
    with pytest.raises(SwiftSpikeError, match="Sequential"):
        run_sync(nn.Linear(2, 2), torch.zeros(2, 1, 2))


def test_mixed_batch_synops_equal_sum_of_per_sample_in_both_engines():
    """A binary sample is charged ACs and an analog one MACs, whatever shares the batch (sync == async)."""
    from swiftspike import LIF, SNN, reset, run_sync
    from swiftspike.asynch import run_async

    torch.manual_seed(0)
    net = SNN(nn.Linear(12, 16), LIF(tau=3.0), nn.Linear(16, 5), LIF(tau=3.0))
    T = 4
    binary = (torch.rand(T, 1, 12) < 0.4).float()
    analog = torch.rand(T, 1, 12) * (torch.rand(T, 1, 12) < 0.5)
    mixed = torch.cat([binary, analog], 1)

    def ops(run, x):
        reset(net)
        rec = run(x)
        return (torch.stack([so.acs for so in rec.synops]).sum(0), torch.stack([so.macs for so in rec.synops]).sum(0))

    for run in (lambda x: run_sync(net, x, record=True), lambda x: run_async(net, x, F=64, record_synops=True)):
        acs, macs = ops(run, mixed)
        a_bin, m_bin = ops(run, binary)
        a_ana, m_ana = ops(run, analog)
        assert torch.equal(acs, torch.cat([a_bin, a_ana])) and torch.equal(macs, torch.cat([m_bin, m_ana]))
        assert float(m_bin[0]) == 0.0 and float(macs[1]) > 0  # the binary sample pays no MAC
    s_acs, s_macs = ops(lambda x: run_sync(net, x, record=True), mixed)
    a_acs, a_macs = ops(lambda x: run_async(net, x, F=64, record_synops=True), mixed)
    assert torch.equal(s_acs, a_acs) and torch.equal(s_macs, a_macs)
