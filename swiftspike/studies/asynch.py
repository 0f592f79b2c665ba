r"""The async study: does training through asynchronous execution save spikes and latency?

For every seed the study trains one layer-synchronous model (``sync``) and, at every forward group size
``F`` of the sweep, two models with unlayered backprop through the asynchronous engine
(``async-random``, ``async-momentum``); all of one seed share the architecture, initialisation, data and
epochs. It then evaluates them on one fixed encoding of the test set:

* the sync-trained model under ``sync`` (the engine with ``F`` larger than the network: the
  layer-synchronous engine spike for spike, counting forward steps the same way), and at every ``F``
  under ``sync-gate`` (the asynchronous engine with layer synchronisation kept: a layer waits until every
  earlier one is idle), ``random`` and ``momentum`` execution;
* each async-trained model under its own scheduler at its own ``F``, and under ``sync``;

each to quiescence and under the stop rules of the protocol (per-sample ``first_output`` or per-frame
``frame_first_output``, ``k`` forward steps after the first output spike, for every ``k`` asked).

**Two baselines** (the two of the published abstract): the sync-trained model run asynchronously with the
same scheduler at the same ``F`` (``async``), and the sync-trained model under the sync gate at the same
``F`` (``sync-gate``). Every ratio is *baseline / async-trained* (> 1 favours the async-trained model);
the accuracy difference is *async-trained - baseline*.

**Latency.** Per (frame, sample): the network spikes and forward steps within the frame before the first
output spike and before the first spike of the correct class, averaged over the pairs that have one (as
the asynctorch latency monitor), next to the whole-sample steps / spikes to decision.

**Grid maxima.** The published numbers are maxima ("up to") over a grid of datasets, schedulers, ``F``
and stop rules. :func:`grid_maxima` gives, per baseline and metric, the largest ratio anywhere, the largest
ratio that every seed reaches in the same cell, and the same restricted to cells where the async-trained
model is at least as accurate as the baseline (within ``acc_tolerance``) in every seed.
:func:`claim_verdict` applies the test of issue 15: at least ``claim_ratio`` (1.5) fewer spikes or
lower per-frame latency (to the first correct output spike) at equal or better accuracy, in every seed.

**Matched accuracy** (``matched``): the spike ratio moves with training length, so the study also keeps
the sync-trained model after every epoch and, for each async-trained cell, compares it with the epoch of
the sync-trained model whose accuracy under the same baseline execution and stop rule is closest to the
async-trained model's (ties: the later epoch).

**Protocols** (:data:`PROTOCOL_DEFAULTS`): ``swiftspike`` (the default, the study as before) and
``asynctorch``, the protocol the published code runs: the engine preset
:meth:`~swiftspike.asynch.AsyncConfig.asynctorch` (inputs at frame start, refractory dropout 0.8 kept on
at inference, a locked neuron's membrane held at 0, random priorities redrawn at every forward step), the
wiped-membrane neuron :data:`~swiftspike.asynch.ASYNCTORCH_NEURON` (decay ``e^-10`` per frame, threshold
0.3, hard reset to 0), bias-free layers, the rate loss for every training, no spike regulariser, Adam
lr 1e-3 with weight decay 1e-5, argmax readout, per-frame stop with ``k`` in 0, 1, 2. Any field set
explicitly overrides the protocol's value.

**Checkpoints** (``checkpoint_dir``): every training is a :class:`~swiftspike.training.Trainer`
checkpoint (written after every epoch and resumed on the next run, so an interrupted study keeps its
finished epochs), the sync model's per-epoch weights are kept for ``matched``, and every evaluation is
cached, all under ``<dir>/<dataset>-<protocol>-<hash of the settings>/``; separate processes may run
different seeds into the same directory, and a run over all seeds then only collects.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from ..asynch.config import ASYNCTORCH_NEURON, PROTOCOLS, STOP_RULES, AsyncConfig
from ..asynch.engine import AsyncEngine, as_graph
from ..asynch.state import FRAME_STATS
from ..asynch.tracking import frame_latency
from ..asynch.training import StepLossTrainer, async_runner, finite_mean, train_truncated
from ..data.dataset import Dataset
from ..data.encoders import Encoder, RateEncoder, SequenceEncoder
from ..errors import SwiftSpikeError, check_positive_int, choose
from ..metrics.energy import energy
from ..models import build_model, default_spec
from ..neurons.modules import reset
from ..training.checkpoint import check_writable, load_checkpoint, save_checkpoint
from ..training.trainer import TrainConfig, Trainer, seed_everything, sync_runner
from .base import DataConfig, Log, StudyResult, json_safe, quiet

EXECUTIONS = ("sync", "random", "momentum", "sync-gate")
TRAININGS = ("sync", "async-random", "async-momentum")
ASYNC_TRAININGS = ("async-random", "async-momentum")
LOSSES = ("count", "rate", "per-step")
READOUTS = ("strict", "argmax")
BASELINES = ("async", "sync-gate")

#: What each protocol sets when the config leaves a field at ``None``.
PROTOCOL_DEFAULTS: dict[str, dict[str, Any]] = {
    "swiftspike": {
        "neuron": {},
        "bias": True,
        "loss": "count",
        "lr": 2e-3,
        "weight_decay": 0.0,
        "refractory_dropout": 0.0,
        "stops": ["quiescence", "first_output"],
        "k": [0],
        "readout": "strict",
        "epochs": 20,
        "T": 8,
        "F": [2],
    },
    "asynctorch": {
        "neuron": dict(ASYNCTORCH_NEURON),
        "bias": False,
        "loss": "rate",
        "lr": 1e-3,
        "weight_decay": 1e-5,
        "refractory_dropout": 0.8,
        "stops": ["quiescence", "frame_first_output"],
        "k": [0, 1, 2],
        "readout": "argmax",
        "epochs": 2,
        "T": None,
        "F": [4, 8, 16, 32, 64, 128],
    },
}

#: Ratios computed per cell (baseline / async-trained; > 1 favours the async-trained model).
RATIO_METRICS = (
    "spikes_per_sample",
    "frame_spikes_to_first_correct",
    "frame_steps_to_first_correct",
    "frame_spikes_to_first_output",
    "frame_steps_to_first_output",
    "steps_to_decision",
    "spikes_to_decision",
)
#: The metrics of the claim: fewer spikes, lower per-frame latency to the first correct output spike.
CLAIM_METRICS = ("spikes_per_sample", "frame_spikes_to_first_correct", "frame_steps_to_first_correct")


@dataclass
class StudyConfig(DataConfig):
    """Every choice of one async study (data fields from :class:`~swiftspike.studies.base.DataConfig`).

    Fields left at ``None`` take the protocol's value (:data:`PROTOCOL_DEFAULTS`); :meth:`resolved` fills
    them in. ``F`` and ``k`` take one value or a list; ``seeds`` defaults to ``[seed]``."""

    protocol: str = "swiftspike"
    seeds: list[int] | None = None
    test_limit: int | None = 300
    T: int | None = None
    hidden: list[int] = field(default_factory=lambda: [64, 64, 64])
    F: Any = None
    k: Any = None
    stops: list[str] | None = None
    epochs: int | None = None
    async_epochs: int | None = None
    batch_size: int = 64
    lr: float | None = None
    weight_decay: float | None = None
    spike_reg: float = 0.0
    v_threshold: float | None = None
    bias: bool | None = None
    finetune: bool = False
    truncate: bool = False
    input_mode: str = "start"
    refractory_dropout: float | None = None
    loss: str | None = None
    early: float = 0.0
    async_spike_reg: float | None = None  # None: spike_reg
    readout: str | None = None
    matched: bool = False
    checkpoint_dir: str | None = None
    acc_tolerance: float = 0.0
    claim_ratio: float = 1.5
    progress: bool = False

    def validate(self) -> StudyConfig:
        self.resolved()
        return self

    def resolved(self) -> StudyConfig:
        """A validated copy with every ``None`` replaced by the protocol's value and lists normalised."""
        choose("protocol", self.protocol, PROTOCOLS)
        d = PROTOCOL_DEFAULTS[self.protocol]
        Fs = _int_list(d["F"] if self.F is None else self.F, "F", positive=True)
        ks = _int_list(d["k"] if self.k is None else self.k, "k", positive=False)
        seeds = _int_list([self.seed] if self.seeds is None else self.seeds, "seeds", positive=False)
        stops = list(d["stops"] if self.stops is None else self.stops)
        if not stops:
            raise SwiftSpikeError("stops must name at least one stop rule")
        for s in stops:
            choose("stop rule", s, STOP_RULES)
        c = replace(
            self,
            F=sorted(set(Fs)),
            k=sorted(set(ks)),
            seeds=list(dict.fromkeys(seeds)),
            stops=stops,
            T=d["T"] if self.T is None else self.T,
            epochs=d["epochs"] if self.epochs is None else self.epochs,
            lr=d["lr"] if self.lr is None else self.lr,
            weight_decay=d["weight_decay"] if self.weight_decay is None else self.weight_decay,
            bias=d["bias"] if self.bias is None else self.bias,
            refractory_dropout=d["refractory_dropout"] if self.refractory_dropout is None else self.refractory_dropout,
            loss=d["loss"] if self.loss is None else self.loss,
            readout=d["readout"] if self.readout is None else self.readout,
        )
        if c.async_epochs is None:
            c.async_epochs = c.epochs
        if c.T is not None:
            check_positive_int(c.T, "T")
        for name in ("epochs", "async_epochs", "batch_size"):
            check_positive_int(getattr(c, name), name)
        if not c.hidden or any(isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in c.hidden):
            raise SwiftSpikeError(f"hidden sizes must be positive integers, got {c.hidden}")
        choose("input_mode", c.input_mode, ("start", "queued"))
        choose("loss", _resolved(c.loss), LOSSES)
        choose("readout", _resolved(c.readout), READOUTS)
        if not (isinstance(c.bias, bool)):
            raise SwiftSpikeError(f"bias must be True or False, got {c.bias!r}")
        AsyncConfig(
            F=c.F[0], k=c.k[0], input_mode=c.input_mode, refractory_dropout=_resolved(c.refractory_dropout)
        ).validate()
        _finite(c.lr, "lr", positive=True)
        _finite(c.weight_decay, "weight_decay")
        _finite(c.spike_reg, "spike_reg")
        _finite(c.early, "early")
        _finite(c.acc_tolerance, "acc_tolerance")
        _finite(c.claim_ratio, "claim_ratio", positive=True)
        if c.v_threshold is not None:
            _finite(c.v_threshold, "v_threshold", positive=True)
        if c.async_spike_reg is not None:
            _finite(c.async_spike_reg, "async_spike_reg")
        if c.loss not in ("count",) and c.truncate:
            raise SwiftSpikeError(f"the {c.loss} loss is not available with truncated training; drop --truncate")
        if c.test_limit is not None and (
            isinstance(c.test_limit, bool) or not isinstance(c.test_limit, int) or c.test_limit <= 0
        ):
            raise SwiftSpikeError(f"test_limit must be a positive integer, got {c.test_limit}")
        return c

    def neuron_kwargs(self) -> dict[str, Any]:
        """LIF keyword arguments of the study's neurons (the protocol's regime, ``v_threshold`` overridden)."""
        nk = dict(PROTOCOL_DEFAULTS[self.protocol]["neuron"])
        if self.v_threshold is not None:
            nk["v_threshold"] = float(self.v_threshold)
        return nk

    def stop_rules(self) -> list[tuple[str, int]]:
        """``(stop, k)`` pairs evaluated: quiescence once, each other rule once per ``k``."""
        return [
            (s, 0) if s == "quiescence" else (s, k)
            for s in _resolved(self.stops)
            for k in ([0] if s == "quiescence" else self.k)
        ]


