r"""The one gradient-descent loop of swiftspike: :class:`Trainer`, configured by :class:`TrainConfig` and hooks.

Every gradient training in swiftspike is a configuration of this class -- BPTT of the layer-synchronous
engine (the default), BPTT through the asynchronous engine (``runner=async_runner(...)``), its per-step
loss (``loss_fn``), truncated per-frame training (``frames``), ANN training and the fine-tuning of
converted SNNs (``runner=forward_runner``, ``param_groups``, ``after_step``, ``scheduler='cosine'``) --
so all of them share seeding, devices, precision, data pipelines, distributed training, checkpoints,
resume, metric logs and the progress bar.

One step on a batch ``(x, y)``:

1. ``x`` is moved to the device and encoded (``encoder(x) -> [T, B, ...]``; time-major data and
   encoder-less models get ``x`` as it is), neuron states are reset;
2. forward and loss: ``rec = runner(model, x)``; :math:`L = \text{loss\_fn}(rec, y) + \lambda_s\,
   \text{spike\_penalty}(rec)` (default ``loss_fn``: the named loss of ``config.loss`` on ``rec.output``),
   back-propagated once -- or, with a ``frames`` hook, a generator that yields one loss per frame, each
   back-propagated as it comes (so memory holds one frame's graph) and that returns the run's record;
3. gradient clipping (``grad_clip``), the optimizer step, then ``after_step(model)`` without gradients
   (clamps); the learning-rate scheduler steps once per epoch.

Seeding: the shuffling permutation of epoch ``e`` comes from a generator seeded with
``seed * 1_000_003 + e`` and the global RNG (encoder noise, dropout) is re-seeded with ``seed * 7919 + e``
at the start of every epoch, so a run resumed from the checkpoint of epoch ``e`` follows the same
trajectory as an uninterrupted one. Evaluation seeds its encoder noise from ``seed`` (without touching the
global RNG), so the accuracy reported after training and a later evaluation of the checkpoint agree.
"""

from __future__ import annotations

import contextlib
import math
import random
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.encoders import Encoder, encoder_info
from ..devices import autocast, check_precision, compile_layers, resolve_device, set_threads
from ..engines.sync import run_sync
from ..errors import SwiftSpikeError, check_positive, check_positive_int, choose
from ..metrics.energy import energy, get_energy_table
from ..metrics.record import RunRecord
from ..metrics.report import Report, ReportBuilder, decision_latency, running_scores
from ..models import neuron_parameters
from ..neurons.modules import reset
from . import distributed
from .checkpoint import check_writable, load_checkpoint, need_safetensors, save_checkpoint, swiftspike_version
from .data import Batch, Source, TensorSource, batches, make_source
from .losses import get_loss
from .progress import progress
from .tracking import MetricsLogger, metrics_path_for

__all__ = [
    "OPTIMIZERS",
    "SCHEDULERS",
    "TrainConfig",
    "Trainer",
    "batches",
    "evaluate",
    "forward_runner",
    "logits_record",
    "seed_everything",
    "spike_penalty",
    "sync_runner",
]

Runner = Callable[[nn.Module, torch.Tensor], RunRecord]
LossFn = Callable[[RunRecord, torch.Tensor], torch.Tensor]
FramesFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], Generator[torch.Tensor, None, RunRecord]]

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULERS = ("none", "cosine")
RESUME_MISSING = ("error", "fresh")
#: settings that change a run's trajectory: a resumed run must use the checkpoint's values (or override)
TRAJECTORY = (
    "batch_size",
    "lr",
    "loss",
    "spike_reg",
    "seed",
    "grad_clip",
    "optimizer",
    "weight_decay",
    "momentum",
    "scheduler",
    "precision",
    "batch_first",
)


def sync_runner(model: nn.Module, x: torch.Tensor) -> RunRecord:
    """The layer-synchronous engine with recording (the default runner)."""
    return run_sync(model, x, record=True)


def neurobench_runner(model: nn.Module, x: torch.Tensor) -> RunRecord:
    """The layer-synchronous engine recording NeuroBench's workload counts too."""
    return run_sync(model, x, record_neurobench=True)


