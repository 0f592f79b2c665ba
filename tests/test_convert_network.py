import json
import math
import os
import subprocess
import sys

import pytest
import torch
from torch import nn

from swiftspike.conversion import (
    METHODS,
    ClippedReLU,
    LayerCalibration,
    build_ann,
    convert,
    fit_threshold_amplitude,
    fold_bn,
    make_trainable,
    train_ann,
)
from swiftspike.conversion.ann import load_ann, save_ann
from swiftspike.conversion.energy import measure, to_report
from swiftspike.conversion.finetune import finetune, snn_accuracy
from swiftspike.data import load_digits
from swiftspike.errors import SwiftSpikeError
from swiftspike.metrics.energy import ENERGY_TABLES
from swiftspike.studies import conversion as study


@pytest.fixture(scope="module")
def digits():
    return load_digits(flatten=False)


@pytest.fixture(scope="module")
def conv_ann(digits):
    torch.manual_seed(0)
    ann = build_ann("conv", digits.input_shape, 10)
    train_ann(ann, digits.x_train, digits.y_train, epochs=3, show_progress=False)
    return ann


def _bn_randomise(net):
    g = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.randn(n, generator=g))
            m.bias.data.copy_(torch.randn(n, generator=g))


def test_bn_folding_is_exact():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 5, 3, padding=1), nn.BatchNorm2d(5)
    lin, bn1 = nn.Linear(6, 4, bias=False), nn.BatchNorm1d(4)
    for layer, b in ((conv, bn), (lin, bn1)):
        _bn_randomise(b)
        b.eval()
        x = torch.randn(7, 3, 8, 8) if layer is conv else torch.randn(7, 6)
        assert torch.allclose(fold_bn(layer, b)(x), b(layer(x)), atol=1e-5)
    with pytest.raises(SwiftSpikeError):
        fold_bn(bn, conv)


@pytest.mark.parametrize("model", ["conv", "resnet-tiny", "mlp"])
def test_traced_ann_mode_equals_ann(model):
    torch.manual_seed(0)
    ann = build_ann(model, (1, 8, 8), 10).eval()
    _bn_randomise(ann)
    x = torch.rand(16, 1, 8, 8)
    snn = convert(ann, x, T=1, method="max")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in snn.modules())  # all folded
    snn.set_mode("ann")
    with torch.no_grad():
        assert torch.allclose(snn(x, T=1), ann(x), atol=1e-4)
        assert torch.allclose(snn(x, T=3), ann(x), atol=1e-4)  # time folding is exact for ANN mode


@pytest.mark.parametrize("method", METHODS)
def test_many_time_steps_reproduce_ann_outputs(conv_ann, digits, method):
    x = digits.x_test[:64]
    with torch.no_grad():
        ref = conv_ann(x)
        snn = convert(conv_ann, digits.x_train[:128], T=128, method=method)
        out = snn(x)
    rel = (out - ref).norm() / ref.norm()
    assert rel < 0.15, rel
    assert (out.argmax(1) == ref.argmax(1)).float().mean() >= 0.9


def test_hidden_rate_equals_clipped_activation_within_one_over_T():
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(10, 50), ClippedReLU(2.0), nn.Linear(50, 3)).eval()
    x = torch.randn(256, 10)
    T = 64
    for method in ("max", "uniform-optimal"):
        snn = convert(ann, x, T=T, method=method)
        act = snn.spike_layers[0]
        rec = {}
        h = act.register_forward_hook(lambda m, i, o, rec=rec: rec.setdefault("o", o))
        with torch.no_grad():
            snn(x)
        h.remove()
        rate = rec["o"].reshape(T, 256, 50).mean(0)
        ref = ann[1](ann[0](x))
        assert (rate - ref).abs().max() <= act.calibration.amplitude / T + 1e-5


