"""Devices end to end: the engines follow their input's device; ``convert``, the Diehl & Cook network, the
studies and the CLI take a ``device``; asking for a device the machine lacks is one clear error.

Every test here is marked ``device`` and the ``device`` fixture runs it on the CPU and, where torch finds a
CUDA GPU, on CUDA too: ``scripts/gpu_check.sh`` runs ``pytest -m device`` on a GPU machine."""

import json

import pytest
import torch
from torch import nn

from swiftspike import SNN, SwiftSpikeError
from swiftspike.asynch import run_async
from swiftspike.cli import main
from swiftspike.conversion.ann import build_ann
from swiftspike.conversion.convert import convert
from swiftspike.engines.sync import run_sync
from swiftspike.neurons import LIF, reset
from swiftspike.timestep.diehl_cook import DiehlCook

pytestmark = pytest.mark.device
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


def _on(t, device):
    return t.device.type == device.type


def _net(bias=True):
    torch.manual_seed(0)
    return SNN(nn.Linear(6, 12, bias=bias), LIF(v_threshold=0.3), nn.Linear(12, 3, bias=bias), LIF(v_threshold=0.3))


def _record_on(rec, device):
    tensors = [
        rec.output,
        *(ls.per_step for ls in rec.layers),
        *(s.acs for s in rec.synops),
        *(s.macs for s in rec.synops),
        *(v for v in (rec.stats or {}).values() if torch.is_tensor(v)),
    ]
    tensors += [ls.spikes for ls in rec.layers if ls.spikes is not None]
    return all(_on(t, device) for t in tensors) and len(tensors) > 3


def test_run_sync_follows_its_input(device):
    net, x = _net(), torch.rand(5, 4, 6) * 2
    ref = run_sync(net, x, record_spikes=True)
    reset(net)
    rec = run_sync(net.to(device), x.to(device), record_spikes=True)
    assert _record_on(rec, device)
    assert torch.equal(rec.output.cpu(), ref.output)  # spikes: exact on CPU, and the same on CUDA here
    assert ref.output.sum() > 0


def test_run_sync_refuses_network_and_input_on_different_devices():
    net = _net().to("meta")  # a second device every machine has
    with pytest.raises(SwiftSpikeError, match="network is on meta but its input is on cpu"):
        run_sync(net, torch.rand(3, 2, 6))


def test_async_engine_follows_its_input(device):
    net, x = _net(), (torch.rand(4, 3, 6) < 0.5).float()
    sync = run_sync(net, x)
    reset(net)
    rec = run_async(net.to(device), x.to(device), F=64, scheduler="random", generator=torch.Generator().manual_seed(0))
    assert _record_on(rec, device)
    assert torch.equal(rec.output.cpu(), sync)  # F >= width: the async engine reproduces the sync engine


def test_convert_takes_a_device_and_leaves_the_ann_where_it_was(device):
    torch.manual_seed(0)
    ann = build_ann("mlp", (8,), 3)
    calib, x = torch.rand(32, 8), torch.rand(6, 8)
    ref = convert(ann, calib, T=2)
    snn = convert(ann, calib, T=2, device=device)
    assert all(_on(t, device) for t in [*snn.parameters(), *snn.buffers()])
    assert all(p.device.type == "cpu" for p in ann.parameters())
    rec = snn.run(x.to(device), 2)
    assert _record_on(rec, device)
    assert torch.allclose(rec.output.cpu(), ref.run(x, 2).output, atol=1e-5)
    assert [a.calibration for a in snn.spike_layers] == [a.calibration for a in ref.spike_layers]
    # the default follows the calibration batch
    assert all(_on(t, device) for t in convert(ann, calib.to(device), T=2).parameters())


def test_diehl_cook_takes_a_device(device):
    x, y = torch.rand(12, 16), torch.arange(12) % 3
    net = DiehlCook(16, 8, n_classes=3, seed=1, device=device)
    assert _on(net.W, device) and _on(net.theta, device)
    ops = net.fit(x, y, 10, batch=4)
    assert _on(net.labels, device) and ops.samples == 12
    rec = net.run(x, 10, record=True)
    assert _record_on(rec, device) and rec.output.shape == (10, 12, 3)
    pred, _ = net.predict(x, 10)
    assert _on(pred, device)
    if device.type == "cpu":  # the default device is the CPU: the same network, the same draws
        ref = DiehlCook(16, 8, n_classes=3, seed=1)
        ref.fit(x, y, 10, batch=4)
        assert torch.equal(ref.W, net.W) and torch.equal(ref.labels, net.labels)


