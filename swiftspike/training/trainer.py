"""BPTT trainer with surrogate gradients, seeded, with atomic resumable checkpoints.

The forward pass is pluggable (``runner(model, x_time_major) -> RunRecord``) so the same trainer
drives the layer-synchronous engine and others. Each epoch ends with an atomic checkpoint; with
``resume=True`` a run interrupted at any point restarts from the last completed epoch and, because
shuffling is seeded per epoch, follows the same trajectory as an uninterrupted run.
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn

from ..data.dataset import Dataset
from ..data.encoders import Encoder
from ..engines.sync import run_sync
from ..metrics.record import RunRecord
from ..errors import SwiftSpikeError, check_positive, check_positive_int
from ..metrics.report import Report, ReportBuilder
from ..neurons.modules import reset
from .checkpoint import load_checkpoint, save_checkpoint
from .losses import get_loss
from .progress import progress

Runner = Callable[[nn.Module, torch.Tensor], RunRecord]


def sync_runner(model: nn.Module, x: torch.Tensor) -> RunRecord:
    return run_sync(model, x, record=True)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    loss: str = "count"
    spike_reg: float = 0.0
    seed: int = 0
    checkpoint: Optional[str] = None
    resume: bool = False
    progress: bool = True
    grad_clip: Optional[float] = None

    def validate(self) -> "TrainConfig":
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive(self.lr, "lr")
        get_loss(self.loss)
        if self.spike_reg < 0:
            raise SwiftSpikeError("spike_reg must be >= 0")
        return self


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: Optional[torch.Generator] = None):
    """Yield ``(xb, yb)`` mini-batches, shuffled with ``generator`` when given."""
    n = len(x)
    idx = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for i in range(0, n, batch_size):
        j = idx[i:i + batch_size]
        yield x[j], y[j]


def spike_penalty(rec: RunRecord) -> torch.Tensor:
    """Mean spikes per neuron per step over all recorded layers (differentiable)."""
    terms = [ls.per_step.mean() / ls.n_neurons for ls in rec.layers]
    return torch.stack(terms).mean() if terms else torch.zeros(())


@torch.no_grad()
def evaluate(
    model: nn.Module, encoder: Encoder, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 256,
    runner: Runner = sync_runner, energy_table: str = "45nm-fp32", progress_bar: bool = False, **extra: Any,
) -> Report:
    """Evaluate ``model`` on ``(x, y)`` and return a :class:`~swiftspike.metrics.Report`."""
    was_training = model.training
    model.eval()
    builder = ReportBuilder(energy_table)
    try:
        for xb, yb in progress(batches(x, y, batch_size), desc="eval", enabled=progress_bar):
            reset(model)
            builder.add(runner(model, encoder(xb)), yb)
    finally:
        reset(model)
        model.train(was_training)
    return builder.build(**extra)


@dataclass
class Trainer:
    """Train ``model`` on a :class:`Dataset` with BPTT.

    ``spec`` (the model's build spec) and ``meta`` are stored in checkpoints so ``eval`` can rebuild
    the model from the file alone.
    """

    model: nn.Module
    encoder: Encoder
    config: TrainConfig = field(default_factory=TrainConfig)
    runner: Runner = sync_runner
    spec: Optional[dict[str, Any]] = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.config.validate()
        seed_everything(self.config.seed)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)
        self.loss_fn = get_loss(self.config.loss)
        self.history: list[dict[str, float]] = []
        self.start_epoch = 0

    # -- checkpoints ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "epoch": len(self.history),
            "history": self.history,
            "spec": self.spec,
            "meta": self.meta,
            "config": asdict(self.config),
            "encoder": {"name": self.encoder.name, "T": self.encoder.T},
        }

    def save(self, path: "str | Path") -> Path:
        return save_checkpoint(path, self.state())

    def load(self, path: "str | Path") -> None:
        data = load_checkpoint(path)
        try:
            self.model.load_state_dict(data["model"])
            self.optimizer.load_state_dict(data["optimizer"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise SwiftSpikeError(f"checkpoint {path} does not match this model: {str(e).splitlines()[0]}") from None
        self.history = list(data.get("history", []))
        self.start_epoch = int(data.get("epoch", len(self.history)))

    # -- training ------------------------------------------------------------------------------
    def train_epoch(self, data: Dataset, epoch: int) -> dict[str, float]:
        cfg = self.config
        self.model.train()
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)
        torch.manual_seed(cfg.seed * 7919 + epoch)  # encoder noise, dropout
        correct, loss_sum, n = 0, 0.0, 0
        n_batches = (len(data.x_train) + cfg.batch_size - 1) // cfg.batch_size
        bar = progress(batches(data.x_train, data.y_train, cfg.batch_size, gen), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                       total=n_batches, enabled=cfg.progress)
        for xb, yb in bar:
            reset(self.model)
            rec = self.runner(self.model, self.encoder(xb))
            loss = self.loss_fn(rec.output, yb)
            if cfg.spike_reg > 0:
                loss = loss + cfg.spike_reg * spike_penalty(rec)
            if not torch.isfinite(loss):
                raise SwiftSpikeError(f"loss became {float(loss)} in epoch {epoch + 1}; lower the learning rate")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
            self.optimizer.step()
            with torch.no_grad():
                pred = rec.output.sum(0).argmax(1) if rec.output_spiking else rec.output.mean(0).argmax(1)
                correct += int((pred == yb).sum())
            loss_sum += float(loss.detach()) * len(yb)
            n += len(yb)
        reset(self.model)
        return {"epoch": epoch + 1, "loss": loss_sum / n, "train_accuracy": correct / n}

    def fit(self, data: Dataset) -> list[dict[str, float]]:
        """Train for ``config.epochs`` (counting epochs already in a resumed checkpoint)."""
        cfg = self.config
        if cfg.resume and cfg.checkpoint and Path(cfg.checkpoint).exists():
            self.load(cfg.checkpoint)
        for epoch in range(self.start_epoch, cfg.epochs):
            t0 = time.perf_counter()
            stats = self.train_epoch(data, epoch)
            stats["seconds"] = time.perf_counter() - t0
            self.history.append(stats)
            if cfg.checkpoint:
                self.save(cfg.checkpoint)
        self.start_epoch = cfg.epochs
        return self.history

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, **kw: Any) -> Report:
        return evaluate(self.model, self.encoder, x, y, runner=self.runner, **kw)