def test_distribution_aware_beats_max_at_T2(conv_ann, digits):
    accs = {}
    for method in ("max", "distribution-aware"):
        snn = convert(conv_ann, digits.x_train[:256], T=2, method=method)
        accs[method] = snn_accuracy(snn, digits.x_test, digits.y_test, 2)
    assert accs["distribution-aware"] > accs["max"] + 0.1, accs


def test_energy_on_hand_counted_network():
    ann = nn.Sequential(nn.Linear(4, 3), ClippedReLU(4.0), nn.Linear(3, 2)).eval()
    with torch.no_grad():
        ann[0].weight.copy_(torch.tensor([[1.0, 0, 0, 0], [0.5, 0, 0, 0], [-1.0, 0, 0, 0]]))
        ann[0].bias.zero_()
        ann[2].weight.fill_(1.0)
        ann[2].bias.zero_()
    x = torch.tensor([[1.0, 0, 0, 0]])
    snn = convert(ann, x, T=2, method="max")
    snn.spike_layers[0].set_calibration(LayerCalibration(theta=1.0, amplitude=1.0))
    m = measure(snn, x, torch.tensor([0]), T=2, table="45nm-fp32")
    # hidden pre-activations 1.0, 0.5, -1.0 over 2 steps -> 2 + 1 + 0 spikes
    assert m["spikes_per_sample"] == 3
    assert m["spike_rate_per_layer"]["spike0"] == pytest.approx(1.0)
    assert m["flops_per_layer"] == {"0": 12, "2": 6}
    t = ENERGY_TABLES["45nm-fp32"]
    assert m["ann_energy_j"] == pytest.approx(18 * t.e_mac)
    assert m["energy_j"] == pytest.approx(12 * t.e_mac + 1.0 * 6 * t.e_ac)
    assert m["energy_ratio_vs_ann"] == pytest.approx(18 * 4.6 / (12 * 4.6 + 6 * 0.9))
    r = to_report(m)
    assert r.acs == pytest.approx(6.0) and r.energy_table == "45nm-fp32"


def test_finetune_trains_thresholds_and_leak(conv_ann, digits):
    snn = convert(conv_ann, digits.x_train[:128], T=2, method="distribution-aware")
    make_trainable(snn)
    loss = nn.functional.cross_entropy(snn(digits.x_train[:64]), digits.y_train[:64])
    loss.backward()
    for a in snn.spike_layers:
        assert a.neuron.v_threshold.grad is not None and a.neuron.v_threshold.grad.abs() > 0
        assert a.neuron.tau.grad is not None and a.neuron.tau.grad.abs() > 0
        assert a.amplitude.grad.abs() > 0
    snn2 = convert(conv_ann, digits.x_train[:128], T=1, method="distribution-aware")
    before = snn_accuracy(snn2, digits.x_train[:400], digits.y_train[:400], 1)
    losses = finetune(snn2, digits.x_train[:400], digits.y_train[:400], T=1, epochs=3, lr=1e-3, show_progress=False)
    assert losses[-1] < losses[0]
    assert snn_accuracy(snn2, digits.x_train[:400], digits.y_train[:400], 1) > before


def test_maxpool_and_residual_convert(digits):
    torch.manual_seed(0)
    ann = build_ann("resnet-tiny", digits.input_shape, 10)
    train_ann(ann, digits.x_train[:300], digits.y_train[:300], epochs=1, show_progress=False)
    snn = convert(ann, digits.x_train[:64], T=64, method="max")
    with torch.no_grad():
        assert (snn(digits.x_test[:64]).argmax(1) == ann(digits.x_test[:64]).argmax(1)).float().mean() > 0.8


def test_convert_bad_inputs(conv_ann, digits):
    with pytest.raises(SwiftSpikeError):
        convert(conv_ann, digits.x_train[:8], T=0)
    with pytest.raises(SwiftSpikeError):
        convert(conv_ann, digits.x_train[:8], method="nope")
    with pytest.raises(SwiftSpikeError):
        convert(conv_ann, torch.full((4, 1, 8, 8), float("nan")))
    with pytest.raises(SwiftSpikeError):
        convert(nn.Sequential(nn.Linear(4, 4), nn.Sigmoid()), torch.rand(2, 4))
    with pytest.raises(SwiftSpikeError):
        convert(nn.Sequential(nn.Linear(4, 4)), torch.rand(2, 4))
    with pytest.raises(SwiftSpikeError):
        build_ann("vgg-small", (64,), 10)
    with pytest.raises(SwiftSpikeError):
        build_ann("alexnet", (1, 8, 8), 10)


