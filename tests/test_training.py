import os

import pytest
import torch

from swiftspike import SwiftSpikeError
from swiftspike.data import load_digits, make_encoder
from swiftspike.models import build_model, default_spec
from swiftspike.training import (
    TrainConfig,
    Trainer,
    ce_count_loss,
    ce_rate_loss,
    load_checkpoint,
    save_checkpoint,
    seed_everything,
)
from swiftspike.training import checkpoint as ckmod


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0).subset(n_train=400, n_test=200)


def make_trainer(data, tmp_path=None, epochs=2, **cfg):
    spec = default_spec(data.input_shape, data.n_classes, hidden=[32])
    ck = str(tmp_path / "run.pt") if tmp_path is not None else None
    seed_everything(1)  # same initial weights for every trainer built here
    return Trainer(
        build_model(spec),
        make_encoder("rate", 6),
        TrainConfig(epochs=epochs, batch_size=32, lr=3e-3, seed=1, checkpoint=ck, progress=False, **cfg),
        spec=spec,
    )


def test_training_learns_digits(digits):
    tr = make_trainer(digits, epochs=10)
    before = tr.evaluate(digits.x_test, digits.y_test).accuracy
    hist = tr.fit(digits)
    after = tr.evaluate(digits.x_test, digits.y_test)
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert before < 0.3
    assert after.accuracy > 0.75
    assert after.spikes_per_sample > 0 and after.latency_steps >= 1


def test_spike_regulariser_reduces_spikes(digits):
    a = make_trainer(digits, epochs=3)
    a.fit(digits)
    b = make_trainer(digits, epochs=3, spike_reg=5.0)
    b.fit(digits)
    ra = a.evaluate(digits.x_test, digits.y_test)
    rb = b.evaluate(digits.x_test, digits.y_test)
    assert rb.spikes_per_sample < ra.spikes_per_sample


def test_resume_after_interruption_matches_uninterrupted(digits, tmp_path):
    full = make_trainer(digits, tmp_path / "a", epochs=3)
    full.fit(digits)
    (tmp_path / "b").mkdir()
    part = make_trainer(digits, tmp_path / "b", epochs=1)
    part.fit(digits)  # "interrupted" after epoch 1
    resumed = make_trainer(digits, tmp_path / "b", epochs=3, resume=True)
    resumed.fit(digits)
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k


def test_checkpoint_atomic_and_corrupt(tmp_path):
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(2)}})
    good = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    orig = ckmod._write
    ckmod._write = boom
    try:
        with pytest.raises(OSError):
            save_checkpoint(path, {"model": {"w": torch.zeros(2)}})
    finally:
        ckmod._write = orig
    assert path.read_bytes() == good
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(2))
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(SwiftSpikeError, match="corrupt"):
        load_checkpoint(path)
    with pytest.raises(SwiftSpikeError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(SwiftSpikeError, match="not a swiftspike checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_resume_from_mismatched_checkpoint_is_clear(digits, tmp_path):
    tr = make_trainer(digits, tmp_path, epochs=1)
    tr.fit(digits)
    spec = default_spec(digits.input_shape, digits.n_classes, hidden=[16])
    cfg = dict(epochs=2, checkpoint=str(tmp_path / "run.pt"), resume=True, progress=False)
    other = Trainer(build_model(spec), make_encoder("rate", 6), TrainConfig(**cfg), spec=spec)
    with pytest.raises(
        SwiftSpikeError,
        match=r"other settings \(batch_size: 32 -> 64; lr: 0.003 -> 0.001; "
        r"seed: 1 -> 0; model spec: hidden \[32\] -> \[16\]\)",
    ):
        other.fit(digits)
    other = Trainer(build_model(spec), make_encoder("rate", 6), TrainConfig(**cfg, override=True))
    with pytest.raises(SwiftSpikeError, match="does not match"):
        other.fit(digits)


def test_losses_known_values():
    out = torch.zeros(4, 2, 3)
    out[:, 0, 1] = 1
    y = torch.tensor([1, 0])
    counts = torch.tensor([[0.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
    assert ce_count_loss(out, y) == pytest.approx(float(torch.nn.functional.cross_entropy(counts, y)))
    per_step = torch.nn.functional.cross_entropy(torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]), y)
    assert ce_rate_loss(out, y) == pytest.approx(float(per_step))


@pytest.mark.parametrize(
    "cfg",
    [
        dict(epochs=0),
        dict(batch_size=-1),
        dict(lr=0.0),
        dict(loss="mse"),
        dict(spike_reg=-1.0),
        dict(spike_reg=float("nan")),
    ],
)
def test_bad_train_config(cfg):
    with pytest.raises(SwiftSpikeError):
        TrainConfig(**cfg).validate()
