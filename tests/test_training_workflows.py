"""Trainer workflows: data pipelines, devices, precision, threads, compile, hooks, resume, metric logs, eval."""

import json

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from swiftspike import SwiftSpikeError
from swiftspike.cli import main
from swiftspike.data import load_digits, make_encoder
from swiftspike.devices import autocast, check_precision, resolve_device, resolve_threads, set_threads
from swiftspike.models import build_model, default_spec
from swiftspike.training import (
    SeededBatchSampler,
    TrainConfig,
    Trainer,
    evaluate,
    evaluate_checkpoint,
    load_checkpoint,
    seed_everything,
    tracking,
)


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0).subset(n_train=150, n_test=100)


def trainer(data, encoder="rate", T=4, hidden=16, **cfg):
    spec = default_spec(data.input_shape, data.n_classes, hidden=[hidden])
    seed_everything(1)
    base = dict(epochs=2, batch_size=32, lr=3e-3, seed=1, progress=False)
    base.update(cfg)
    return Trainer(
        build_model(spec), make_encoder(encoder, T), TrainConfig(**base), spec=spec, meta={"dataset": "digits"}
    )


def weights(tr):
    return [v.clone() for v in tr.model.state_dict().values()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


# -- data pipelines -----------------------------------------------------------------------------
def test_dataloader_training_equals_in_memory_training(digits):
    ref = trainer(digits)
    ref.fit(digits)
    ds = TensorDataset(digits.x_train, digits.y_train)
    order = SeededBatchSampler(len(ds), 32, seed=1)
    for data, extra in [
        (ds, {}),
        (ds, {"num_workers": 1}),
        (DataLoader(ds, batch_sampler=order), {}),
        ((digits.x_train, digits.y_train), {}),
    ]:
        tr = trainer(digits, **extra)
        tr.fit(data)
        assert same(weights(ref), weights(tr)), type(data).__name__
        assert [h["loss"] for h in tr.history] == [h["loss"] for h in ref.history]
    other = trainer(digits)
    other.fit(DataLoader(ds, batch_size=32, shuffle=False))  # another order: other weights
    assert not same(weights(ref), weights(other))


def test_time_major_batches_bypass_the_encoder(digits):
    ref = trainer(digits, encoder="latency")
    ref.fit(digits)
    enc = make_encoder("latency", 4)
    per_epoch = []
    for epoch in range(2):
        s = SeededBatchSampler(len(digits.x_train), 32, seed=1)
        s.set_epoch(epoch)
        per_epoch.append([(enc(digits.x_train[i]), digits.y_train[i]) for i in s])

    class Epochs:  # a re-iterable that hands out epoch e's pre-encoded [T, B, ...] batches
        def __init__(self):
            self.epoch = 0

        def set_epoch(self, e):
            self.epoch = e

        def __iter__(self):
            return iter(per_epoch[self.epoch])

    class Loader(list):
        sampler = Epochs()

        def __iter__(self):
            return iter(self.sampler)

    tr = trainer(digits, encoder="latency", batch_first=False)
    tr.fit(Loader())
    assert same(weights(ref), weights(tr))
    xs = [b for b, _ in per_epoch[0]]
    rep = tr.evaluate(list(zip(xs, [y for _, y in per_epoch[0]])))
    assert rep.n_samples == len(digits.x_train) and rep.time_steps == 4


def test_bad_data_is_one_clear_error(digits):
    tr = trainer(digits)
    with pytest.raises(SwiftSpikeError, match="cannot train or evaluate on a str"):
        tr.fit("digits")
    with pytest.raises(SwiftSpikeError, match="one-shot iterator"):
        tr.fit(iter([(digits.x_train[:8], digits.y_train[:8])]))
    with pytest.raises(SwiftSpikeError, match="pair"):
        trainer(digits).fit([digits.x_train[:8]])
    with pytest.raises(SwiftSpikeError, match="differ in length"):
        trainer(digits).fit((digits.x_train, digits.y_train[:3]))


# -- devices, precision, threads, compile ---------------------------------------------------------
def test_device_resolution():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    for bad, msg in [("tpu", "unknown device"), ("cuda:x", "bad device" if torch.cuda.is_available() else "no CUDA")]:
        with pytest.raises(SwiftSpikeError, match=msg):
            resolve_device(bad)
    if not torch.cuda.is_available():
        for name in ("cuda", "cuda:1"):
            with pytest.raises(SwiftSpikeError, match="no CUDA GPU"):
                resolve_device(name)
        with pytest.raises(SwiftSpikeError, match="no CUDA GPU"):
            Trainer(build_model(default_spec([4], 2, hidden=[2])), None, TrainConfig(device="cuda"))
    if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        with pytest.raises(SwiftSpikeError, match="MPS"):
            resolve_device("mps")


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_device_is_honoured_end_to_end(digits, device):
    tr = trainer(digits, epochs=1, device=device)
    tr.fit(digits)
    assert all(p.device.type == device for p in tr.model.parameters())
    seen = []
    rep = tr.evaluate(
        digits.x_test,
        digits.y_test,
        runner=lambda m, x: seen.append(x.device) or __import__("swiftspike").engines.sync.run_sync(m, x, record=True),
    )
    assert {d.type for d in seen} == {device} and rep.n_samples == len(digits.x_test)


def test_precision_checks_and_bf16_autocast_on_cpu(digits):
    cpu = torch.device("cpu")
    with pytest.raises(SwiftSpikeError, match="not available on device 'cpu'"):
        check_precision("fp16", cpu)
    with pytest.raises(SwiftSpikeError, match="unknown precision"):
        check_precision("fp8", cpu)
    with autocast(cpu, "bf16"):
        assert torch.nn.functional.linear(torch.ones(1, 2), torch.ones(2, 2)).dtype == torch.bfloat16
    tr = trainer(digits, precision="bf16", lr=1e-2, epochs=3)
    hist = tr.fit(digits)
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in hist) and hist[-1]["loss"] < hist[0]["loss"]
    assert all(p.dtype == torch.float32 for p in tr.model.parameters())  # weights stay float32