def logits_record(out: torch.Tensor) -> RunRecord:
    """A one-step analog :class:`RunRecord` around logits ``[B, C]`` (ANNs, converted SNNs)."""
    return RunRecord(output=out.unsqueeze(0), output_spiking=False)


def forward_runner(model: nn.Module, x: torch.Tensor) -> RunRecord:
    """``model(x)`` as a record: for models that return logits ``[B, C]`` (ANNs, converted SNNs)."""
    return logits_record(model(x))


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  the global RNG user code and libraries draw from
    torch.manual_seed(seed)


def spike_penalty(rec: RunRecord) -> torch.Tensor:
    """Mean spikes per neuron per step over all recorded layers (differentiable)."""
    terms = [ls.per_step.mean() / ls.n_neurons for ls in rec.layers]
    return torch.stack(terms).mean() if terms else torch.zeros(())


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),  # noqa: NPY002  the global RNG is saved for an exact resume
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"].cpu())
    if "numpy" in state:
        np.random.set_state(state["numpy"])  # noqa: NPY002  restores the global RNG saved by rng_state
    if "python" in state:
        random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


@dataclass
class TrainConfig:
    """Everything about a training run that is a plain value (stored in checkpoints; the CLI parses into it).

    * ``batch_size`` is the global batch: under ``torchrun`` it is split across the processes.
    * ``resume``: continue from ``checkpoint``; a missing file is an error (``resume_missing='error'``) or
      starts a new run with a message (``'fresh'``); changed trajectory settings (:data:`TRAJECTORY`, the
      model spec, the encoder) are refused unless ``override``.
    * ``device``: ``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` | ``mps``; ``precision``: ``float32`` | ``bf16``
      | ``fp16`` (autocast; fp16 with loss scaling); ``compile``: ``torch.compile`` the layers;
      ``threads``: CPU threads (``None``: see :func:`swiftspike.devices.resolve_threads`; ``0``: all cores).
    * ``batch_first=False``: the data's batches are time-major ``[T, B, ...]`` and bypass the encoder.
    * ``metrics_log``: the JSON-lines file (default: beside the checkpoint); ``log_dir``: TensorBoard.
    * ``distributed``: ``auto`` (DDP when launched by torchrun with several processes) | ``off``.
    """

    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    loss: str = "count"
    spike_reg: float = 0.0
    seed: int = 0
    checkpoint: str | None = None
    resume: bool = False
    resume_missing: str = "error"
    override: bool = False
    progress: bool = True
    grad_clip: float | None = None
    optimizer: str = "adam"
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: str = "none"
    device: str = "auto"
    precision: str = "float32"
    compile: bool = False
    threads: int | None = None
    num_workers: int = 0
    batch_first: bool = True
    metrics_log: str | None = None
    log_dir: str | None = None
    distributed: str = "auto"
    find_unused_parameters: bool = False
    energy_table: str = "45nm-fp32"

    def validate(self) -> TrainConfig:
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_positive(self.lr, "lr")
        get_loss(self.loss)
        if not (self.spike_reg >= 0 and math.isfinite(self.spike_reg)):
            raise SwiftSpikeError(f"spike_reg must be a finite number >= 0, got {self.spike_reg!r}")
        if self.grad_clip is not None:
            check_positive(self.grad_clip, "grad_clip")
        choose("optimizer", self.optimizer, OPTIMIZERS)
        choose("scheduler", self.scheduler, SCHEDULERS)
        choose("resume_missing", self.resume_missing, RESUME_MISSING)
        choose("distributed", self.distributed, distributed.MODES)
        get_energy_table(self.energy_table)
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise SwiftSpikeError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if isinstance(self.num_workers, bool) or not isinstance(self.num_workers, int) or self.num_workers < 0:
            raise SwiftSpikeError(f"num_workers must be an integer >= 0, got {self.num_workers!r}")
        if self.resume and not self.checkpoint:
            raise SwiftSpikeError("resume needs a checkpoint path to resume from (checkpoint / --checkpoint)")
        return self


def _model_device(model: nn.Module) -> torch.device:
    for t in [*model.parameters(), *model.buffers()][:1]:
        return t.device
    return torch.device("cpu")