def test_ann_checkpoint_roundtrip_and_errors(conv_ann, tmp_path):
    p = save_ann(tmp_path / "ann.pt", conv_ann, "conv", (1, 8, 8), 10)
    net = load_ann(p, "conv", (1, 8, 8), 10)
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(net(x), conv_ann(x))
    torch.save(conv_ann.state_dict(), tmp_path / "sd.pt")
    with torch.no_grad():
        assert torch.allclose(load_ann(tmp_path / "sd.pt", "conv", (1, 8, 8), 10)(x), conv_ann(x))
    with pytest.raises(SwiftSpikeError):
        load_ann(tmp_path / "sd.pt", "mlp", (1, 8, 8), 10)
    with pytest.raises(SwiftSpikeError):
        load_ann(p, "conv", (1, 28, 28), 10)
    with pytest.raises(SwiftSpikeError):
        load_ann(tmp_path / "missing.pt", "conv", (1, 8, 8), 10)
    (tmp_path / "bad.pt").write_bytes(b"garbage")
    with pytest.raises(SwiftSpikeError):
        load_ann(tmp_path / "bad.pt", "conv", (1, 8, 8), 10)


def test_trained_ann_is_handed_out_before_the_conversion_sweep(digits, monkeypatch):
    """An interruption during the (long) conversion sweep must not lose the trained ANN."""

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(study, "convert", interrupted)
    got = []
    with pytest.raises(KeyboardInterrupt):
        study.run_study(
            study.ConversionConfig(model="mlp", epochs=1, times=(2,), ft_times=()), digits, on_ann_trained=got.append
        )
    assert len(got) == 1 and isinstance(got[0], nn.Module)


def test_study_config_checks_before_work_and_result_renders(digits, tmp_path):
    for bad, msg in (
        ({"model": "alexnet"}, "unknown model"),
        ({"methods": ("median",)}, "median"),
        ({"times": (0,)}, "T must be"),
        ({"energy_table": "7nm"}, "energy table"),
        ({"ann_checkpoint": str(tmp_path / "no.pt")}, "not found"),
    ):
        with pytest.raises(SwiftSpikeError, match=msg):
            study.ConversionConfig(**bad).validate()
    cfg = study.ConversionConfig(
        model="mlp",
        epochs=1,
        times=(2, 4),
        methods=("max",),
        ft_times=(),
        test_limit=100,
        calib_samples=64,
        save_ann=str(tmp_path / "ann.pt"),
    )
    res = study.run_study(cfg, digits)
    d = json.loads(res.to_json())
    assert d["saved_ann"] == str(tmp_path / "ann.pt") and d["times"] == [2, 4] and set(d["methods"]) == {"max"}
    assert "max" in res.table() and "T=4" in res.table()
    assert [p.name for p in res.plots(tmp_path)] == ["convert_accuracy_vs_T.png", "convert_energy_ratio_vs_T.png"]


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "swiftspike", *args], capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_cli_convert_study_digits(tmp_path):
    r = _cli(
        "convert-study",
        "--dataset",
        "digits",
        "--model",
        "mlp",
        "--epochs",
        "2",
        "--times",
        "1,2,32",
        "--ft-times",
        "2",
        "--ft-limit",
        "300",
        "--quiet",
        "--json",
        "--plot",
        str(tmp_path),
        "--save-ann",
        str(tmp_path / "ann.pt"),
    )
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(res["methods"]) == set(METHODS)
    assert set(res["methods"]["max"]) == {"1", "2", "32"}
    assert abs(res["methods"]["max"]["32"]["accuracy"] - res["ann_accuracy"]) < 0.1
    assert res["finetuned"]["2"]["energy_ratio_vs_ann"] > 0
    assert len(res["plots"]) == 2 and all(os.path.exists(p) for p in res["plots"])
    r2 = _cli(
        "convert-study",
        "--dataset",
        "digits",
        "--model",
        "mlp",
        "--ann-checkpoint",
        str(tmp_path / "ann.pt"),
        "--times",
        "2",
        "--ft-times",
        "",
        "--methods",
        "max",
        "--quiet",
        "--json",
    )
    assert r2.returncode == 0, r2.stderr
    res2 = json.loads(r2.stdout.strip().splitlines()[-1])
    assert res2["ann_accuracy"] == pytest.approx(res["ann_accuracy"]) and not res2["ann_trained"]
    bad = _cli("convert-study", "--times", "0,2", "--quiet")
    assert bad.returncode == 2 and "error" in bad.stderr
    bad = _cli("convert-study", "--methods", "median", "--model", "mlp", "--quiet")
    assert bad.returncode == 2 and "median" in bad.stderr