_T = TypeVar("_T")


def _resolved(value: _T | None) -> _T:
    """A :class:`StudyConfig` field that :meth:`StudyConfig.resolved` has filled (every config the study
    runs is resolved; ``None`` here would be a bug)."""
    assert value is not None, "a StudyConfig field is unset; the study runs resolved configs only"
    return value


def _int_list(v: Any, name: str, *, positive: bool) -> list[int]:
    vals = [v] if isinstance(v, int) and not isinstance(v, bool) else v
    try:
        vals = list(vals)
    except TypeError:
        raise SwiftSpikeError(f"{name} must be an integer or a list of integers, got {v!r}") from None
    if not vals:
        raise SwiftSpikeError(f"{name} must name at least one value")
    for x in vals:
        if isinstance(x, bool) or not isinstance(x, int) or (x <= 0 if positive else x < 0):
            raise SwiftSpikeError(f"{name} must hold {'positive integers' if positive else 'integers >= 0'}, got {x!r}")
    return vals


def _finite(v: Any, name: str, *, positive: bool = False) -> None:
    ok = (
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (v > 0 if positive else v >= 0)
    )
    if not ok:
        raise SwiftSpikeError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {v!r}")


def stop_label(stop: str, k: int) -> str:
    """``'quiescence'`` or ``'<stop>,k=<k>'``."""
    return stop if stop == "quiescence" else f"{stop},k={k}"


