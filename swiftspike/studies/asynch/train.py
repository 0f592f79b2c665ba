"""Training one model of the async study: the sync model (optionally keeping its weights after every
epoch) or an async-trained one through the asynchronous engine, resumable from checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...asynch.training import StepLossTrainer, async_runner, train_truncated
from ...data.dataset import Dataset
from ...data.encoders import Encoder
from ...training.checkpoint import load_checkpoint, save_checkpoint
from ...training.trainer import TrainConfig, Trainer, seed_everything, sync_runner
from ..base import Log, quiet
from .config import StudyConfig, _resolved
from .evaluate import build_study_model, engine_config


def _train_config(
    cfg: StudyConfig, *, epochs: int, loss: str, spike_reg: float, seed: int, checkpoint: Path | None
) -> TrainConfig:
    return TrainConfig(
        epochs=epochs,
        batch_size=cfg.batch_size,
        lr=_resolved(cfg.lr),
        weight_decay=_resolved(cfg.weight_decay),
        loss=loss,
        spike_reg=spike_reg,
        seed=seed,
        progress=cfg.progress,
        checkpoint=None if checkpoint is None else str(checkpoint),
        resume=checkpoint is not None,
        resume_missing="fresh",
    )


def _fit(trainer: Trainer, data: Dataset, epochs: int, snapshots: list | None, snap_path, log: Log) -> list:
    """Train to ``epochs`` one epoch at a time; ``snapshots`` receives the model weights after every epoch
    (from ``snap_path(e)`` for epochs an earlier run trained, when kept)."""
    if snapshots is None:
        return trainer.fit(data)
    hist: list = []
    for e in range(1, epochs + 1):
        trainer.config.epochs = e
        hist = trainer.fit(data)
        trainer.config.resume = False  # resumed (or started) once; the trainer now holds the state
        if trainer.start_epoch == e and len(trainer.history) == e:
            state = {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}
            if snap_path is not None:
                save_checkpoint(snap_path(e), {"kind": "snapshot", "epoch": e, "model": state})
            snapshots.append((e, state))
        elif snap_path is not None and Path(snap_path(e)).is_file():
            snapshots.append((e, load_checkpoint(snap_path(e))["model"]))
        else:
            log(f"no weights kept for epoch {e} of the sync training: matched accuracy skips it")
    return hist


def _train(
    kind: str,
    F: int | None,
    cfg: StudyConfig,
    data: Dataset,
    spec: dict,
    encoder: Encoder,
    seed: int,
    *,
    init_state=None,
    checkpoint: Path | None = None,
    snapshots: list | None = None,
    snap_path=None,
    log: Log = quiet,
):
    """Train one model of the study; returns ``(model, history)``."""
    seed_everything(seed)
    model = build_study_model(spec)
    if init_state is not None:
        model.load_state_dict(init_state)
    if kind == "sync":
        loss = cfg.loss if cfg.loss in ("count", "rate") else "count"
        tc = _train_config(
            cfg, epochs=_resolved(cfg.epochs), loss=loss, spike_reg=cfg.spike_reg, seed=seed, checkpoint=checkpoint
        )
        tr = Trainer(model, encoder, tc, runner=sync_runner, spec=spec, log=log, desc="sync epoch")
        return model, _fit(tr, data, _resolved(cfg.epochs), snapshots, snap_path, log)
    assert F is not None
    sched = kind.split("-", 1)[1]
    acfg = engine_config(cfg.protocol, sched, F, input_mode=cfg.input_mode, refractory_dropout=cfg.refractory_dropout)
    if cfg.truncate:
        kw: dict[str, Any] = {}
        if checkpoint is not None:
            kw = dict(checkpoint=str(checkpoint), resume=True, resume_missing="fresh")
        hist = train_truncated(
            model,
            encoder,
            data,
            config=acfg,
            epochs=_resolved(cfg.async_epochs),
            batch_size=cfg.batch_size,
            lr=_resolved(cfg.lr),
            seed=seed,
            show_progress=cfg.progress,
            weight_decay=cfg.weight_decay,
            **kw,
        )
        return model, hist
    reg = cfg.spike_reg if cfg.async_spike_reg is None else cfg.async_spike_reg
    # scheduler and dropout draws come from the global RNG, which the Trainer seeds at every epoch, so a
    # training resumed from its checkpoint continues exactly as an uninterrupted one
    gen = None
    loss = "count" if cfg.loss == "per-step" else _resolved(cfg.loss)
    tc = _train_config(
        cfg, epochs=_resolved(cfg.async_epochs), loss=loss, spike_reg=reg, seed=seed, checkpoint=checkpoint
    )
    desc = f"{kind} F={F} epoch"
    if cfg.loss == "per-step":
        runner = async_runner(generator=gen, config=acfg.replace(record_step_outputs=True))
        hist = StepLossTrainer(model, encoder, tc, runner=runner, early=cfg.early, spec=spec, log=log, desc=desc).fit(
            data
        )
    else:
        hist = Trainer(
            model, encoder, tc, runner=async_runner(generator=gen, config=acfg), spec=spec, log=log, desc=desc
        ).fit(data)
    return model, hist
