"""The async study: train sync / async-random / async-momentum models of one architecture and
evaluate each under sync, random, momentum and sync-gate execution with both stop rules.

"sync" execution is the async engine with ``F`` larger than the network, which reproduces the
layer-synchronous engine exactly (one layer per forward step) while counting forward steps the same
way as the asynchronous runs. "sync-gate" is the asynchronous engine at the study's ``F`` with the
sync gate on (a layer waits until every earlier layer is idle): layer synchronisation kept on hardware
that emits only ``F`` spikes per step, the setting in which a sync-trained model keeps its accuracy.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from ..data.dataset import Dataset
from ..data.encoders import Encoder, RateEncoder, SequenceEncoder
from ..errors import SwiftSpikeError, check_positive_int, choose
from ..metrics.energy import energy
from ..models import build_model, default_spec
from ..neurons.modules import reset
from ..training.trainer import TrainConfig, Trainer, seed_everything, sync_runner
from ..asynch.engine import AsyncConfig, AsyncEngine, as_graph
from ..asynch.training import ASYNC_LOSSES, StepLossTrainer, async_runner, finite_mean, train_truncated
from .base import DataConfig, StudyResult

EXECUTIONS = ("sync", "random", "momentum", "sync-gate")
TRAININGS = ("sync", "async-random", "async-momentum")


@dataclass
class StudyConfig(DataConfig):
    """Every choice of one async study (data fields from :class:`~swiftspike.studies.base.DataConfig`)."""

    test_limit: Optional[int] = 300
    T: int = 8
    hidden: list[int] = field(default_factory=lambda: [64, 64, 64])
    F: int = 2
    k: int = 0
    epochs: int = 4
    async_epochs: int = 4
    batch_size: int = 64
    lr: float = 2e-3
    spike_reg: float = 0.0
    finetune: bool = False
    truncate: bool = False
    input_mode: str = "start"
    refractory_dropout: float = 0.0
    loss: str = "count"
    early: float = 0.0
    async_spike_reg: Optional[float] = None  # None: spike_reg
    progress: bool = False

    def validate(self) -> "StudyConfig":
        for name in ("T", "F", "epochs", "async_epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)
        if not self.hidden or any(h <= 0 for h in self.hidden):
            raise SwiftSpikeError(f"hidden sizes must be positive integers, got {self.hidden}")
        choose("input_mode", self.input_mode, ("start", "queued"))
        AsyncConfig(F=self.F, k=self.k, input_mode=self.input_mode,
                    refractory_dropout=self.refractory_dropout).validate()
        if not self.lr > 0 or self.spike_reg < 0:
            raise SwiftSpikeError(f"lr must be > 0 and spike_reg >= 0, got lr={self.lr}, spike_reg={self.spike_reg}")
        choose("loss", self.loss, ASYNC_LOSSES)
        if not (self.early >= 0 and math.isfinite(self.early)):
            raise SwiftSpikeError(f"early must be a finite number >= 0, got {self.early}")
        if self.async_spike_reg is not None and not (self.async_spike_reg >= 0 and math.isfinite(self.async_spike_reg)):
            raise SwiftSpikeError(f"async_spike_reg must be a finite number >= 0, got {self.async_spike_reg}")
        if self.loss != "count" and self.truncate:
            raise SwiftSpikeError("the per-step loss is not available with truncated training; drop --truncate")
        if self.test_limit is not None and self.test_limit <= 0:
            raise SwiftSpikeError(f"test_limit must be a positive integer, got {self.test_limit}")
        return self


def rebin_frames(x: torch.Tensor, T: int) -> torch.Tensor:
    """Sum a batch-first sequence ``[N, T0, ...]`` into ``T`` frames of (nearly) equal length."""
    T0 = x.shape[1]
    edges = torch.linspace(0, T0, T + 1).round().long().tolist()
    return torch.stack([x[:, a:b].sum(1) for a, b in zip(edges[:-1], edges[1:])], 1)


def rebin(data: Dataset, T: int) -> Dataset:
    """A temporal dataset with its sequences summed into ``T`` frames."""
    return Dataset(data.name, rebin_frames(data.x_train, T), data.y_train, rebin_frames(data.x_test, T),
                   data.y_test, data.n_classes, True)


def encoder_for(data: Dataset, T: int) -> Encoder:
    """Static images become ``T`` Bernoulli event frames; temporal sets are used as they are."""
    return SequenceEncoder(None) if data.temporal else RateEncoder(T)


@torch.no_grad()
def evaluate_execution(model, x_enc: torch.Tensor, y: torch.Tensor, *, execution: str, F: int, stop: str,
                       k: int = 0, batch_size: int = 256, seed: int = 0, input_mode: str = "start",
                       energy_table: str = "45nm-fp32") -> dict[str, float]:
    """Run pre-encoded ``x_enc`` (``[T, N, ...]``) under one execution and stop rule; per-sample means."""
    choose("execution", execution, EXECUTIONS)
    model.eval()
    g = as_graph(model, tuple(x_enc.shape[2:]))
    f = g.n_in + g.n_neurons if execution == "sync" else F
    sched = "random" if execution in ("sync", "sync-gate") else execution
    cfg = AsyncConfig(F=f, scheduler=sched, stop=stop, k=k, input_mode=input_mode, record_synops=True,
                      sync_gate=execution == "sync-gate")
    gen = torch.Generator().manual_seed(seed)
    keys = ("ok", "spikes", "steps", "s_dec", "k_dec", "s_first", "s_first_ok", "queue", "acs", "macs")
    acc: dict[str, list[Any]] = {key: [] for key in keys}
    for i in range(0, x_enc.shape[1], batch_size):
        xb, yb = x_enc[:, i:i + batch_size].float(), y[i:i + batch_size]
        rec = AsyncEngine(g, cfg, generator=gen).run(xb, yb)
        out = rec.output
        score = out.sum(0) if rec.output_spiking else out[-1]
        tgt = score.gather(1, yb.view(-1, 1)).squeeze(1)
        ok = tgt > score.scatter(1, yb.view(-1, 1), -math.inf).max(1).values
        st = rec.stats
        acc["ok"].append(ok)
        acc["spikes"].append(st["spikes"])
        acc["steps"].append(st["steps"])
        acc["s_dec"].append(torch.where(ok, st["steps_to_decision"], torch.full_like(st["steps"], math.nan)))
        acc["k_dec"].append(torch.where(ok, st["spikes_to_decision"], torch.full_like(st["steps"], math.nan)))
        acc["s_first"].append(st["spikes_to_first_output"])
        acc["s_first_ok"].append(st["spikes_to_first_correct"])
        acc["queue"].append(st["queue_mean"])
        acc["acs"].append(sum(s.acs for s in rec.synops))
        acc["macs"].append(sum(s.macs for s in rec.synops))
    cat = {key: torch.cat(v) for key, v in acc.items()}
    acs, macs = float(cat["acs"].double().mean()), float(cat["macs"].double().mean())
    return {
        "accuracy": float(cat["ok"].double().mean()),
        "spikes_per_sample": finite_mean(cat["spikes"]),
        "steps_per_sample": finite_mean(cat["steps"]),
        "steps_to_decision": finite_mean(cat["s_dec"]),
        "spikes_to_decision": finite_mean(cat["k_dec"]),
        "spikes_to_first_output": finite_mean(cat["s_first"]),
        "spikes_to_first_correct": finite_mean(cat["s_first_ok"]),
        "queue_mean": finite_mean(cat["queue"]),
        "synops": acs + macs,
        "energy_j": energy(macs, acs, energy_table),
    }


def _train(kind: str, cfg: StudyConfig, data: Dataset, spec: dict, encoder: Encoder, init_state=None):
    seed_everything(cfg.seed)
    model = build_model(spec)
    if init_state is not None:
        model.load_state_dict(init_state)
    if kind == "sync":
        tc = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, spike_reg=cfg.spike_reg,
                         seed=cfg.seed, progress=cfg.progress)
        hist = Trainer(model, encoder, tc, runner=sync_runner).fit(data)
        return model, hist
    sched = kind.split("-", 1)[1]
    acfg: dict[str, Any] = dict(input_mode=cfg.input_mode, refractory_dropout=cfg.refractory_dropout)
    if cfg.truncate:
        hist = train_truncated(model, encoder, data, config=AsyncConfig(F=cfg.F, scheduler=sched, **acfg),
                               epochs=cfg.async_epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
                               show_progress=cfg.progress)
        return model, hist
    reg = cfg.spike_reg if cfg.async_spike_reg is None else cfg.async_spike_reg
    tc = TrainConfig(epochs=cfg.async_epochs, batch_size=cfg.batch_size, lr=cfg.lr, spike_reg=reg,
                     seed=cfg.seed, progress=cfg.progress)
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    if cfg.loss == "per-step":
        runner = async_runner(cfg.F, sched, generator=gen, record_step_outputs=True, **acfg)
        hist = StepLossTrainer(model, encoder, tc, runner=runner, early=cfg.early).fit(data)
    else:
        hist = Trainer(model, encoder, tc, runner=async_runner(cfg.F, sched, generator=gen, **acfg)).fit(data)
    return model, hist


@dataclass
class AsyncStudyResult(StudyResult):
    """The async study's result; its fields are the keys of the JSON the CLI prints."""

    dataset: str
    temporal: bool
    n_train: int
    n_test: int
    config: dict[str, Any]
    spec: dict[str, Any]
    training: dict[str, Any]
    results: dict[str, dict[str, float]]  # "training|execution|stop" -> per-sample means
    ratios: dict[str, dict[str, float]]
    ratios_vs_sync_gate: dict[str, dict[str, float]]

    def table(self) -> str:
        return study_table(self.to_dict())

    def plots(self, directory: "str | Path") -> list[Path]:
        """``async_<metric>.png`` for spikes, steps to decision and accuracy: one line per training,
        across the sync, random and momentum executions (stop rule: quiescence)."""
        from ..plots import curves_plot

        paths = []
        for metric in ("spikes_per_sample", "steps_to_decision", "accuracy"):
            curves = {kind: [self.results[f"{kind}|{ex}|quiescence"][metric] for ex in ("sync", "random", "momentum")]
                      for kind in TRAININGS}
            paths.append(curves_plot(curves, Path(directory) / f"async_{metric}.png", x=[0, 1, 2],
                                     xlabel="execution (0 sync, 1 random, 2 momentum)", ylabel=metric))
        return paths