def _seeded(seed: int | None, device: torch.device):
    """A region whose RNG starts from ``seed`` and leaves the global RNG as it was (nothing for ``None``)."""
    if seed is None:
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    cuda = [device] if device.type == "cuda" else []
    stack.enter_context(torch.random.fork_rng(devices=cuda, device_type="cuda"))
    torch.manual_seed(seed)
    return stack


def _eval_source(data: Any, y: torch.Tensor | None, batch_size: int, num_workers: int) -> Source:
    if isinstance(data, torch.Tensor):
        if y is None:
            raise SwiftSpikeError("evaluate(x, y) needs the targets y with the inputs x")
        return TensorSource(data, y, batch_size, 0, shuffle=False)
    return make_source(data, split="test", batch_size=batch_size, shuffle=False, num_workers=num_workers)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    encoder: Encoder | None,
    data: Any,
    y: torch.Tensor | None = None,
    *,
    batch_size: int = 256,
    runner: Runner = sync_runner,
    energy_table: str = "45nm-fp32",
    progress_bar: bool = False,
    seed: int | None = None,
    device: Any = None,
    precision: str = "float32",
    batch_first: bool = True,
    num_workers: int = 0,
    neurobench: bool = False,
    **extra: Any,
) -> Report:
    """Evaluate ``model`` and return a :class:`~swiftspike.metrics.Report`.

    ``data``: inputs ``x`` (with targets ``y``), a swiftspike Dataset (its test split), a torch Dataset of
    ``(x, y)`` or a DataLoader of batches. ``seed``: the encoder noise starts from it (the global RNG is left
    as it was); ``None`` draws from the global RNG. ``device``: where to run (the model is moved there);
    ``None`` keeps the model's device. ``neurobench``: also NeuroBench's metrics (static ones of ``model``;
    with the default runner, its workload counts too)."""
    check_positive_int(batch_size, "batch_size")
    get_energy_table(energy_table)
    dev = resolve_device(device) if device is not None else _model_device(model)
    check_precision(precision, dev)
    if device is not None:
        model.to(dev)
    source = _eval_source(data, y, batch_size, num_workers)
    was_training = model.training
    model.eval()
    builder = ReportBuilder(energy_table, model=model if neurobench else None)
    if neurobench and runner is sync_runner:
        runner = neurobench_runner
    try:
        with _seeded(seed, dev):
            for b in progress(source.epoch(0), desc="eval", enabled=progress_bar):
                x, yb = b.x.to(dev), b.y.to(dev)
                reset(model)
                with autocast(dev, precision):
                    rec = runner(model, encoder(x) if encoder is not None and batch_first else x)
                builder.add(rec, yb)
    finally:
        reset(model)
        model.train(was_training)
    return builder.build(**extra)


class _EpochMeter:
    """Sums of one epoch's training observables, kept on the device until the epoch ends."""

    def __init__(self, device: torch.device) -> None:
        self.loss = 0.0
        self.n = 0
        z = lambda: torch.zeros((), dtype=torch.float64, device=device)
        self.correct, self.spikes, self.lat_sum, self.lat_n, self.acs, self.macs = (z() for _ in range(6))
        self.has_layers = self.has_synops = False

    @torch.no_grad()
    def add(self, rec: RunRecord, y: torch.Tensor, loss: float) -> None:
        out = rec.output.detach()
        if out.dim() != 3:
            out = out.flatten(2)
        n = len(y)
        self.loss += loss * n
        self.n += n
        score = out.sum(0) if rec.output_spiking else out.mean(0)
        self.correct += (score.argmax(1) == y).sum()
        scores = running_scores(out.float(), rec.output_spiking)
        lat = decision_latency(scores, y)
        ok = lat <= out.shape[0]
        self.lat_sum += lat[ok].double().sum()
        self.lat_n += ok.sum()
        for ls in rec.layers:
            self.spikes += ls.per_step.detach().double().sum()
            self.has_layers = True
        for so in rec.synops:
            self.acs += so.acs.double().sum()
            self.macs += so.macs.double().sum()
            self.has_synops = True

    def result(self, energy_table: str, device: torch.device) -> dict[str, float]:
        vals = [
            self.loss,
            float(self.n),
            *(float(t) for t in (self.correct, self.spikes, self.lat_sum, self.lat_n, self.acs, self.macs)),
            float(self.has_layers),
            float(self.has_synops),
        ]
        loss, n, correct, spikes, lat_sum, lat_n, acs, macs, has_l, has_s = distributed.all_reduce_sum(vals, device)
        if n == 0:
            raise SwiftSpikeError("the epoch had no training samples")
        out = {"loss": loss / n, "train_accuracy": correct / n, "latency_steps": lat_sum / lat_n if lat_n else math.nan}
        if has_l:
            out["spikes_per_sample"] = spikes / n
        if has_s:
            out["synops"] = (acs + macs) / n
            out["energy_j"] = energy(macs / n, acs / n, energy_table)
        return out