def test_threads_default_and_determinism(digits, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert resolve_threads(None) == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert 1 <= resolve_threads(None) <= 4
    assert resolve_threads(2) == 2 and resolve_threads(0) >= 1
    with pytest.raises(SwiftSpikeError):
        resolve_threads(-1)
    before = torch.get_num_threads()
    try:
        a = trainer(digits, threads=1)
        assert torch.get_num_threads() == 1 and a.threads == 1
        a.fit(digits)
        b = trainer(digits, threads=1)
        b.fit(digits)
        assert same(weights(a), weights(b))  # same seed, same threads: the same run
    finally:
        set_threads(before)


@pytest.mark.slow
def test_compiled_model_trains_like_eager(digits):
    small = digits.subset(n_train=64)
    eager = trainer(small, epochs=1)
    eager.fit(small)
    comp = trainer(small, epochs=1, compile=True)
    comp.fit(small)
    assert comp.history[0]["loss"] == pytest.approx(eager.history[0]["loss"], rel=1e-5)
    for a, b in zip(weights(eager), weights(comp)):
        assert torch.allclose(a, b, atol=1e-6)


# -- hooks ---------------------------------------------------------------------------------------
def test_hooks_loss_after_step_scheduler_param_groups(digits):
    calls = []

    def clamp(model):
        calls.append(torch.is_grad_enabled())
        model[1].bias.clamp_(max=0.0)

    def loss_fn(rec, y):
        return torch.nn.functional.cross_entropy(rec.output.mean(0), y)

    tr = trainer(digits, epochs=3, scheduler="cosine", optimizer="adamw", weight_decay=0.1, grad_clip=0.5)
    tr.loss_fn, tr.after_step = loss_fn, clamp
    hist = tr.fit(digits)
    assert len(calls) == 3 * 5 and not any(calls)  # once per step, without gradients
    assert bool((tr.model[1].bias <= 0).all())
    lrs = [h["lr"] for h in hist]
    assert lrs[0] == 3e-3 and lrs[0] > lrs[1] > lrs[2] > 0  # cosine over the epochs
    spec = default_spec(digits.input_shape, digits.n_classes, hidden=[16])
    m = build_model(spec)
    groups = lambda model: [{"params": [model[1].weight], "lr": 0.0}, {"params": list(model.parameters())[1:]}]
    w0 = m[1].weight.detach().clone()
    Trainer(
        m, make_encoder("rate", 4), TrainConfig(epochs=1, progress=False, optimizer="sgd"), param_groups=groups
    ).fit(digits)
    assert torch.equal(m[1].weight, w0) and not torch.equal(m[3].weight, build_model(spec)[3].weight)
    with pytest.raises(SwiftSpikeError, match="spike regulariser"):
        Trainer(m, None, TrainConfig(spike_reg=1.0), frames=lambda *a: iter(()))
    for bad in (
        dict(optimizer="lbfgs"),
        dict(scheduler="linear"),
        dict(resume_missing="maybe"),
        dict(grad_clip=-1.0),
        dict(num_workers=-1),
        dict(distributed="always"),
        dict(resume=True),
    ):
        with pytest.raises(SwiftSpikeError):
            TrainConfig(**bad).validate()


# -- resume --------------------------------------------------------------------------------------
def test_resume_semantics(digits, tmp_path):
    ck = str(tmp_path / "run.safetensors")
    msgs = []
    missing = trainer(digits, checkpoint=ck, resume=True)
    with pytest.raises(SwiftSpikeError, match=r"cannot resume: checkpoint .* does not exist"):
        missing.fit(digits)
    fresh = trainer(digits, epochs=1, checkpoint=ck, resume=True, resume_missing="fresh")
    fresh.log = msgs.append
    fresh.fit(digits)
    assert msgs == [f"no checkpoint at {ck}: starting a new run"] and fresh.resumed_from is None
    full = trainer(digits, epochs=3)
    full.fit(digits)
    resumed = trainer(digits, epochs=3, checkpoint=ck, resume=True)
    resumed.log = msgs.append
    resumed.fit(digits)
    assert msgs[-1] == f"resuming from {ck} after epoch 1 of 3" and resumed.resumed_from == 1
    assert same(weights(full), weights(resumed)) and [h["epoch"] for h in resumed.history] == [1, 2, 3]
    again = trainer(digits, epochs=2, checkpoint=ck, resume=True)
    again.log = msgs.append
    again.fit(digits)
    assert "already trained for 3 epochs" in msgs[-1] and len(again.history) == 3
    changed = trainer(digits, epochs=4, checkpoint=ck, resume=True, lr=1e-2, spike_reg=0.5)
    with pytest.raises(SwiftSpikeError, match=r"lr: 0.003 -> 0.01; spike_reg: 0.0 -> 0.5"):
        changed.fit(digits)
    over = trainer(digits, epochs=4, checkpoint=ck, resume=True, lr=1e-2, override=True)
    over.log = msgs.append
    over.fit(digits)
    assert "changed settings: lr: 0.003 -> 0.01" in msgs[-2] and over.history[-1]["lr"] == 1e-2


# -- tracking ------------------------------------------------------------------------------------
def test_metrics_log_per_epoch_and_rewritten_on_resume(digits, tmp_path):
    ck = tmp_path / "m.safetensors"
    tr = trainer(digits, epochs=2, checkpoint=str(ck))
    tr.fit(digits, val=digits)
    log = tmp_path / "m.metrics.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    for key in (
        "loss",
        "train_accuracy",
        "spikes_per_sample",
        "latency_steps",
        "synops",
        "energy_j",
        "lr",
        "seconds",
        "val_accuracy",
        "val_spikes_per_sample",
        "val_latency_steps",
        "val_energy_j",
    ):
        assert key in rows[0], key
    assert rows == json.loads(json.dumps(tr.history))
    assert rows[-1]["val_accuracy"] == tr.evaluate(digits).accuracy
    with open(log, "a") as f:  # a line written after the last checkpoint (a kill in between)
        f.write('{"epoch": 3, "loss": 0}\n')
    more = trainer(digits, epochs=3, checkpoint=str(ck), resume=True)
    more.fit(digits, val=digits)
    assert [json.loads(x)["epoch"] for x in log.read_text().splitlines()] == [1, 2, 3]
    own = tmp_path / "sub" / "own.jsonl"
    trainer(digits, epochs=1, metrics_log=str(own)).fit(digits)
    assert len(own.read_text().splitlines()) == 1