def run_study(cfg: StudyConfig, data: Optional[Dataset] = None) -> AsyncStudyResult:
    """Train the three models and evaluate the 3 x 4 x 2 grid (``data`` overrides the config's)."""
    cfg.validate()
    if data is None:
        data = cfg.load_data(flatten=False)
    if cfg.test_limit:
        data = data.subset(n_test=cfg.test_limit)
    if data.temporal and cfg.T < data.x_train.shape[1]:
        data = rebin(data, cfg.T)
    encoder = encoder_for(data, cfg.T)
    spec = default_spec(list(data.input_shape), data.n_classes, hidden=list(cfg.hidden), readout="spike")
    torch.manual_seed(cfg.seed + 12345)
    x_test = encoder(data.x_test).float()
    models, train_info = {}, {}
    sync_state: Optional[dict[str, torch.Tensor]] = None
    for kind in TRAININGS:
        t0 = time.perf_counter()
        init = sync_state if (cfg.finetune and kind != "sync") else None
        model, hist = _train(kind, cfg, data, spec, encoder, init)
        if kind == "sync":
            sync_state = {k: v.clone() for k, v in model.state_dict().items()}
        models[kind] = model
        train_info[kind] = {"seconds": time.perf_counter() - t0, "history": hist}
    results: dict[str, Any] = {}
    for kind, model in models.items():
        for execution in EXECUTIONS:
            for stop in ("quiescence", "first_output"):
                reset(model)
                results[f"{kind}|{execution}|{stop}"] = evaluate_execution(
                    model, x_test, data.y_test, execution=execution, F=cfg.F, stop=stop, k=cfg.k,
                    seed=cfg.seed, input_mode=cfg.input_mode)
    ratios, ratios_gate = {}, {}
    for kind in ("async-random", "async-momentum"):
        execution = kind.split("-", 1)[1]
        for stop in ("quiescence", "first_output"):
            a = results[f"{kind}|{execution}|{stop}"]
            ratios[f"{kind}|{stop}"] = _compare(results[f"sync|{execution}|{stop}"], a)
            ratios_gate[f"{kind}|{stop}"] = _compare(results[f"sync|sync-gate|{stop}"], a)
    return AsyncStudyResult(
        dataset=data.name, temporal=data.temporal, n_train=len(data.x_train), n_test=len(data.x_test),
        config={k: v for k, v in cfg.__dict__.items() if k != "progress"},
        spec=spec, training=train_info, results=results, ratios=ratios, ratios_vs_sync_gate=ratios_gate,
    )