def _stderr(msg: str) -> None:
    print(f"swiftspike: {msg}", file=sys.stderr, flush=True)


@dataclass
class Trainer:
    """Train ``model`` with gradient descent (see the module docstring for the step and the hooks).

    ``spec`` (the model's build spec, see :func:`swiftspike.models.build_model`) and ``meta`` (dataset ...)
    are stored in checkpoints, so ``eval`` can rebuild the model from the file alone.

    Hooks: ``runner(model, x) -> RunRecord``; ``loss_fn(rec, y) -> loss`` (default: ``config.loss``);
    ``frames(model, x, y)``: a generator yielding one loss per frame and returning the record (per-frame
    backward, truncated training); ``after_step(model)``; ``scheduler_fn(optimizer, config)`` (default:
    ``config.scheduler``); ``param_groups(model)`` -> parameter groups with their own options (default:
    every trainable parameter); ``optimizer``: a ready optimizer instead of ``config.optimizer``; ``log``:
    where one-line messages (resume) go (default: stderr of rank 0).
    """

    model: nn.Module
    encoder: Encoder | None = None
    config: TrainConfig = field(default_factory=TrainConfig)
    runner: Runner = sync_runner
    spec: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    loss_fn: LossFn | None = None
    frames: FramesFn | None = None
    after_step: Callable[[nn.Module], None] | None = None
    scheduler_fn: Callable[[torch.optim.Optimizer, TrainConfig], Any] | None = None
    param_groups: Callable[[nn.Module], list] | None = None
    optimizer: torch.optim.Optimizer | None = None
    desc: str = "epoch"
    log: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        cfg = self.config.validate()
        if self.frames is not None and cfg.spike_reg > 0:
            raise SwiftSpikeError("the spike regulariser is not available with per-frame (truncated) training")
        info = distributed.env_info()
        use_dist = cfg.distributed == "auto" and info.enabled
        self.device = resolve_device(cfg.device, local_rank=info.local_rank if use_dist else None)
        check_precision(cfg.precision, self.device)
        self.dist = distributed.setup(cfg.distributed, self.device.type)
        self.is_main = self.dist.is_main
        self.threads = set_threads(cfg.threads)
        self._check_outputs()
        seed_everything(cfg.seed)
        self.model.to(self.device)
        if cfg.compile:
            self._compile()
        self.opt: torch.optim.Optimizer = self.optimizer if self.optimizer is not None else self._build_optimizer()
        self.optimizer = self.opt
        self.lr_scheduler = self._build_scheduler()
        self.scaler = torch.amp.GradScaler(self.device.type) if cfg.precision == "fp16" else None
        if self.loss_fn is None:
            named = get_loss(cfg.loss)
            self.loss_fn = lambda rec, y: named(rec.output, y)
        self._ddp = distributed.wrap(self.model, self.device, cfg.find_unused_parameters) if self.dist.enabled else None
        self.history: list[dict[str, Any]] = []
        self.start_epoch = 0
        self.resumed_from: int | None = None
        self.metrics_path = (
            Path(cfg.metrics_log) if cfg.metrics_log else (metrics_path_for(cfg.checkpoint) if cfg.checkpoint else None)
        )

    # -- set-up --------------------------------------------------------------------------------
    def _check_outputs(self) -> None:
        """Fail now, not after the first epoch, when a file this run must write cannot be written."""
        cfg = self.config
        if not self.is_main:
            return
        if cfg.checkpoint:
            need_safetensors()
            check_writable(cfg.checkpoint, "checkpoint")
        if cfg.metrics_log:
            check_writable(cfg.metrics_log, "metrics log")
        if cfg.log_dir:
            from .tracking import need_tensorboard

            need_tensorboard()
            check_writable(Path(cfg.log_dir) / "probe", "TensorBoard log directory")

    def _compile(self) -> None:
        """``torch.compile`` every layer in place (:func:`swiftspike.devices.compile_layers`)."""
        compile_layers(self.model)

    def _build_optimizer(self) -> torch.optim.Optimizer:
        cfg = self.config
        params = (
            self.param_groups(self.model)
            if self.param_groups
            else [p for p in self.model.parameters() if p.requires_grad]
        )
        if not params:
            raise SwiftSpikeError("the model has no trainable parameters")
        if cfg.optimizer == "adam":
            return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        if cfg.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)

    def _build_scheduler(self):
        if self.scheduler_fn is not None:
            return self.scheduler_fn(self.opt, self.config)
        if self.config.scheduler == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, self.config.epochs)
        return None

    def _say(self, msg: str) -> None:
        if self.is_main:
            (self.log or _stderr)(msg)

    # -- checkpoints ---------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The checkpoint payload (see :mod:`swiftspike.training.checkpoint` for the file layout)."""
        st: dict[str, Any] = {
            "kind": "train",
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "epoch": len(self.history),
            "history": self.history,
            "spec": self.spec,
            "meta": self.meta,
            "config": asdict(self.config),
            "encoder": encoder_info(self.encoder),
            "neurons": neuron_parameters(self.model),
            "rng": rng_state(),
            "run": {
                "swiftspike": swiftspike_version(),
                "torch": torch.__version__,
                "device": str(self.device),
                "threads": self.threads,
                "world_size": self.dist.world_size,
            },
        }
        if self.lr_scheduler is not None:
            st["scheduler"] = self.lr_scheduler.state_dict()
        if self.scaler is not None:
            st["scaler"] = self.scaler.state_dict()
        return st

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint (atomic; only rank 0 writes under torchrun)."""
        return save_checkpoint(path, self.state()) if self.is_main else Path(path)

    def differences(self, data: dict[str, Any]) -> list[str]:
        """Trajectory settings in which this run differs from checkpoint ``data`` (``"lr: 0.003 -> 0.01"``)."""
        cfg, old = asdict(self.config), data.get("config") or {}
        keys = list(TRAJECTORY) + (["epochs"] if self.config.scheduler != "none" or self.scheduler_fn else [])
        out = [f"{k}: {old[k]!r} -> {cfg[k]!r}" for k in keys if k in old and old[k] != cfg[k]]
        if self.spec is not None and data.get("spec") is not None and data["spec"] != self.spec:
            out.append(
                "model spec: "
                + ", ".join(
                    f"{k} {data['spec'].get(k)!r} -> {self.spec.get(k)!r}"
                    for k in sorted(set(self.spec) | set(data["spec"]))
                    if data["spec"].get(k) != self.spec.get(k)
                )
            )
        enc = encoder_info(self.encoder)
        if enc is not None and data.get("encoder") not in (None, enc):
            out.append(f"encoder: {data['encoder']!r} -> {enc!r}")
        return out

    def load(self, path: str | Path, *, check: bool = False) -> None:
        """Restore model, optimizer, scheduler, scaler, RNG and history from ``path``; with ``check``, refuse
        changed trajectory settings unless ``config.override``."""
        data = load_checkpoint(path, map_location=self.device)
        if check:
            diffs = self.differences(data)
            if diffs and not self.config.override:
                raise SwiftSpikeError(
                    f"checkpoint {path} was trained with other settings ({'; '.join(diffs)}); "
                    "resume with the same settings, or pass override=True (--override) to "
                    "continue with the new ones"
                )
            if diffs:
                self._say(f"continuing {path} with changed settings: {'; '.join(diffs)}")
        try:
            self.model.load_state_dict(data["model"])
            self.opt.load_state_dict(data["optimizer"])
        except (KeyError, RuntimeError, ValueError) as e:
            raise SwiftSpikeError(f"checkpoint {path} does not match this model: {str(e).splitlines()[0]}") from None
        if self.config.override:
            for g in self.opt.param_groups:
                g["lr"], g["initial_lr"] = self.config.lr, self.config.lr
        if self.lr_scheduler is not None and data.get("scheduler") is not None:
            self.lr_scheduler.load_state_dict(data["scheduler"])
        if self.scaler is not None and data.get("scaler") is not None:
            self.scaler.load_state_dict(data["scaler"])
        if data.get("rng"):
            set_rng_state(data["rng"])
        self.history = list(data.get("history", []))
        self.start_epoch = int(data.get("epoch", len(self.history)))

    def _resume(self) -> None:
        cfg = self.config
        if not cfg.resume:
            return
        path = Path(cfg.checkpoint)  # type: ignore[arg-type]
        exists = path.is_file()
        if self.dist.enabled:
            every, some = distributed.agree(exists, self.device)
            if every != some:
                raise SwiftSpikeError(
                    f"checkpoint {path} is visible to some processes only; put it on storage that every node reads"
                )
        if not exists:
            if cfg.resume_missing == "error":
                raise SwiftSpikeError(
                    f"cannot resume: checkpoint {path} does not exist (to start a new run when "
                    "it is missing, use resume_missing='fresh')"
                )
            self._say(f"no checkpoint at {path}: starting a new run")
            return
        self.load(path, check=True)
        self.resumed_from = self.start_epoch
        if self.start_epoch >= cfg.epochs:
            self._say(
                f"{path} is already trained for {self.start_epoch} epochs (asked: {cfg.epochs}); nothing to train"
            )
        else:
            self._say(f"resuming from {path} after epoch {self.start_epoch} of {cfg.epochs}")

    # -- training ------------------------------------------------------------------------------
    def _source(self, data: Any) -> Source:
        if isinstance(data, Source):
            return data
        cfg = self.config
        return make_source(
            data,
            split="train",
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            num_workers=cfg.num_workers,
            rank=self.dist.rank,
            world_size=self.dist.world_size,
            pin_memory=self.device.type == "cuda",
        )

    def _inputs(self, b: Batch) -> tuple[torch.Tensor, torch.Tensor, float]:
        """Device, encoding and this rank's shard of a batch; returns ``(x, y, loss weight)``."""
        cfg = self.config
        x, y = b.x.to(self.device, non_blocking=True), b.y.to(self.device, non_blocking=True)
        encode = self.encoder is not None and cfg.batch_first
        if encode:
            x = self.encoder(x)  # type: ignore[misc]
        time_major = encode or not cfg.batch_first
        weight = 1.0
        if b.shard is not None:
            n_global = len(y)
            a, z = b.shard
            x = x[:, a:z] if time_major else x[a:z]
            y = y[a:z]
            weight = len(y) * self.dist.world_size / n_global
        elif self.dist.enabled:
            n_total = distributed.all_reduce_sum([float(len(y))], self.device)[0]
            weight = len(y) * self.dist.world_size / n_total
        return x, y, weight

    def _backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def _checked(self, loss: torch.Tensor, epoch: int) -> float:
        value = float(loss.detach())
        if not math.isfinite(value):
            raise SwiftSpikeError(f"loss became {value} in epoch {epoch + 1}; lower the learning rate")
        return value

    def _forward_backward(self, x: torch.Tensor, y: torch.Tensor, weight: float, epoch: int) -> tuple[RunRecord, float]:
        cfg = self.config
        if self.frames is not None:
            gen = self.frames(self.model, x, y)
            total = 0.0
            while True:
                try:
                    with autocast(self.device, cfg.precision):
                        loss = next(gen)
                except StopIteration as stop:
                    rec = stop.value
                    break
                total += self._checked(loss, epoch)
                if loss.requires_grad:
                    self._backward(loss * weight if weight != 1.0 else loss)
            if self.dist.enabled:
                distributed.average_gradients(self.model.parameters())
            if not isinstance(rec, RunRecord):
                raise SwiftSpikeError("a frames hook must end by returning the run's RunRecord")
            return rec, total
        with autocast(self.device, cfg.precision):
            rec = self._ddp(self.runner, x) if self._ddp is not None else self.runner(self.model, x)
            loss = self.loss_fn(rec, y)  # type: ignore[misc]
            if cfg.spike_reg > 0:
                loss = loss + cfg.spike_reg * spike_penalty(rec)
        value = self._checked(loss, epoch)
        self._backward(loss * weight if weight != 1.0 else loss)
        return rec, value

    def train_epoch(self, data: Any, epoch: int) -> dict[str, Any]:
        """One epoch over ``data`` (anything :meth:`fit` accepts, or a prepared source)."""
        cfg = self.config
        source = self._source(data)
        self.model.train()
        batches_ = source.epoch(epoch)  # a DataLoader iterator is made before the RNG is seeded (see data.py)
        offset = 0 if isinstance(source, TensorSource) else 7_919_000_003 * self.dist.rank
        torch.manual_seed(cfg.seed * 7919 + epoch + offset)  # encoder noise, dropout
        try:
            total: int | None = len(source)
        except TypeError:
            total = None
        meter = _EpochMeter(self.device)
        lr = self.opt.param_groups[0]["lr"]
        bar = progress(
            batches_, desc=f"{self.desc} {epoch + 1}/{cfg.epochs}", total=total, enabled=cfg.progress and self.is_main
        )
        for b in bar:
            reset(self.model)
            x, y, weight = self._inputs(b)
            self.opt.zero_grad(set_to_none=True)
            rec, value = self._forward_backward(x, y, weight, epoch)
            self._step()
            meter.add(rec, y, value)
        reset(self.model)
        return {"epoch": epoch + 1, **meter.result(cfg.energy_table, self.device), "lr": lr}

    def _step(self) -> None:
        cfg, opt = self.config, self.opt
        if self.scaler is not None:
            self.scaler.unscale_(opt)
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()
        if self.after_step is not None:
            with torch.no_grad():
                self.after_step(self.model)

    def fit(self, data: Any, val: Any = None) -> list[dict[str, Any]]:
        """Train for ``config.epochs`` epochs (counting those already in a resumed checkpoint).

        ``data``: a swiftspike Dataset (its train split), a pair ``(x, y)``, a torch Dataset of ``(x, y)``
        or a DataLoader / re-iterable of batches; ``val``: optional data evaluated after every epoch (its
        accuracy, spikes, latency and energy join the epoch's record). Returns the history: one record per
        epoch, as written to the metrics log."""
        cfg = self.config
        source = self._source(data)
        self._resume()
        logger = MetricsLogger(self.metrics_path, cfg.log_dir) if self.is_main else None
        if logger is not None:
            logger.start(self.history)
        try:
            for epoch in range(self.start_epoch, cfg.epochs):
                t0 = time.perf_counter()
                stats = self.train_epoch(source, epoch)
                if val is not None and self.is_main:
                    rep = self.evaluate(val)
                    stats.update(
                        {
                            "val_accuracy": rep.accuracy,
                            "val_spikes_per_sample": rep.spikes_per_sample,
                            "val_latency_steps": rep.latency_steps,
                            "val_synops": rep.synops,
                            "val_energy_j": rep.energy_j,
                        }
                    )
                stats["seconds"] = time.perf_counter() - t0
                self.history.append(stats)
                if self.lr_scheduler is not None:
                    self.lr_scheduler.step()
                if cfg.checkpoint:
                    self.save(cfg.checkpoint)
                if logger is not None:
                    logger.log(stats)
        finally:
            if logger is not None:
                logger.close()
        self.start_epoch = max(self.start_epoch, cfg.epochs)
        return self.history

    def evaluate(self, data: Any, y: torch.Tensor | None = None, **kw: Any) -> Report:
        """:func:`evaluate` with this trainer's runner, device, precision, data layout and seed."""
        cfg = self.config
        kw.setdefault("runner", self.runner)
        kw.setdefault("seed", cfg.seed)
        kw.setdefault("device", self.device)
        kw.setdefault("precision", cfg.precision)
        kw.setdefault("batch_first", cfg.batch_first)
        kw.setdefault("num_workers", cfg.num_workers)
        kw.setdefault("energy_table", cfg.energy_table)
        return evaluate(self.model, self.encoder, data, y, **kw)