def rebin_frames(x: torch.Tensor, T: int) -> torch.Tensor:
    """Sum a batch-first sequence ``[N, T0, ...]`` into ``T`` frames of (nearly) equal length."""
    T0 = x.shape[1]
    edges = torch.linspace(0, T0, T + 1).round().long().tolist()
    return torch.stack([x[:, a:b].sum(1) for a, b in itertools.pairwise(edges)], 1)


def rebin(data: Dataset, T: int) -> Dataset:
    """A temporal dataset with its sequences summed into ``T`` frames."""
    return Dataset(
        data.name,
        rebin_frames(data.x_train, T),
        data.y_train,
        rebin_frames(data.x_test, T),
        data.y_test,
        data.n_classes,
        True,
    )


def encoder_for(data: Dataset, T: int | None) -> Encoder:
    """Static images become ``T`` (default 8) Bernoulli event frames; temporal sets are used as they are."""
    return SequenceEncoder(None) if data.temporal else RateEncoder(T or 8)


def study_spec(cfg: StudyConfig, data: Dataset) -> dict[str, Any]:
    """The model spec of the study (``bias: False`` marks bias-free synaptic layers)."""
    spec = default_spec(
        list(data.input_shape),
        data.n_classes,
        hidden=list(cfg.hidden),
        readout="spike",
        neuron_kwargs=cfg.neuron_kwargs(),
    )
    if not cfg.bias:
        spec["bias"] = False
    return spec


