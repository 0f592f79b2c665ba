import json

import pytest
import torch
from torch import nn

from swiftspike.asynch import AsyncConfig, run_async
from swiftspike.asynch.training import async_runner, load_weights, train_truncated
from swiftspike.cli import main
from swiftspike.data.datasets import load_dataset
from swiftspike.data.encoders import RateEncoder
from swiftspike.errors import SwiftSpikeError
from swiftspike.models import build_model, default_spec
from swiftspike.studies.asynch import StudyConfig, evaluate_execution
from swiftspike.training.losses import ce_count_loss
from swiftspike.training.trainer import TrainConfig, Trainer


def _model(seed=0, arch="mlp", shape=(1, 8, 8), hidden=(24,)):
    torch.manual_seed(seed)
    return build_model(default_spec(list(shape), 10, arch=arch, hidden=list(hidden)))


@pytest.mark.parametrize("sched,arch", [("random", "mlp"), ("momentum", "mlp"), ("momentum", "conv")])
def test_gradients_flow_through_async_forward(sched, arch):
    model = _model(arch=arch, hidden=[4, 16] if arch == "conv" else [24])
    with torch.no_grad():
        for m in model:
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.mul_(3)
    x = (torch.rand(5, 6, 1, 8, 8) < 0.4).float()
    y = torch.randint(0, 10, (6,))
    rec = run_async(model, x, F=3, scheduler=sched)
    loss = ce_count_loss(rec.output, y) + 0.01 * sum(ls.per_step.sum() for ls in rec.layers)
    assert torch.isfinite(loss)
    loss.backward()
    for m in model:
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            assert m.weight.grad is not None and torch.isfinite(m.weight.grad).all()
            assert m.weight.grad.abs().sum() > 0


def test_truncated_backprop_equals_full_for_one_frame_and_detaches_between_frames():
    model = _model(hidden=[16])
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                m.weight.mul_(3)
    x = (torch.rand(3, 4, 1, 8, 8) < 0.5).float()
    full = run_async(model, x, F=4, scheduler="momentum")
    trunc = run_async(model, x, F=4, scheduler="momentum", truncate=True)
    assert torch.equal(full.output, trunc.output)  # same forward values
    w = model[1].weight
    g_full = torch.autograd.grad(full.output.sum(), w)[0]
    g_trunc = torch.autograd.grad(trunc.output.sum(), w)[0]
    assert not torch.allclose(g_full, g_trunc)  # frames no longer see each other's graph


