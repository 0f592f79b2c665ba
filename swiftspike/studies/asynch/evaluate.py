"""Data, model and engine of the async study, one evaluation under one execution and stop rule
(:func:`evaluate_execution`), the checkpoint folder and the evaluation cache."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ...asynch.config import AsyncConfig
from ...asynch.engine import AsyncEngine, as_graph
from ...asynch.state import FRAME_STATS
from ...asynch.tracking import frame_latency
from ...asynch.training import finite_mean
from ...data.dataset import Dataset
from ...data.encoders import Encoder, RateEncoder, SequenceEncoder
from ...errors import choose
from ...metrics.energy import energy
from ...models import build_model, default_spec
from ..base import json_safe
from .config import EXECUTIONS, READOUTS, StudyConfig


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