def test_studies_honour_their_device(device, monkeypatch):
    """convert-study, topspark and tune put their networks on the config's device."""
    from swiftspike.data import load_dataset
    from swiftspike.studies import conversion as conv_study
    from swiftspike.studies import topspark as ts_study
    from swiftspike.studies import tune as tune_study
    from swiftspike.timestep import study as ts_core

    seen = []
    measure = conv_study.measure
    monkeypatch.setattr(
        conv_study,
        "measure",
        lambda snn, x, *a, **k: (
            seen.append(("convert", next(snn.parameters()).device.type, x.device.type)) or measure(snn, x, *a, **k)
        ),
    )
    cfg = conv_study.ConversionConfig(
        dataset="digits",
        model="mlp",
        epochs=1,
        times=(2,),
        methods=("max",),
        calib_samples=32,
        ft_times=(1,),
        ft_limit=64,
        test_limit=64,
        device=str(device),
    )
    res = conv_study.run_study(cfg)
    assert set(seen) == {("convert", device.type, device.type)} and len(seen) == 3  # T=2, fine-tuned before/after
    assert res.finetuned["1"]["losses"]

    made = []

    class Spy(DiehlCook):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            made.append(self.W.device.type)

    monkeypatch.setattr(ts_core, "DiehlCook", Spy)
    ts = ts_study.TopSparkConfig(
        dataset="digits",
        neurons=6,
        n_train=24,
        n_val=12,
        n_test=12,
        T0=8,
        Ts=(4,),
        sensitivity=False,
        max_knobs=1,
        train_batch=8,
        device=str(device),
    ).validate()
    ts_study.run_study(ts)
    assert made and set(made) == {device.type}

    trained = []
    Trainer = tune_study.Trainer

    class TrainerSpy(Trainer):
        def fit(self, *a, **k):
            trained.append(next(self.model.parameters()).device.type)
            return super().fit(*a, **k)

    monkeypatch.setattr(tune_study, "Trainer", TrainerSpy)
    data = load_dataset("digits", limit=100)
    params = {
        "lr": 3e-3,
        "tau": 5.0,
        "v_threshold": 1.0,
        "T": 3,
        "spike_reg": 0.0,
        "hidden_layers": 1,
        "hidden_width": 8,
    }
    rep = tune_study.train_trial(params, data, epochs=1, batch_size=32, encoder="rate", seed=0, device=str(device))
    assert trained == [device.type] and rep.n_samples == len(data.x_test)


def test_cli_train_and_eval_on_a_device(device, tmp_path, capsys):
    ck = str(tmp_path / "d.safetensors")
    assert (
        main(
            [
                "train",
                "--device",
                str(device),
                "--epochs",
                "1",
                "--T",
                "3",
                "--hidden",
                "8",
                "--limit",
                "200",
                "--checkpoint",
                ck,
                "--json",
                "--quiet",
            ]
        )
        == 0
    )
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    from swiftspike.training import read_checkpoint_info

    assert read_checkpoint_info(ck)["run"]["device"].startswith(device.type)
    assert main(["eval", "--checkpoint", ck, "--device", str(device), "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["accuracy"] == trained["accuracy"]


@NO_CUDA
def test_cuda_without_cuda_is_one_clear_error(capsys):
    from swiftspike.models import build_model, default_spec
    from swiftspike.studies.conversion import ConversionConfig
    from swiftspike.studies.topspark import TopSparkConfig
    from swiftspike.studies.tune import TuneConfig
    from swiftspike.training import TrainConfig, Trainer

    ann = build_ann("mlp", (4,), 2)
    for make in (
        lambda: DiehlCook(4, 2, device="cuda"),
        lambda: convert(ann, torch.rand(8, 4), device="cuda:0"),
        lambda: ConversionConfig(device="cuda").validate(),
        lambda: TopSparkConfig(device="cuda").validate(),
        lambda: TuneConfig(device="cuda").validate(),
        lambda: Trainer(build_model(default_spec([4], 2, hidden=[2])), None, TrainConfig(device="cuda")),
    ):
        with pytest.raises(SwiftSpikeError, match="no CUDA GPU"):
            make()
    for argv in (
        ["demo"],
        ["eval", "--checkpoint", "x"],
        ["topspark"],
        ["convert-study"],
        ["tune"],
        ["async-study"],
        ["bench", "lif"],
        ["bench", "parallel"],
        ["export", "--nir", "x", "--checkpoint", "y"],
    ):
        assert main(argv + ["--device", "cuda", "--quiet"]) == 2, argv
        err = capsys.readouterr().err
        assert "no CUDA GPU" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_module_device_reads_parameters_then_buffers_and_defaults_to_cpu():
    from torch import nn

    from swiftspike.devices import module_device

    assert module_device(nn.ReLU()) == torch.device("cpu")  # holds nothing
    assert module_device(nn.Linear(2, 2, device="meta")) == torch.device("meta")
    m = nn.Module()
    m.register_buffer("tau", torch.ones(3, device="meta"))  # buffers only
    assert module_device(m) == torch.device("meta")