def test_tensorboard_scalars_and_missing_extra(digits, tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tr = trainer(digits, epochs=2, log_dir=str(tmp_path / "tb"))
    tr.fit(digits, val=digits)
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert {"train/loss", "train/accuracy", "train/spikes_per_sample", "val/accuracy", "val/energy_j"} <= set(tags)
    assert [e.step for e in acc.Scalars("train/loss")] == [1, 2]
    assert acc.Scalars("train/loss")[1].value == pytest.approx(tr.history[1]["loss"])
    monkeypatch.setitem(__import__("sys").modules, "tensorboard", None)
    with pytest.raises(SwiftSpikeError, match=r"needs the optional package 'tensorboard'.*swiftspike\[tensorboard\]"):
        trainer(digits, log_dir=str(tmp_path / "tb2"))
    assert tracking.metrics_path_for("a/run.safetensors").name == "run.metrics.jsonl"


# -- evaluation seeding --------------------------------------------------------------------------
def test_reported_accuracy_equals_re_evaluation_of_the_checkpoint(digits, tmp_path):
    ck = tmp_path / "e.safetensors"
    tr = trainer(digits, epochs=2, checkpoint=str(ck), seed=5)
    tr.fit(digits)
    state = torch.get_rng_state()
    rep = tr.evaluate(digits.x_test, digits.y_test)
    assert torch.equal(state, torch.get_rng_state())  # evaluation leaves the global RNG alone
    torch.manual_seed(123)  # whatever happened to the RNG before does not matter
    assert tr.evaluate(digits.x_test, digits.y_test).accuracy == rep.accuracy
    re = evaluate_checkpoint(ck, digits)
    assert re.accuracy == rep.accuracy and re.spikes_per_sample == rep.spikes_per_sample
    assert evaluate(tr.model, tr.encoder, digits, seed=6).spikes_per_sample != rep.spikes_per_sample


def test_cli_train_and_eval_report_the_same_accuracy(capsys, tmp_path):
    ck = str(tmp_path / "c.safetensors")
    assert main(["train", "--epochs", "2", "--T", "4", "--hidden", "16", "--checkpoint", ck, "--json", "--quiet"]) == 0
    trained = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main(["eval", "--checkpoint", ck, "--json", "--quiet"]) == 0
    evaluated = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert evaluated["accuracy"] == trained["accuracy"]
    assert evaluate_checkpoint(ck).accuracy == trained["accuracy"]
    assert load_checkpoint(ck)["epoch"] == 2


def test_evaluate_neurobench_option(digits):
    tr = trainer(digits, epochs=1)
    plain = tr.evaluate(digits)
    nb = tr.evaluate(digits, neurobench=True)
    assert nb.accuracy == plain.accuracy
    assert {"ParameterCount", "SynapticOperations"} <= set(nb.neurobench)
    assert "ParameterCount" not in plain.neurobench