def build_study_model(spec: dict[str, Any]) -> nn.Module:
    """:func:`~swiftspike.models.build_model`, with the synaptic layers' biases removed when ``spec['bias']``
    is ``False``."""
    model = build_model(spec)
    if spec.get("bias", True) is False:
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)) and m.bias is not None:
                m.register_parameter("bias", None)
    return model


def engine_config(
    protocol: str,
    execution: str,
    F: int,
    *,
    stop: str = "quiescence",
    k: int = 0,
    input_mode: str = "start",
    refractory_dropout: float | None = None,
    n_all: int | None = None,
    record_synops: bool = False,
) -> AsyncConfig:
    """The engine settings of one execution under a protocol: ``sync`` runs with ``F = n_all`` (every
    neuron and input at once), ``sync-gate`` with the sync gate, both with the random scheduler."""
    choose("execution", execution, EXECUTIONS)
    f = int(n_all if execution == "sync" and n_all is not None else F)
    sched = "random" if execution in ("sync", "sync-gate") else execution
    kw: dict[str, Any] = dict(
        F=f,
        scheduler=sched,
        stop=stop,
        k=k,
        input_mode=input_mode,
        sync_gate=execution == "sync-gate",
        record_synops=record_synops,
    )
    if refractory_dropout is not None:
        kw["refractory_dropout"] = refractory_dropout
    return AsyncConfig.preset(protocol, **kw)


@torch.no_grad()
def evaluate_execution(
    model,
    x_enc: torch.Tensor,
    y: torch.Tensor,
    *,
    execution: str,
    F: int,
    stop: str,
    k: int = 0,
    batch_size: int = 256,
    seed: int = 0,
    input_mode: str = "start",
    energy_table: str = "45nm-fp32",
    protocol: str = "swiftspike",
    refractory_dropout: float | None = None,
    readout: str = "strict",
) -> dict[str, float]:
    """Run pre-encoded ``x_enc`` (``[T, N, ...]``) under one execution and stop rule; per-sample means and
    per-frame latencies (:func:`~swiftspike.asynch.frame_latency`).

    ``readout``: ``'strict'`` (correct when the target's output count is strictly the largest) or
    ``'argmax'`` (ties go to the lowest class index, as ``argmax``)."""
    choose("readout", readout, READOUTS)
    model.eval()
    g = as_graph(model, tuple(x_enc.shape[2:]))
    cfg = engine_config(
        protocol,
        execution,
        F,
        stop=stop,
        k=k,
        input_mode=input_mode,
        refractory_dropout=refractory_dropout,
        n_all=g.n_in + g.n_neurons,
        record_synops=True,
    )
    gen = torch.Generator().manual_seed(seed)
    keys = ("ok", "spikes", "steps", "s_dec", "k_dec", "s_first", "s_first_ok", "queue", "cut", "acs", "macs")
    acc: dict[str, list[Any]] = {key: [] for key in keys}
    frames: dict[str, list[torch.Tensor]] = {key: [] for key in FRAME_STATS}
    for i in range(0, x_enc.shape[1], batch_size):
        xb, yb = x_enc[:, i : i + batch_size].float(), y[i : i + batch_size]
        rec = AsyncEngine(g, cfg, generator=gen).run(xb, yb)
        out = rec.output
        score = out.sum(0) if rec.output_spiking else out[-1]
        if readout == "argmax":
            ok = score.argmax(1) == yb
        else:
            tgt = score.gather(1, yb.view(-1, 1)).squeeze(1)
            ok = tgt > score.scatter(1, yb.view(-1, 1), -math.inf).max(1).values
        st = rec.stats
        nan = torch.full_like(st["steps"], math.nan)
        acc["ok"].append(ok)
        acc["spikes"].append(st["spikes"])
        acc["steps"].append(st["steps"])
        acc["s_dec"].append(torch.where(ok, st["steps_to_decision"], nan))
        acc["k_dec"].append(torch.where(ok, st["spikes_to_decision"], nan))
        acc["s_first"].append(st["spikes_to_first_output"])
        acc["s_first_ok"].append(st["spikes_to_first_correct"])
        acc["queue"].append(st["queue_mean"])
        acc["cut"].append(st["frames_cut"])
        acc["acs"].append(sum(s.acs for s in rec.synops))
        acc["macs"].append(sum(s.macs for s in rec.synops))
        for key in FRAME_STATS:
            frames[key].append(st[key])
    cat = {key: torch.cat(v) for key, v in acc.items()}
    lat = frame_latency({key: torch.cat(v, 1) for key, v in frames.items()})
    acs, macs = float(cat["acs"].double().mean()), float(cat["macs"].double().mean())
    return {
        "accuracy": float(cat["ok"].double().mean()),
        "spikes_per_sample": finite_mean(cat["spikes"]),
        "steps_per_sample": finite_mean(cat["steps"]),
        "steps_to_decision": finite_mean(cat["s_dec"]),
        "spikes_to_decision": finite_mean(cat["k_dec"]),
        "spikes_to_first_output": finite_mean(cat["s_first"]),
        "spikes_to_first_correct": finite_mean(cat["s_first_ok"]),
        **{f"frame_{key}": val for key, val in lat.items()},
        "frames_cut": finite_mean(cat["cut"]),
        "queue_mean": finite_mean(cat["queue"]),
        "synops": acs + macs,
        "energy_j": energy(macs, acs, energy_table),
    }


