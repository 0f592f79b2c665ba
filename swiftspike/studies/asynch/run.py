"""The async study's driver: :func:`run_study` and its steps (checkpoint folder, per-seed data, sync
training, async trainings, summary)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ...data.dataset import Dataset
from ...data.encoders import Encoder
from ...neurons.modules import reset
from ...training.checkpoint import check_writable
from ..base import Log, json_safe, quiet
from .compare import claim_verdict, compute_ratios, grid_maxima
from .config import ASYNC_TRAININGS, StudyConfig, _resolved, stop_label
from .evaluate import (
    _HASHED,
    EvalCache,
    build_study_model,
    encoder_for,
    engine_config,
    evaluate_execution,
    rebin,
    run_folder,
    study_spec,
)
from .render import AsyncStudyResult
from .train import _train


def run_study(cfg: StudyConfig, data: Dataset | None = None, *, log: Log = quiet) -> AsyncStudyResult:
    """Train and evaluate the grid (see the module docstring); ``data`` overrides the config's dataset (for
    every seed)."""
    t_start = time.perf_counter()
    cfg = cfg.resolved()
    folder = _prepare_folder(cfg)
    results: list[dict[str, Any]] = []
    training: dict[str, Any] = {}
    first: Dataset | None = None
    spec: dict[str, Any] = {}
    for seed in _resolved(cfg.seeds):
        run = _prepare_seed(cfg, data, seed, folder, results)
        first = first or run.data
        spec = run.spec
        log(
            f"async study, seed {seed}: {run.data.name} train {len(run.data.x_train)} test {len(run.data.x_test)}, "
            f"{cfg.protocol} protocol, F {cfg.F}, {cfg.epochs} sync / {cfg.async_epochs} async epochs"
        )
        sync_state = _sync_training(run, training, log)
        _async_trainings(run, training, sync_state, log)
    ratios = compute_ratios(results, matched=cfg.matched)
    maxima, verdict = _summarise(cfg, ratios)
    assert first is not None
    return AsyncStudyResult(
        dataset=first.name,
        temporal=first.temporal,
        n_train=len(first.x_train),
        n_test=len(first.x_test),
        config=_result_config(cfg),
        spec=spec,
        training=training,
        results=results,
        ratios=ratios,
        maxima=maxima,
        verdict=verdict,
        seconds=time.perf_counter() - t_start,
    )


def _prepare_folder(cfg: StudyConfig) -> Path | None:
    """The checkpoint folder of a resolved config (``None`` without one), checked writable and holding the
    hashed settings as ``config.json``: fail now, not after the first training."""
    folder = run_folder(cfg)
    if folder is not None:
        check_writable(folder / "config.json", "checkpoint folder")
        (folder / "config.json").write_text(json.dumps(json_safe({k: getattr(cfg, k) for k in _HASHED}), indent=1))
    return folder


@dataclass
class _SeedRun:
    """One seed of the study: its data, encoder, model spec, encoded test set and evaluation cache; every
    evaluation appends its rows to ``results``."""

    cfg: StudyConfig
    seed: int
    data: Dataset
    encoder: Encoder
    spec: dict[str, Any]
    x_test: torch.Tensor
    cache: EvalCache
    folder: Path | None
    results: list[dict[str, Any]]

    def checkpoint(self, name: str) -> Path | None:
        """``<folder>/seed<seed>-<name>.ckpt``, or ``None`` without a checkpoint folder."""
        return None if self.folder is None else self.folder / f"seed{self.seed}-{name}.ckpt"

    def evaluate(
        self,
        model,
        name: str,
        training_kind: str,
        train_F: int | None,
        epochs: int,
        final: bool,
        executions: Sequence[tuple[str, int | None]],
    ) -> None:
        """Evaluate ``model`` under every ``(execution, F)`` and stop rule (from the cache when there) and
        append one result row per evaluation."""
        cfg, d = self.cfg, self.data
        for execution, F in executions:
            for stop, k in cfg.stop_rules():
                label = stop_label(stop, k)
                key = f"{name}|{execution}|F={F}|{label}|n={len(d.y_test)}"
                res = self.cache.get(key)
                if res is None:
                    reset(model)
                    res = evaluate_execution(
                        model,
                        self.x_test,
                        d.y_test,
                        execution=execution,
                        F=F or 1,
                        stop=stop,
                        k=k,
                        seed=self.seed,
                        input_mode=cfg.input_mode,
                        protocol=cfg.protocol,
                        refractory_dropout=cfg.refractory_dropout,
                        readout=_resolved(cfg.readout),
                    )
                    self.cache.put(key, res)
                self.results.append(
                    {
                        "seed": self.seed,
                        "training": training_kind,
                        "train_F": train_F,
                        "epochs": epochs,
                        "final": final,
                        "execution": execution,
                        "F": F,
                        "stop": label,
                        **res,
                    }
                )


def _prepare_seed(
    cfg: StudyConfig, data: Dataset | None, seed: int, folder: Path | None, results: list[dict[str, Any]]
) -> _SeedRun:
    """Load (or take) the data of one seed, cut the test set to ``test_limit``, rebin temporal data to ``T``
    frames, and encode the test set once (torch seeded with ``seed + 12345``)."""
    d = data if data is not None else replace(cfg, seed=seed).load_data(flatten=False)
    if cfg.test_limit:
        d = d.subset(n_test=cfg.test_limit)
    if d.temporal and cfg.T is not None and d.x_train.shape[1] > cfg.T:
        d = rebin(d, cfg.T)
    encoder = encoder_for(d, cfg.T)
    spec = study_spec(cfg, d)
    torch.manual_seed(seed + 12345)
    x_test = encoder(d.x_test).float()
    cache = EvalCache(None if folder is None else folder / f"seed{seed}-evals.json")
    return _SeedRun(cfg, seed, d, encoder, spec, x_test, cache, folder, results)


def _sync_training(run: _SeedRun, training: dict[str, Any], log: Log) -> dict[str, torch.Tensor]:
    """Train the sync model of one seed (with ``matched``, keeping its weights after every epoch), evaluate it
    under ``sync`` and, at every F, ``sync-gate``, ``random`` and ``momentum`` (earlier epochs: all but
    ``sync``); returns its final weights."""
    cfg, seed, folder = run.cfg, run.seed, run.folder
    t0 = time.perf_counter()
    snaps: list | None = [] if cfg.matched else None
    snap_path = None if folder is None else (lambda e: folder / f"seed{seed}-sync-ep{e}.ckpt")
    sync_model, hist = _train(
        "sync",
        None,
        cfg,
        run.data,
        run.spec,
        run.encoder,
        seed,
        checkpoint=run.checkpoint("sync"),
        snapshots=snaps,
        snap_path=snap_path,
        log=log,
    )
    sync_state = {k: v.detach().clone() for k, v in sync_model.state_dict().items()}
    training[f"{seed}|sync"] = _train_info(hist, time.perf_counter() - t0)
    log(f"seed {seed}: sync trained ({_train_line(hist)})")
    per_F = [(ex, F) for F in cfg.F for ex in ("sync-gate", "random", "momentum")]
    run.evaluate(
        sync_model, f"sync-ep{cfg.epochs}", "sync", None, _resolved(cfg.epochs), True, [("sync", None), *per_F]
    )
    for e, state in snaps or []:
        if e == cfg.epochs:
            continue
        snap_model = build_study_model(run.spec)
        snap_model.load_state_dict(state)
        run.evaluate(snap_model, f"sync-ep{e}", "sync", None, e, False, per_F)
    log(f"seed {seed}: sync model evaluated")
    return sync_state


def _async_trainings(run: _SeedRun, training: dict[str, Any], sync_state: dict[str, torch.Tensor], log: Log) -> None:
    """At every F, train the ``async-random`` and ``async-momentum`` models of one seed (from the sync weights
    with ``finetune``) and evaluate each under its own scheduler at its F and under ``sync``."""
    cfg, seed = run.cfg, run.seed
    for F in cfg.F:
        for kind in ASYNC_TRAININGS:
            t0 = time.perf_counter()
            model, hist = _train(
                kind,
                F,
                cfg,
                run.data,
                run.spec,
                run.encoder,
                seed,
                checkpoint=run.checkpoint(f"{kind}-F{F}"),
                init_state=sync_state if cfg.finetune else None,
                log=log,
            )
            training[f"{seed}|{kind}|F={F}"] = _train_info(hist, time.perf_counter() - t0)
            sched = kind.split("-", 1)[1]
            run.evaluate(
                model,
                f"{kind}-F{F}-ep{cfg.async_epochs}",
                kind,
                F,
                _resolved(cfg.async_epochs),
                True,
                [(sched, F), ("sync", None)],
            )
            log(f"seed {seed}: {kind} F={F} trained and evaluated ({_train_line(hist)})")


def _summarise(cfg: StudyConfig, ratios: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Grid maxima and claim verdict at equal epochs (and, with ``matched``, at matched accuracy)."""
    seeds = _resolved(cfg.seeds)
    maxima = {"equal_epochs": grid_maxima(ratios, seeds=seeds, acc_tolerance=cfg.acc_tolerance)}
    verdict = {
        "equal_epochs": claim_verdict(ratios, seeds=seeds, claim_ratio=cfg.claim_ratio, acc_tolerance=cfg.acc_tolerance)
    }
    if cfg.matched:
        maxima["matched"] = grid_maxima(ratios, seeds=seeds, acc_tolerance=cfg.acc_tolerance, matched=True)
        verdict["matched"] = claim_verdict(
            ratios, seeds=seeds, claim_ratio=cfg.claim_ratio, acc_tolerance=cfg.acc_tolerance, matched=True
        )
    return maxima, verdict


def _result_config(cfg: StudyConfig) -> dict[str, Any]:
    """The resolved config as the result records it (without ``progress``), with the neuron and engine."""
    conf = {k: v for k, v in asdict(cfg).items() if k != "progress"}
    conf["neuron"] = cfg.neuron_kwargs()
    conf["engine"] = repr(
        engine_config(
            cfg.protocol, "random", cfg.F[0], input_mode=cfg.input_mode, refractory_dropout=cfg.refractory_dropout
        )
    )
    return conf


def _train_info(hist: list, seconds: float) -> dict[str, Any]:
    """Training time: the sum of the per-epoch times (epochs an earlier run trained included), and the
    wall time of this run."""
    return {
        "seconds": sum(float(h.get("seconds", 0.0)) for h in hist),
        "wall_seconds": seconds,
        "epochs": len(hist),
        "history": hist,
    }


def _train_line(hist: list) -> str:
    if not hist:
        return "no epochs"
    h = hist[-1]
    return (
        f"{len(hist)} epochs, loss {h.get('loss', math.nan):.3f}, train acc {h.get('train_accuracy', math.nan):.3f}, "
        f"{sum(float(x.get('seconds', 0.0)) for x in hist):.0f} s"
    )