def test_convert_max_uses_the_true_maximum_of_a_relu_layer():
    """Plain nn.ReLU layers (no ceiling) with 2.6 M calibration activations, one of them far above the rest:
    a 200 000-value subsample would miss it 92 % of the time."""
    torch.manual_seed(0)
    ann = nn.Sequential(nn.Linear(16, 2560), nn.ReLU(), nn.Linear(2560, 3)).eval()
    x = torch.rand(1024, 16)
    with torch.no_grad():
        ann[0].bias[7] = 0.0
        ann[0].weight[7] = 0.0
        ann[0].weight[:, 3] = 0.0
        ann[0].weight[7, 3] = 1.0
        x[555, 3] = 40.0  # pre-activation 40 at one sample and neuron, everything else is below ~5
        pre = ann[0](x)
    assert float(pre.max()) == 40.0 and float(pre.flatten().topk(2).values[1]) < 10
    for method in ("max", "percentile", "distribution-aware"):
        snn = convert(ann, x, T=4, method=method)
        act = snn.spike_layers[0]
        assert float(act.mu) == 40.0  # the ReLU's ceiling: the true largest activation
        if method == "max":
            assert act.calibration.theta == act.calibration.amplitude == 40.0
    snn.set_mode("ann")
    with torch.no_grad():
        assert torch.allclose(snn(x, T=1), ann(x), atol=1e-5)  # ReLU without ceiling in ANN mode


def _per_layer_reruns(ann, x, T, temporal_max_T=8):
    """The sequential distribution-aware fit as it was: one full SNN run per layer (layers before it spiking,
    the rest analog), fitted on that run's input of the layer."""
    snn = convert(ann, x, T=T, method="uniform-optimal")  # the traced graph, ceilings set
    acts = snn.spike_layers
    rec = {}

    def record(a, xt):
        rec[a.layer_name] = xt.detach().clone()

    with torch.no_grad():
        snn.set_mode("ann")
        for a in acts:
            a.observer = record
        snn(x, T=1)
        pre = {k: v[0] for k, v in rec.items()}
        for a in acts:
            a.observer = None
        for i, a in enumerate(acts):
            mu = float(a.mu)
            if i == 0:
                cal = fit_threshold_amplitude(pre[a.layer_name], mu, T)
            else:
                for j, b in enumerate(acts):
                    b.mode = "snn" if j < i else "ann"
                a.observer = record
                snn(x, T=T)
                a.observer = None
                xt = rec[a.layer_name]
                cal = fit_threshold_amplitude(
                    xt.mean(0),
                    mu,
                    T,
                    target=pre[a.layer_name].clamp(0, mu),
                    x_steps=xt if temporal_max_T >= T else None,
                )
            a.set_calibration(cal)
    snn.set_mode("snn")
    return snn