def _compare(s: dict[str, float], a: dict[str, float]) -> dict[str, float]:
    """Sync-trained run ``s`` against async-trained run ``a``: ratios > 1 favour the async-trained model."""
    return {
        "spikes_sync_over_async": _ratio(s["spikes_per_sample"], a["spikes_per_sample"]),
        "steps_to_decision_sync_over_async": _ratio(s["steps_to_decision"], a["steps_to_decision"]),
        "spikes_to_decision_sync_over_async": _ratio(s["spikes_to_decision"], a["spikes_to_decision"]),
        "accuracy_async_minus_sync": a["accuracy"] - s["accuracy"],
    }


def _ratio(a: float, b: float) -> float:
    if not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return math.nan
    return a / b


def study_table(res: dict[str, Any]) -> str:
    """Human-readable table of a :func:`run_study` result (as a dict)."""
    head = f"{'trained':<15}{'run':<10}{'stop':<13}{'acc%':>7}{'spikes':>9}{'steps':>8}{'steps>dec':>10}{'spk>dec':>9}{'spk>1st':>9}"
    lines = [f"dataset {res['dataset']} (train {res['n_train']}, test {res['n_test']}), F={res['config']['F']}, "
             f"k={res['config']['k']}", head, "-" * len(head)]
    for key, r in res["results"].items():
        kind, execution, stop = key.split("|")
        lines.append(f"{kind:<15}{execution:<10}{stop:<13}{100 * r['accuracy']:>7.1f}{r['spikes_per_sample']:>9.1f}"
                     f"{r['steps_per_sample']:>8.1f}{r['steps_to_decision']:>10.1f}{r['spikes_to_decision']:>9.1f}"
                     f"{r['spikes_to_first_output']:>9.1f}")
    for title, key in (("sync-trained / async-trained, same async execution", "ratios"),
                       ("sync-trained under the sync gate / async-trained under its own scheduler",
                        "ratios_vs_sync_gate")):
        lines += ["", f"ratios ({title}):"]
        for name, r in res.get(key, {}).items():
            lines.append(f"  {name:<28} spikes x{r['spikes_sync_over_async']:.2f}  steps-to-decision "
                         f"x{r['steps_to_decision_sync_over_async']:.2f}  spikes-to-decision "
                         f"x{r['spikes_to_decision_sync_over_async']:.2f}  accuracy "
                         f"{100 * r['accuracy_async_minus_sync']:+.1f} pts")
    return "\n".join(lines)
