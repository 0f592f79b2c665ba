"""The per-forward-step loss option of unlayered (async) training."""

import pytest
import torch
import torch.nn.functional as Fn
from torch import nn

from swiftspike.asynch import run_async
from swiftspike.asynch.training import StepLossTrainer, async_runner, per_step_loss
from swiftspike.data.datasets import load_dataset
from swiftspike.data.encoders import RateEncoder
from swiftspike.errors import SwiftSpikeError
from swiftspike.models import build_model, default_spec
from swiftspike.studies.asynch import StudyConfig
from swiftspike.training.losses import ce_count_loss
from swiftspike.training.trainer import TrainConfig


def _model(seed=0, hidden=24, readout="spike"):
    torch.manual_seed(seed)
    m = build_model(default_spec([1, 8, 8], 10, hidden=[hidden], readout=readout))
    with torch.no_grad():
        for layer in m:
            if isinstance(layer, nn.Linear):
                layer.weight.mul_(3)
    return m


@pytest.mark.parametrize("readout", ["spike", "li"])
def test_step_outputs_are_the_running_output_and_the_loss_differs_from_count(readout):
    model = _model(readout=readout)
    torch.manual_seed(1)
    x = (torch.rand(4, 6, 1, 8, 8) < 0.4).float()
    y = torch.randint(0, 10, (6,))
    rec = run_async(
        model,
        x,
        F=2,
        scheduler="momentum",
        input_mode="queued",
        record_step_outputs=True,
        generator=torch.Generator().manual_seed(0),
    )
    S = rec.step_outputs.shape[0]
    assert rec.step_outputs.shape == (S, 6, 10) and rec.step_mask.shape == (S, 6)
    # every sample's steps are flagged, and the last running output is the final one
    assert torch.equal(rec.step_mask.sum(0).double(), rec.stats["steps"])
    final = rec.output.sum(0) if readout == "spike" else rec.output[-1]
    assert torch.allclose(rec.step_outputs[-1], final)
    plain = run_async(
        model, x, F=2, scheduler="momentum", input_mode="queued", generator=torch.Generator().manual_seed(0)
    )
    assert plain.step_outputs is None and torch.equal(plain.output, rec.output)  # recording changes nothing
    loss = per_step_loss(rec, y)
    # reference: per-sample mean of CE over that sample's own steps
    ref = torch.stack(
        [
            Fn.cross_entropy(rec.step_outputs[rec.step_mask[:, b], b], y[b].repeat(int(rec.step_mask[:, b].sum())))
            for b in range(6)
        ]
    ).mean()
    assert torch.allclose(loss, ref)
    count = ce_count_loss(rec.output, y) if readout == "spike" else Fn.cross_entropy(rec.output[-1], y)
    assert not torch.allclose(loss, count)
    early = per_step_loss(rec, y, early=3.0)
    assert not torch.allclose(loss, early)
    assert torch.isfinite(loss) and torch.isfinite(early)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


@pytest.mark.slow
def test_step_loss_trainer_trains_digits():
    data = load_dataset("digits", flatten=False).subset(n_train=192, n_test=64)
    torch.manual_seed(0)
    model = build_model(default_spec([1, 8, 8], 10, hidden=[32]))
    before = [p.detach().clone() for p in model.parameters()]
    tr = StepLossTrainer(
        model,
        RateEncoder(4),
        TrainConfig(epochs=3, batch_size=32, lr=1e-2, progress=False),
        runner=async_runner(2, "random", input_mode="queued", record_step_outputs=True),
        early=1.0,
    )
    hist = tr.fit(data)
    assert all(torch.isfinite(torch.tensor(h["loss"])) for h in hist)
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_step_loss_bad_input():
    model = _model()
    x = (torch.rand(2, 3, 1, 8, 8) < 0.4).float()
    rec = run_async(model, x, F=2)
    with pytest.raises(SwiftSpikeError):
        per_step_loss(rec, torch.zeros(3, dtype=torch.long))  # not recorded
    rec = run_async(model, x, F=2, record_step_outputs=True)
    with pytest.raises(SwiftSpikeError):
        per_step_loss(rec, torch.zeros(3, dtype=torch.long), early=-1.0)
    with pytest.raises(SwiftSpikeError):
        per_step_loss(rec, torch.zeros(4, dtype=torch.long))
    with pytest.raises(SwiftSpikeError):
        StepLossTrainer(model, RateEncoder(2), TrainConfig(epochs=1, progress=False), runner=async_runner(2))
    with pytest.raises(SwiftSpikeError):
        StudyConfig(loss="per-step", truncate=True).validate()
    with pytest.raises(SwiftSpikeError):
        StudyConfig(loss="bogus").validate()
    with pytest.raises(SwiftSpikeError):
        StudyConfig(loss="per-step", early=float("nan")).validate()
    with pytest.raises(SwiftSpikeError):
        StudyConfig(async_spike_reg=-1.0).validate()
    StudyConfig(loss="per-step", early=2.0, async_spike_reg=1.0).validate()  # valid combination