@pytest.mark.parametrize("model,T", [("conv", 2), ("conv", 8), ("resnet-tiny", 3), ("resnet-tiny", 16)])
def test_one_pass_sequential_fit_equals_one_run_per_layer(conv_ann, digits, model, T):
    if model == "conv":
        ann = conv_ann
    else:
        torch.manual_seed(1)
        ann = build_ann(model, digits.input_shape, 10)
        train_ann(ann, digits.x_train[:300], digits.y_train[:300], epochs=1, show_progress=False)
    calib = digits.x_train[:96]
    new = convert(ann, calib, T=T, method="distribution-aware")
    ref = _per_layer_reruns(ann, calib, T)
    assert [a.calibration for a in new.spike_layers] == [a.calibration for a in ref.spike_layers]
    x, y = digits.x_test[:200], digits.y_test[:200]
    assert snn_accuracy(new, x, y, T) == snn_accuracy(ref, x, y, T)


@pytest.mark.parametrize("model", ["conv", "resnet-tiny"])
def test_chunked_forward_equals_unchunked_exactly(conv_ann, digits, model):
    if model == "conv":
        ann = conv_ann  # has a MaxPool: its running count must carry over between chunks
    else:
        torch.manual_seed(2)
        ann = build_ann(model, digits.input_shape, 10).eval()
    T, B = 7, 40
    snn = convert(ann, digits.x_train[:64], T=T, method="distribution-aware")
    x = digits.x_test[:B]
    step_bytes = snn._step_bytes[tuple(x.shape[1:])]  # measured during calibration
    with torch.no_grad():
        ref = snn(x, max_chunk_bytes=math.inf)
        ref_steps = snn(x, per_step=True, max_chunk_bytes=math.inf)
        ref_counts = [a.spike_count.clone() for a in snn.spike_layers]
        assert all(float(c.sum()) > 0 for c in ref_counts)
        first = next(m for m in snn.graph_module.modules() if isinstance(m, nn.Conv2d))
        calls = []
        hook = first.register_forward_hook(lambda m, i, o: calls.append(o.shape[0]))
        for steps in (1, 3):
            calls.clear()
            bound = steps * step_bytes * B
            assert torch.equal(snn(x, max_chunk_bytes=bound), ref)
            assert calls == [steps * B] * (T // steps) + ([(T % steps) * B] if T % steps else [])
            assert torch.equal(snn(x, per_step=True, max_chunk_bytes=bound), ref_steps)
            assert all(torch.equal(a.spike_count, c) for a, c in zip(snn.spike_layers, ref_counts))
        hook.remove()
        xt = torch.rand(T, B, *x.shape[1:], generator=torch.Generator().manual_seed(0))  # input varying in time
        assert torch.equal(snn(xt, time_major=True, max_chunk_bytes=1), snn(xt, time_major=True, max_chunk_bytes=None))
        snn._step_bytes.clear()  # unknown footprint: step 1 runs alone and is measured
        snn.max_chunk_bytes = 2 * step_bytes * B
        assert torch.equal(snn(x), ref)
        assert snn._step_bytes[tuple(x.shape[1:])] == step_bytes
    make_trainable(snn)  # gradients flow through the chunk boundaries like through one pass
    grads = []
    for bound in (math.inf, 2 * step_bytes * B):
        snn.zero_grad()
        nn.functional.cross_entropy(snn(x, max_chunk_bytes=bound), digits.y_test[:B]).backward()
        grads.append([p.grad.clone() for p in snn.parameters() if p.requires_grad])
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(*grads))


def test_forward_checks_the_input_once(conv_ann, digits):
    snn = convert(conv_ann, digits.x_train[:32], T=2, method="max")
    bad = digits.x_test[:4].clone()
    bad[1, 0, 3, 3] = float("inf")
    with pytest.raises(SwiftSpikeError):
        snn(bad)
    with pytest.raises(SwiftSpikeError):
        snn(bad.unsqueeze(0).expand(3, *bad.shape), time_major=True)