def test_async_training_learns_digits_and_truncated_runs():
    data = load_dataset("digits", flatten=False).subset(n_train=256, n_test=128)
    enc = RateEncoder(4)
    model = _model(hidden=[32])
    tr = Trainer(
        model, enc, TrainConfig(epochs=4, batch_size=32, lr=1e-2, progress=False), runner=async_runner(4, "momentum")
    )
    hist = tr.fit(data)
    assert hist[-1]["loss"] < hist[0]["loss"]
    torch.manual_seed(1)
    xe = enc(data.x_test)
    res = evaluate_execution(model, xe, data.y_test, execution="momentum", F=4, stop="quiescence")
    assert res["accuracy"] > 0.35  # chance is 0.1
    before = [p.detach().clone() for p in model.parameters()]
    h2 = train_truncated(
        model,
        enc,
        data.subset(n_train=64),
        config=AsyncConfig(F=4, scheduler="random"),
        epochs=1,
        batch_size=32,
        lr=1e-3,
    )
    assert torch.isfinite(torch.tensor(h2[0]["loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_sync_execution_in_study_equals_run_sync_accuracy(tmp_path):
    """Load sync-trained weights from a checkpoint and run them asynchronously."""
    data = load_dataset("digits", flatten=False).subset(n_train=128, n_test=64)
    enc = RateEncoder(4)
    model = _model(hidden=[16])
    tr = Trainer(model, enc, TrainConfig(epochs=1, batch_size=32, lr=5e-3, progress=False))
    tr.fit(data)
    path = tr.save(tmp_path / "sync.pt")
    other = load_weights(_model(seed=9, hidden=[16]), str(path))
    torch.manual_seed(0)
    xe = enc(data.x_test)
    from swiftspike.training.trainer import evaluate

    class Fixed:
        name, T = "fixed", 4

        def __call__(self, xb):
            return xe[:, : len(xb)]

    rep = evaluate(other, Fixed(), data.x_test, data.y_test, batch_size=64)
    res = evaluate_execution(other, xe, data.y_test, execution="sync", F=4, stop="quiescence")
    assert res["accuracy"] == pytest.approx(rep.accuracy)
    gated = evaluate_execution(other, xe, data.y_test, execution="sync-gate", F=10**6, stop="quiescence")
    assert gated["spikes_per_sample"] == pytest.approx(res["spikes_per_sample"])  # unlimited F: gate = sync
    assert gated["accuracy"] == pytest.approx(res["accuracy"])
    with pytest.raises(SwiftSpikeError, match="does not match"):
        load_weights(_model(hidden=[8]), str(path))


def test_study_config_and_cli(capsys, tmp_path):
    with pytest.raises(SwiftSpikeError):
        StudyConfig(F=0).validate()
    rc = main(
        [
            "async-study",
            "--dataset",
            "digits",
            "--limit",
            "64",
            "--test-limit",
            "32",
            "--T",
            "3",
            "--hidden",
            "12",
            "--epochs",
            "1",
            "--F",
            "4",
            "--json",
            "--quiet",
            "--plot",
            str(tmp_path),
        ]
    )
    assert rc == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # sync-trained: 4 executions x 2 stop rules; each async-trained model: its own scheduler and sync x 2 stops
    rows = {(r["training"], r["execution"], r["stop"]): r for r in res["results"]}
    assert len(rows) == len(res["results"]) == 16
    r = rows["async-momentum", "momentum", "quiescence"]
    assert r["F"] == r["train_F"] == 4
    for key in (
        "accuracy",
        "spikes_per_sample",
        "steps_to_decision",
        "spikes_to_decision",
        "spikes_to_first_output",
        "frame_steps_to_first_correct",
        "synops",
        "energy_j",
    ):
        assert key in r
    # both baselines for each async training and stop rule
    assert {(q["training"], q["baseline"], q["stop"]) for q in res["ratios"]} == {
        (t, b, s)
        for t in ("async-random", "async-momentum")
        for b in ("async", "sync-gate")
        for s in ("quiescence", "first_output,k=0")
    }
    for q in res["ratios"]:
        base = rows["sync", q["training"].split("-")[1] if q["baseline"] == "async" else "sync-gate", q["stop"]]
        assert q["baseline_spikes"] == base["spikes_per_sample"]
    assert len(res["plots"]) == 3 and all((tmp_path / p.rsplit("/", 1)[1]).stat().st_size > 1000 for p in res["plots"])
    for bad in (
        ["--F", "0"],
        ["--k", "-1"],
        ["--T", "0"],
        ["--refractory-dropout", "1.5"],
        ["--hidden", "0"],
        ["--dataset", "nope"],
    ):
        assert main(["async-study", *bad, "--quiet"]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize("density", [0.05, 0.4])
def test_gradients_equal_sync_engine_at_large_F(density):
    """Unlayered backprop at F >= width is BPTT of the sync engine: same loss, same gradients."""
    from swiftspike import reset
    from swiftspike.engines.sync import run_sync

    torch.manual_seed(0)
    net = build_model(default_spec([40], 5, hidden=[32]))
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.weight.mul_(2)
    x = (torch.rand(12, 8, 40) < density).float()
    y = torch.randint(0, 5, (8,))
    reset(net)
    ls = ce_count_loss(run_sync(net, x), y)
    gs = torch.autograd.grad(ls, list(net.parameters()))
    la = ce_count_loss(run_async(net, x, F=64).output, y)
    ga = torch.autograd.grad(la, list(net.parameters()))
    assert la.item() == pytest.approx(ls.item())
    for a, b in zip(gs, ga):
        assert a.abs().sum() > 0
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