# -- checkpoints and the evaluation cache ----------------------------------------------------------------

#: Config fields that change a trained model or an evaluation (the checkpoint folder's hash); not the
#: epochs (more epochs resume), the F values, seeds, stops or k (each is a file or a cache entry of its own).
_HASHED = (
    "dataset",
    "path",
    "limit",
    "bins",
    "test_limit",
    "T",
    "hidden",
    "batch_size",
    "lr",
    "weight_decay",
    "spike_reg",
    "v_threshold",
    "bias",
    "finetune",
    "truncate",
    "input_mode",
    "refractory_dropout",
    "loss",
    "early",
    "async_spike_reg",
    "readout",
    "protocol",
)


def run_folder(cfg: StudyConfig) -> Path | None:
    """``<checkpoint_dir>/<dataset>-<protocol>-<hash>`` of a resolved config, or ``None`` without one."""
    if not cfg.checkpoint_dir:
        return None
    keyed = {name: getattr(cfg, name) for name in _HASHED}
    h = hashlib.sha256(json.dumps(json_safe(keyed), sort_keys=True).encode()).hexdigest()[:10]
    return Path(cfg.checkpoint_dir).expanduser() / f"{cfg.dataset}-{cfg.protocol}-{h}"


class EvalCache:
    """Evaluation results of one seed, kept in a JSON file (rewritten atomically after every entry);
    in memory only when ``path`` is ``None``."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.data: dict[str, Any] = {}
        if path is not None and path.is_file():
            try:
                self.data = json.loads(path.read_text())
            except (OSError, ValueError):
                self.data = {}  # a damaged cache is recomputed

    def get(self, key: str) -> dict[str, float] | None:
        v = self.data.get(key)
        return None if v is None else {k: (math.nan if x is None else x) for k, x in v.items()}

    def put(self, key: str, value: dict[str, float]) -> None:
        self.data[key] = value
        if self.path is None:
            return
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(json_safe(self.data)))
        os.replace(tmp, self.path)


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


# -- the result --------------------------------------------------------------------------------------------


@dataclass
class AsyncStudyResult(StudyResult):
    """The async study's result; its fields are the keys of the JSON the CLI prints.

    ``results``: one row per evaluation (``seed, training, train_F, epochs, execution, F, stop`` and the
    metrics of :func:`evaluate_execution`); ``ratios``: one row per (seed, F, async training, baseline, stop)
    with baseline / async-trained ratios of :data:`RATIO_METRICS`, the accuracy difference and, with
    ``matched``, the same against the accuracy-matched epoch of the sync training; ``maxima``:
    :func:`grid_maxima`; ``verdict``: :func:`claim_verdict`."""

    dataset: str
    temporal: bool
    n_train: int
    n_test: int
    config: dict[str, Any]
    spec: dict[str, Any]
    training: dict[str, Any]
    results: list[dict[str, Any]]
    ratios: list[dict[str, Any]]
    maxima: dict[str, Any]
    verdict: dict[str, Any]
    seconds: float = 0.0

    def table(self) -> str:
        return study_table(self.to_dict())

    def plots(self, directory: str | Path) -> list[Path]:
        """``async_spikes_vs_F.png``, ``async_frame_latency_vs_F.png`` (spikes before the first correct output
        spike, per frame) and ``async_accuracy_vs_F.png``: means over seeds, stop rule quiescence, one line per
        model and execution."""
        from ..plots import curves_plot

        Fs = list(self.config["F"])
        paths = []
        for metric, name in (
            ("spikes_per_sample", "spikes"),
            ("frame_spikes_to_first_correct", "frame_latency"),
            ("accuracy", "accuracy"),
        ):
            curves = {}
            for label, pick in _plot_lines(self.results):
                ys = [_seed_mean(self.results, metric, stop="quiescence", F=F, **pick) for F in Fs]
                if any(math.isfinite(v) for v in ys):
                    curves[label] = ys
            paths.append(
                curves_plot(
                    curves,
                    Path(directory) / f"async_{name}_vs_F.png",
                    x=Fs,
                    logx=True,
                    xlabel="F (events per sample per forward step)",
                    ylabel=metric,
                    title=f"{self.dataset}, {self.config['protocol']} protocol (quiescence)",
                )
            )
        return paths


def _plot_lines(results: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    lines = [("sync-trained, sync-gate", dict(training="sync", execution="sync-gate"))]
    for ex in ("random", "momentum"):
        lines.append((f"sync-trained, {ex}", dict(training="sync", execution=ex)))
        lines.append((f"async-{ex}-trained, {ex}", dict(training=f"async-{ex}", execution=ex)))
    return lines


def _final(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("final", True)]


def _seed_mean(results: list[dict[str, Any]], metric: str, **where: Any) -> float:
    vals = [r[metric] for r in _final(results) if all(r.get(k) == v for k, v in where.items())]
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else math.nan


def _ratio(a: float, b: float) -> float:
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return math.nan
    return a / b


def compare(base: dict[str, float], trained: dict[str, float]) -> dict[str, float]:
    """Baseline run ``base`` against async-trained run ``trained``: ratios ``base / trained`` of
    :data:`RATIO_METRICS` (> 1 favours the async-trained model) and ``accuracy_diff`` (trained - base)."""
    out = {m: _ratio(base.get(m, math.nan), trained.get(m, math.nan)) for m in RATIO_METRICS}
    out["accuracy_diff"] = trained["accuracy"] - base["accuracy"]
    return out


def compute_ratios(results: list[dict[str, Any]], *, matched: bool = False) -> list[dict[str, Any]]:
    """One row per (seed, F, async training, baseline, stop) from the evaluation rows (see
    :class:`AsyncStudyResult`)."""
    index: dict[tuple, dict[str, Any]] = {}
    sync_epochs: dict[tuple, list[dict[str, Any]]] = {}
    for r in results:
        index[(r["seed"], r["training"], r["train_F"], r["execution"], r["F"], r["stop"], r.get("final", True))] = r
        if r["training"] == "sync":
            sync_epochs.setdefault((r["seed"], r["execution"], r["F"], r["stop"]), []).append(r)
    rows = []
    for r in _final(results):
        if r["training"] not in ASYNC_TRAININGS or r["execution"] != r["training"].split("-", 1)[1]:
            continue
        seed, F, stop = r["seed"], r["F"], r["stop"]
        for baseline in BASELINES:
            ex = r["execution"] if baseline == "async" else "sync-gate"
            base = index.get((seed, "sync", None, ex, F, stop, True))
            if base is None:
                continue
            row: dict[str, Any] = {
                "seed": seed,
                "F": F,
                "training": r["training"],
                "baseline": baseline,
                "stop": stop,
                "accuracy": r["accuracy"],
                "baseline_accuracy": base["accuracy"],
                "spikes": r["spikes_per_sample"],
                "baseline_spikes": base["spikes_per_sample"],
                **compare(base, r),
            }
            if matched:
                cands = sync_epochs.get((seed, ex, F, stop), [])
                if cands:
                    best = min(cands, key=lambda c: (abs(c["accuracy"] - r["accuracy"]), -c["epochs"]))
                    row["matched"] = {
                        "epoch": best["epochs"],
                        "baseline_accuracy": best["accuracy"],
                        "baseline_spikes": best["spikes_per_sample"],
                        **compare(best, r),
                    }
            rows.append(row)
    return rows


def _cells(ratios: list[dict[str, Any]], baseline: str, matched: bool) -> dict[tuple, list[dict[str, Any]]]:
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for r in ratios:
        if r["baseline"] != baseline:
            continue
        vals = r.get("matched") if matched else r
        if vals is None:
            continue
        cells.setdefault((r["F"], r["training"], r["stop"]), []).append({**vals, "seed": r["seed"]})
    return cells


def grid_maxima(
    ratios: list[dict[str, Any]], *, seeds: Sequence[int], acc_tolerance: float = 0.0, matched: bool = False
) -> dict[str, Any]:
    """Per baseline and metric of :data:`RATIO_METRICS` (and ``accuracy_diff``):

    * ``max``: the largest value over every cell and seed;
    * ``all_seeds``: the largest over cells of the value every seed reaches in that cell (its minimum over
      seeds; cells missing a seed are left out);
    * ``all_seeds_equal_accuracy``: the same over cells where the async-trained model's accuracy is at least
      the baseline's minus ``acc_tolerance`` in every seed.

    Each entry gives the value, its cell (``F``, ``training``, ``stop``; ``seed`` for ``max``) and the accuracy
    differences of that cell per seed. ``matched`` reads the accuracy-matched ratios instead."""
    out: dict[str, Any] = {}
    n_seeds = len(set(seeds))
    for baseline in BASELINES:
        cells = _cells(ratios, baseline, matched)
        per: dict[str, Any] = {}
        for metric in (*RATIO_METRICS, "accuracy_diff"):
            best: dict[str, Any] = {"max": None, "all_seeds": None, "all_seeds_equal_accuracy": None}
            for (F, training, stop), rows in cells.items():
                vals = [(r[metric], r) for r in rows if r[metric] is not None and math.isfinite(r[metric])]
                where = {
                    "F": F,
                    "training": training,
                    "stop": stop,
                    "accuracy_diff": {r["seed"]: r["accuracy_diff"] for r in rows},
                }
                for v, r in vals:
                    if best["max"] is None or v > best["max"]["value"]:
                        best["max"] = {"value": v, **where, "seed": r["seed"]}
                if len({r["seed"] for _, r in vals}) < n_seeds:
                    continue
                v = min(x for x, _ in vals)
                if best["all_seeds"] is None or v > best["all_seeds"]["value"]:
                    best["all_seeds"] = {"value": v, **where}
                if all(r["accuracy_diff"] >= -acc_tolerance for r in rows) and (
                    best["all_seeds_equal_accuracy"] is None or v > best["all_seeds_equal_accuracy"]["value"]
                ):
                    best["all_seeds_equal_accuracy"] = {"value": v, **where}
            per[metric] = best
        out[baseline] = per
    return out


def claim_verdict(
    ratios: list[dict[str, Any]],
    *,
    seeds: Sequence[int],
    claim_ratio: float = 1.5,
    acc_tolerance: float = 0.0,
    matched: bool = False,
) -> dict[str, Any]:
    """The test of issue 15: is there a cell (F, async training, stop rule) where, against a baseline, the
    async-trained model uses at least ``claim_ratio`` x fewer spikes or has at least ``claim_ratio`` x lower
    per-frame latency to the first correct output spike (:data:`CLAIM_METRICS`), at accuracy no lower than
    the baseline's minus ``acc_tolerance``, in every seed?

    ``reproduced``: ``True`` (such a cell exists and there are >= 2 seeds), ``False`` (none exists) or
    ``None`` (one exists but only one seed was run). ``cells``: every qualifying (baseline, metric, cell)."""
    n_seeds = len(set(seeds))
    hits = []
    for baseline in BASELINES:
        for (F, training, stop), rows in _cells(ratios, baseline, matched).items():
            if len({r["seed"] for r in rows}) < n_seeds:
                continue
            if not all(r["accuracy_diff"] >= -acc_tolerance for r in rows):
                continue
            for metric in CLAIM_METRICS:
                vals = [r[metric] for r in rows]
                if all(v is not None and math.isfinite(v) and v >= claim_ratio for v in vals):
                    hits.append(
                        {
                            "baseline": baseline,
                            "metric": metric,
                            "F": F,
                            "training": training,
                            "stop": stop,
                            "min_over_seeds": min(vals),
                            "accuracy_diff": {r["seed"]: r["accuracy_diff"] for r in rows},
                        }
                    )
    reproduced: bool | None = (True if n_seeds >= 2 else None) if hits else False
    hits.sort(key=lambda h: -h["min_over_seeds"])
    return {
        "reproduced": reproduced,
        "seeds": n_seeds,
        "claim_ratio": claim_ratio,
        "acc_tolerance": acc_tolerance,
        "matched": matched,
        "criterion": (
            f">= {claim_ratio}x fewer spikes or >= {claim_ratio}x lower per-frame latency to the first correct "
            f"output spike (in spikes or forward steps) than a baseline, at accuracy >= the baseline's - "
            f"{100 * acc_tolerance:.1f} pts, in the same cell for every seed"
        ),
        "cells": hits,
    }


# -- the study ---------------------------------------------------------------------------------------------


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


# -- the table ---------------------------------------------------------------------------------------------


def _mean(vals: list) -> float:
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else math.nan


def _fmt(v: Any, spec: str = ".1f") -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def study_table(res: dict[str, Any]) -> str:
    """Human-readable tables of a :func:`run_study` result (as a dict)."""
    cfg = res["config"]
    seeds = cfg.get("seeds") or [cfg.get("seed", 0)]
    lines = [
        f"dataset {res['dataset']} (train {res['n_train']}, test {res['n_test']}), protocol {cfg['protocol']}, "
        f"F {cfg['F']}, seeds {seeds}, epochs sync {cfg['epochs']} / async {cfg['async_epochs']}, "
        f"loss {cfg['loss']}, lr {cfg['lr']}, readout {cfg['readout']}",
        "",
    ]
    cols = (
        ("acc%", "accuracy", 100),
        ("spikes", "spikes_per_sample", 1),
        ("steps", "steps_per_sample", 1),
        ("spk>dec", "spikes_to_decision", 1),
        ("fr spk>1st", "frame_spikes_to_first_output", 1),
        ("fr spk>ok", "frame_spikes_to_first_correct", 1),
        ("fr stp>ok", "frame_steps_to_first_correct", 1),
        ("fr out%", "frame_frames_with_output", 100),
    )
    head = f"{'trained':<15}{'F':>5} {'run':<10}{'stop':<24}" + "".join(f"{c:>11}" for c, _, _ in cols)
    lines += [
        f"evaluations, means over {len(seeds)} seed(s) (fr = per frame, over the (frame, sample) pairs that "
        "have one; async-trained models under sync execution: JSON only):",
        head,
        "-" * len(head),
    ]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in _final(res["results"]):
        if r["training"] != "sync" and r["execution"] == "sync":
            continue
        groups.setdefault((r["training"], r["F"], r["execution"], r["stop"]), []).append(r)
    for (training, F, execution, stop), rs in groups.items():
        vals = "".join(f"{_fmt(_mean([scale * r[m] for r in rs if r.get(m) is not None])):>11}" for _, m, scale in cols)
        lines.append(f"{training:<15}{_fmt(F, 'd'):>5} {execution:<10}{stop:<24}{vals}")
    for baseline, title in (
        ("async", "sync-trained run with the same scheduler at the same F"),
        ("sync-gate", "sync-trained under the sync gate at the same F"),
    ):
        rows = [r for r in res["ratios"] if r["baseline"] == baseline]
        if not rows:
            continue
        lines += [
            "",
            f"ratios baseline / async-trained (> 1 favours async-trained); baseline: {title}; values per seed:",
        ]
        h2 = (
            f"{'trained':<15}{'stop':<24}{'F':>5}  {'spikes':<13}{'fr spk>ok':<13}{'fr stp>ok':<13}{'acc diff pts':<15}"
        )
        lines += [h2, "-" * len(h2)]
        cells: dict[tuple, list[dict[str, Any]]] = {}
        for r in rows:
            cells.setdefault((r["training"], r["stop"], r["F"]), []).append(r)
        for (training, stop, F), rs in cells.items():
            join = lambda m, s=".2f", rs=rs: "/".join(_fmt(r[m], s) for r in rs)
            lines.append(
                f"{training:<15}{stop:<24}{F:>5}  {join('spikes_per_sample'):<13}"
                f"{join('frame_spikes_to_first_correct'):<13}{join('frame_steps_to_first_correct'):<13}"
                f"{'/'.join(_fmt(100 * r['accuracy_diff'], '+.1f') for r in rs):<15}"
            )
    for mode in res["maxima"]:
        lines += [
            "",
            f"grid maxima ({mode.replace('_', ' ')}; 'all seeds' = the value every seed reaches in one "
            f"cell; 'equal acc' = cells where the async-trained model is at least as accurate in every seed):",
        ]
        h3 = f"{'baseline':<10}{'metric':<31}{'max':>7}  {'all seeds':>9}  {'equal acc':>9}  cell of 'equal acc'"
        lines += [h3, "-" * len(h3)]
        for baseline, per in res["maxima"][mode].items():
            for metric in (*CLAIM_METRICS, "frame_spikes_to_first_output", "accuracy_diff"):
                b = per[metric]
                scale = 100 if metric == "accuracy_diff" else 1
                f = "+.1f" if metric == "accuracy_diff" else ".2f"
                val = lambda e, scale=scale: None if e is None else scale * e["value"]
                e = b["all_seeds_equal_accuracy"]
                where = "-" if e is None else f"F={e['F']} {e['training']} {e['stop']}"
                lines.append(
                    f"{baseline:<10}{metric + (' (pts)' if scale == 100 else ''):<31}"
                    f"{_fmt(val(b['max']), f):>7}  {_fmt(val(b['all_seeds']), f):>9}  "
                    f"{_fmt(val(e), f):>9}  {where}"
                )
    for mode, v in res["verdict"].items():
        state = {True: "REPRODUCED", False: "NOT reproduced", None: "not decided (one seed)"}[v["reproduced"]]
        lines += ["", f"claim ({mode.replace('_', ' ')}): {state}: {v['criterion']} ({v['seeds']} seed(s))"]
        for h in v["cells"][:5]:
            lines.append(
                f"  {h['baseline']}: {h['metric']} x{h['min_over_seeds']:.2f} at F={h['F']} {h['training']} {h['stop']}"
            )
    lines += ["", "training time (s): " + ", ".join(f"{k} {v['seconds']:.0f}" for k, v in res["training"].items())]
    if res.get("seconds"):
        lines.append(f"study wall time: {res['seconds']:.0f} s")
    return "\n".join(lines)
