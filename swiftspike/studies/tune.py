"""Multi-objective hyper-parameter search with Optuna: the Pareto front of accuracy against spikes,
energy or latency.

Each trial trains ``build_model(default_spec(...))`` (an MLP of LIF neurons, spike-count readout) with
the single :class:`~swiftspike.training.Trainer` and measures its objectives on a *validation split*
held out from the training data (``val_fraction``, the same split for every trial; the test set is never
used to choose). Objectives: ``accuracy`` (maximised), ``spikes`` per sample, ``energy`` per sample
(joules, counted operations x energy table) and ``latency`` to decision (steps; a network that decides
no sample gets ``T + 1``), all minimised. A trial *dominates* another if it is at least as good on every
objective and strictly better on one; the Pareto front is the set of complete trials no other complete
trial dominates.

Reproducibility: the ``n``-th trial whose parameters the sampler draws trains with seed ``seed + n`` and
draws them from a sampler seeded with ``seed + n`` (given the results of the trials before it). A trial
that was interrupted (Ctrl-C, a killed process, a crash) is queued again on the next run with its
parameters and seed, so a sweep interrupted and run again tries the same (parameters, seed) pairs as an
uninterrupted one. With several workers sharing one storage, seeds stay unique per trial, but which
worker runs which trial, and so what each sampler has seen, depends on timing.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import torch

from ..data import Dataset, load_dataset, make_encoder
from ..devices import check_precision, resolve_device, resolve_threads
from ..errors import SwiftSpikeError, check_positive_int, choose
from ..models import build_model, default_spec
from ..training import TrainConfig, Trainer, seed_everything

#: objective name -> (direction, Report field, axis label)
OBJECTIVES: dict[str, tuple[str, str, str]] = {
    "accuracy": ("maximize", "accuracy", "validation accuracy"),
    "spikes": ("minimize", "spikes_per_sample", "spikes per sample"),
    "energy": ("minimize", "energy_j", "energy per sample (J)"),
    "latency": ("minimize", "latency_steps", "latency to decision (steps)"),
}
SAMPLERS = ("tpe", "nsga2", "random")
INSTALL_HINT = "pip install 'swiftspike[tune]'"


# -- the search space ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One search dimension: a range ``low..high`` (integer or float, log-scaled or linear), or a list
    of ``choices`` (one choice fixes the value)."""

    low: float
    high: float
    integer: bool = False
    log: bool = False
    choices: tuple[float, ...] = ()

    def check(self, name: str) -> Param:
        minimum, strict = _BOUNDS[name]
        values = self.choices or (self.low, self.high)
        for v in values:
            if not math.isfinite(v) or v < minimum or (strict and v == minimum):
                raise SwiftSpikeError(f"search parameter {name} must be {'>' if strict else '>='} {minimum}, got {v}")
        if not self.choices:
            if self.low >= self.high:
                raise SwiftSpikeError(
                    f"search range of {name} needs low < high, got {self.low}:{self.high} (give one value to fix it)"
                )
            if self.log and self.low <= 0:
                raise SwiftSpikeError(f"log-scaled search range of {name} needs low > 0, got {self.low}")
        return self

    def suggest(self, trial: Any, name: str) -> float:
        if self.choices:
            return trial.suggest_categorical(name, list(self.choices))
        if self.integer:
            return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(name, float(self.low), float(self.high), log=self.log)

    def describe(self) -> str:
        if len(self.choices) == 1:
            return f"= {self.choices[0]:g}"
        if self.choices:
            return "{" + ", ".join(f"{c:g}" for c in self.choices) + "}"
        return f"{self.low:g}..{self.high:g}" + (" (log)" if self.log else "")

    def to_dict(self) -> dict[str, Any]:
        if self.choices:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, "integer": self.integer, "log": self.log}


#: the default search space (see docs/reference/tune.md for the reasons behind each range)
DEFAULT_SPACE: dict[str, Param] = {
    "lr": Param(3e-4, 3e-2, log=True),  # Adam learning rate
    "tau": Param(2.0, 20.0, log=True),  # membrane time constant (steps): beta 0.61..0.95
    "v_threshold": Param(0.5, 2.0, log=True),  # firing threshold
    "T": Param(2, 16, integer=True),  # time steps of the input encoding (static data)
    "spike_reg": Param(1e-3, 3.0, log=True),  # weight of the mean-spike-rate regulariser
    "hidden_layers": Param(1, 2, integer=True),  # number of hidden LIF layers
    "hidden_width": Param(32, 256, integer=True, log=True),  # neurons in each hidden layer
}
#: smallest allowed value of each parameter, and whether the bound itself is excluded
_BOUNDS: dict[str, tuple[float, bool]] = {
    "lr": (0.0, True),
    "tau": (0.0, True),
    "v_threshold": (0.0, True),
    "T": (1, False),
    "spike_reg": (0.0, False),
    "hidden_layers": (1, False),
    "hidden_width": (1, False),
}


def parse_param(text: str) -> tuple[str, Param]:
    """Parse one override ``NAME=LOW:HIGH[:log|linear]`` (range), ``NAME=A,B,C`` (choices) or
    ``NAME=VALUE`` (fixed). A range keeps the default's scale unless ``log``/``linear`` is given."""
    name, sep, spec = (s.strip() for s in text.partition("="))
    if not sep or not spec:
        raise SwiftSpikeError(f"a search parameter is NAME=SPEC (e.g. lr=1e-4:1e-2:log or T=8), got {text!r}")
    choose("search parameter", name, tuple(DEFAULT_SPACE))
    default = DEFAULT_SPACE[name]
    conv = int if default.integer else float
    try:
        if ":" in spec:
            parts = [s.strip() for s in spec.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError(spec)
            log = default.log if len(parts) == 2 else {"log": True, "linear": False}[parts[2]]
            param = Param(conv(parts[0]), conv(parts[1]), default.integer, log)
        else:
            values = tuple(dict.fromkeys(conv(v.strip()) for v in spec.split(",")))
            param = Param(min(values), max(values), default.integer, False, values)
    except (ValueError, KeyError):
        kind = "integers" if default.integer else "numbers"
        raise SwiftSpikeError(
            f"bad search parameter {text!r}: use {name}=LOW:HIGH[:log|linear], {name}=A,B,C or {name}=VALUE with {kind}"
        ) from None
    return name, param.check(name)


def search_space(overrides: Sequence[str] = ()) -> dict[str, Param]:
    """The default search space with ``overrides`` (strings for :func:`parse_param`) applied."""
    space = dict(DEFAULT_SPACE)
    seen: set[str] = set()
    for text in overrides:
        name, param = parse_param(text)
        if name in seen:
            raise SwiftSpikeError(f"search parameter {name} is given twice")
        seen.add(name)
        space[name] = param
    return space


# -- configuration ------------------------------------------------------------------------------
@dataclass
class TuneConfig:
    """One sweep. ``trials`` is the number of finished trials the study should hold: running the same
    configuration again after a kill continues up to it. ``storage`` is an Optuna storage URL
    (``sqlite:///f.db``, ``postgresql://...``, ``mysql://...``, ``redis://...``) or a journal file path;
    by default the journal file ``<study_dir>/study.journal``."""

    dataset: str = "digits"
    path: str | None = None
    limit: int | None = None
    data_kwargs: dict[str, Any] = field(default_factory=dict)
    val_fraction: float = 0.2
    trials: int = 20
    objectives: Sequence[str] = ("accuracy", "spikes")
    space: dict[str, Param] = field(default_factory=search_space)
    epochs: int = 3
    batch_size: int = 64
    encoder: str = "rate"
    sampler: str = "tpe"
    seed: int = 0
    study_name: str | None = None  # default "<dataset>-<objective>-<objective>"
    study_dir: str | None = None  # default runs/tune/<study name>
    storage: str | None = None
    plot_dir: str | None = None  # where the PNG goes (default: the study directory)
    progress: bool = True
    # where and how trials run (not part of the study's identity: workers may differ)
    device: str = "auto"
    precision: str = "float32"
    compile: bool = False
    threads: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.objectives, str):
            self.objectives = [o.strip() for o in self.objectives.split(",") if o.strip()]
        self.objectives = list(self.objectives)

    @property
    def name(self) -> str:
        return self.study_name or f"{self.dataset}-{'-'.join(self.objectives)}"

    @property
    def directory(self) -> Path:
        return Path(self.study_dir) if self.study_dir else Path("runs") / "tune" / self.name

    def validate(self) -> TuneConfig:
        if not self.objectives:
            raise SwiftSpikeError(f"give at least one objective: {', '.join(OBJECTIVES)}")
        for o in self.objectives:
            choose("objective", o, tuple(OBJECTIVES))
        if len(set(self.objectives)) != len(self.objectives):
            raise SwiftSpikeError(f"objectives must be different, got {','.join(self.objectives)}")
        check_positive_int(self.trials, "trials")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        if not 0 < self.val_fraction < 1:
            raise SwiftSpikeError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        choose("sampler", self.sampler, SAMPLERS)
        check_precision(self.precision, resolve_device(self.device))
        resolve_threads(self.threads)
        make_encoder(self.encoder, 1)
        for name, param in self.space.items():
            choose("search parameter", name, tuple(DEFAULT_SPACE))
            param.check(name)
        missing = sorted(set(DEFAULT_SPACE) - set(self.space))
        if missing:
            raise SwiftSpikeError(f"the search space lacks {', '.join(missing)} (fix a value instead of removing it)")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.name):
            raise SwiftSpikeError(f"study name {self.name!r} may use letters, digits, '.', '_' and '-' only")
        return self

    def settings(self, space: Mapping[str, Param]) -> dict[str, Any]:
        """What a study remembers and a rerun (or another worker) must repeat."""
        return json.loads(
            json.dumps(
                {
                    "dataset": self.dataset,
                    "path": self.path,
                    "limit": self.limit,
                    "data_kwargs": self.data_kwargs,
                    "val_fraction": self.val_fraction,
                    "objectives": self.objectives,
                    "epochs": self.epochs,
                    "batch_size": self.batch_size,
                    "encoder": self.encoder,
                    "seed": self.seed,
                    "space": {k: p.to_dict() for k, p in space.items()},
                }
            )
        )


# -- results ------------------------------------------------------------------------------------
@dataclass
class TrialResult:
    number: int
    state: str  # complete | failed | running | ...
    values: dict[str, float] | None
    params: dict[str, Any]
    metrics: dict[str, Any]
    seed: int | None
    seconds: float | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state,
            "values": self.values,
            "params": self.params,
            "metrics": self.metrics,
            "seed": self.seed,
            "seconds": self.seconds,
            "error": self.error,
        }


@dataclass
class TuneResult:
    """All trials of the study, its Pareto front and the paths of the saved JSON and PNG."""

    study_name: str
    storage: str
    dataset: str
    objectives: list[str]
    space: dict[str, Param]
    trials: list[TrialResult]
    front: list[int]  # trial numbers on the Pareto front
    val_fraction: float = 0.2
    json_path: str | None = None
    png_path: str | None = None

    @property
    def directions(self) -> list[str]:
        return [OBJECTIVES[o][0] for o in self.objectives]

    @property
    def complete(self) -> list[TrialResult]:
        return [t for t in self.trials if t.state == "complete"]

    @property
    def failed(self) -> list[TrialResult]:
        return [t for t in self.trials if t.state == "failed" and t.error is not None]

    @property
    def n_trials(self) -> int:
        """Finished trials: complete plus failed with a swiftspike error (interrupted ones are not counted)."""
        return len(self.complete) + len(self.failed)

    @property
    def front_trials(self) -> list[TrialResult]:
        by_number = {t.number: t for t in self.trials}
        key = self.objectives[0]
        sign = -1.0 if self.directions[0] == "maximize" else 1.0
        return sorted((by_number[n] for n in self.front), key=lambda t: sign * (t.values or {})[key])

    def best(self) -> dict[str, TrialResult | None]:
        """The best complete trial on each objective alone (ties: the earliest trial)."""
        out: dict[str, TrialResult | None] = {}
        for o, d in zip(self.objectives, self.directions):
            sign = -1.0 if d == "maximize" else 1.0
            done = [t for t in self.complete if t.values]
            out[o] = min(done, key=lambda t: (sign * t.values[o], t.number)) if done else None  # type: ignore[index]
        return out

    def to_dict(self, all_trials: bool = False) -> dict[str, Any]:
        res: dict[str, Any] = {
            "study_name": self.study_name,
            "storage": self.storage,
            "dataset": self.dataset,
            "objectives": self.objectives,
            "directions": self.directions,
            "val_fraction": self.val_fraction,
            "space": {k: p.to_dict() for k, p in self.space.items()},
            "n_trials": self.n_trials,
            "n_complete": len(self.complete),
            "n_failed": len(self.failed),
            "front": [t.to_dict() for t in self.front_trials],
            "best": {o: (t.to_dict() if t else None) for o, t in self.best().items()},
            "json": self.json_path,
            "png": self.png_path,
        }
        if all_trials:
            res["trials"] = [t.to_dict() for t in self.trials]
        return _finite(res)

    def table(self) -> str:
        """The Pareto front as a text table, one row per trial."""
        names = list(self.space)
        head = ["trial", *self.objectives, *names, "seconds"]
        rows = [
            [
                str(t.number),
                *(_fmt(o, (t.values or {}).get(o)) for o in self.objectives),
                *(
                    f"{t.params.get(n, float('nan')):.3g}"
                    if isinstance(t.params.get(n), float)
                    else str(t.params.get(n))
                    for n in names
                ),
                f"{t.seconds:.1f}" if t.seconds is not None else "-",
            ]
            for t in self.front_trials
        ]
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]

        def line(cells: Sequence[str]) -> str:
            return " | ".join(c.rjust(w) for c, w in zip(cells, widths))

        objs = ", ".join(
            f"{o} ({'max' if d == 'maximize' else 'min'})" for o, d in zip(self.objectives, self.directions)
        )
        title = (
            f"Pareto front of study {self.study_name!r}: {len(self.front)} of {self.n_trials} finished trials "
            f"({len(self.failed)} failed); {objs} on {100 * self.val_fraction:g} % of the {self.dataset} "
            f"training data held out"
        )
        out = [title, line(head), "-+-".join("-" * w for w in widths), *(line(r) for r in rows)]
        best = [f"{o} {_fmt(o, t.values[o])} (trial {t.number})" for o, t in self.best().items() if t and t.values]
        if best:
            out.append("best alone: " + "; ".join(best))
        out.append(f"storage: {self.storage}")
        for label, p in (("front JSON", self.json_path), ("plot", self.png_path)):
            if p:
                out.append(f"{label}: {p}")
        return "\n".join(out)

    def plots(self, directory: str | Path) -> list[Path]:
        """``pareto.png``: every complete trial (grey) with the front highlighted; one panel per pair
        of objectives (a single objective is plotted against the trial number)."""
        from ..plots import figure, save_figure, scatter

        done = [t for t in self.complete if t.values]
        if not done:
            return []
        front = set(self.front)
        k = len(self.objectives)
        pairs = [(0, 1)] if k == 2 else list(combinations(range(k), 2)) if k > 2 else [(-1, 0)]
        ncols = min(3, len(pairs))
        nrows = math.ceil(len(pairs) / ncols)
        fig, axes = figure(nrows, ncols, figsize=(5 * ncols, 4 * nrows))
        for ax, (i, j) in zip(axes.flat, pairs):

            def coord(t: TrialResult, idx: int) -> float:
                return float(t.number) if idx < 0 else float(t.values[self.objectives[idx]])  # type: ignore[index]

            # sort the front along x from best to worst, so that a step plot draws the attained boundary
            sx = 1.0 if i < 0 or self.directions[i] == "minimize" else -1.0
            rest = [t for t in done if t.number not in front]
            best = sorted((t for t in done if t.number in front), key=lambda t: sx * coord(t, i))
            scatter(ax, [coord(t, i) for t in rest], [coord(t, j) for t in rest], size=18, color="0.65", label="trials")
            scatter(
                ax,
                [coord(t, i) for t in best],
                [coord(t, j) for t in best],
                size=40,
                color="C3",
                label="Pareto front",
                highlight=True,
                labels=[str(t.number) for t in best],
            )
            if k == 2:
                ax.plot(
                    [coord(t, i) for t in best],
                    [coord(t, j) for t in best],
                    c="C3",
                    lw=1,
                    zorder=2,
                    drawstyle="steps-post",
                )
            ax.set_xlabel("trial" if i < 0 else OBJECTIVES[self.objectives[i]][2])
            ax.set_ylabel(OBJECTIVES[self.objectives[j]][2])
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        for ax in list(axes.flat)[len(pairs) :]:
            ax.set_visible(False)
        fig.suptitle(
            f"{self.study_name}: {len(done)} complete trials\nPareto front of {', '.join(self.objectives)} in red",
            fontsize=10,
        )
        return [save_figure(fig, Path(directory) / "pareto.png")]


def _fmt(objective: str, v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    if objective == "accuracy":
        return f"{100 * v:.2f}%"
    if objective == "energy":
        return f"{v:.3e}"
    return f"{v:.2f}" if objective == "latency" else f"{v:.1f}"


def _finite(obj: Any) -> Any:
    """JSON-safe copy: non-finite floats become None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


# -- Optuna plumbing ----------------------------------------------------------------------------
def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise SwiftSpikeError(f"tune needs Optuna, which is not installed: {INSTALL_HINT}") from None
    return optuna


def _mask(url: str) -> str:
    """The storage URL without its password."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def _open_storage(optuna: Any, cfg: TuneConfig) -> tuple[Any, str]:
    """(storage, description). Journal file by default; RDB URLs get heartbeats so that the trials of a
    killed worker are marked failed by the next worker."""
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    target = cfg.storage or str(cfg.directory / "study.journal")
    try:
        if "://" not in target:
            _check_writable_dir(Path(target).parent, "storage directory")
            return JournalStorage(JournalFileBackend(target)), f"journal file {target}"
        if target.startswith(("redis://", "rediss://")):
            from optuna.storages.journal import JournalRedisBackend

            return JournalStorage(JournalRedisBackend(target)), f"journal on {_mask(target)}"
        with warnings.catch_warnings():  # heartbeats are marked experimental in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(target, heartbeat_interval=60, grace_period=180), _mask(target)
    except SwiftSpikeError:
        raise
    except Exception as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SwiftSpikeError(f"cannot open the study storage {_mask(target)}: {msg}") from None


def _check_writable_dir(path: Path, what: str) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".swiftspike-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise SwiftSpikeError(f"cannot write to the {what} {path}: {e.strerror or e}") from None
    return path


def _sampler(optuna: Any, name: str, seed: int) -> Any:
    if name == "tpe":  # constant liar: several workers do not propose the same point at once
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def _finished(t: Any, optuna: Any) -> bool:
    """Complete, or failed with a swiftspike error (a result about its hyper-parameters). Trials
    interrupted or killed are not finished: a rerun runs another trial in their place."""
    states = optuna.trial.TrialState
    return t.state == states.COMPLETE or (t.state == states.FAIL and "error" in t.user_attrs)


def _draw_index(study: Any, number: int) -> int:
    """Trial ``number``'s index among the trials whose parameters were drawn by the sampler (queued
    retries of interrupted trials are skipped): its sampler and training seed are ``seed + index``, so an
    interrupted sweep continued later tries the same (parameters, seed) pairs as an uninterrupted one."""
    retries = sum(1 for t in study.get_trials(deepcopy=False) if t.number < number and "retry_of" in t.user_attrs)
    return number - retries


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _fail_orphans(optuna: Any, study: Any, storage: Any) -> int:
    """Mark failed the trials left running by a process of this host that no longer exists (a killed
    sweep), so that samplers stop treating them as pending."""
    host = socket.gethostname()
    n = 0
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        worker_host, _, pid = str(t.user_attrs.get("worker", "")).rpartition(":")
        if worker_host != host or not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        study_id = storage.get_study_id_from_name(study.study_name)
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        storage.set_trial_state_values(trial_id, optuna.trial.TrialState.FAIL)
        n += 1
    return n


def _retry_interrupted(optuna: Any, study: Any) -> int:
    """Queue again, with their parameters and training seed, the trials that failed without a swiftspike
    error (interrupted, killed, or crashed) and were not queued again yet; returns how many."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    n = 0
    for t in trials:
        if (
            t.state == optuna.trial.TrialState.FAIL
            and "error" not in t.user_attrs
            and t.number not in retried
            and t.params
        ):
            study.enqueue_trial(dict(t.params), user_attrs={"retry_of": t.number, "seed": t.user_attrs.get("seed")})
            n += 1
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


# -- the sweep ----------------------------------------------------------------------------------
def validation_split(data: Dataset, fraction: float, seed: int) -> Dataset:
    """Hold out ``fraction`` of the training data (a seeded random subset) as the ``x_test``/``y_test``
    of the returned dataset; the original test set is dropped."""
    n = len(data.x_train)
    n_val = round(n * fraction)
    if n_val < 1 or n - n_val < 1:
        raise SwiftSpikeError(
            f"{n} training samples cannot be split into training and validation with val_fraction={fraction}"
        )
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val, tr = perm[:n_val], perm[n_val:]
    return Dataset(
        data.name,
        data.x_train[tr],
        data.y_train[tr],
        data.x_train[val],
        data.y_train[val],
        data.n_classes,
        data.temporal,
    )


def train_trial(
    params: Mapping[str, Any], data: Dataset, *, epochs: int, batch_size: int, encoder: str, seed: int, **runtime: Any
) -> Any:
    """Train one configuration on ``data.x_train`` and return the :class:`~swiftspike.metrics.Report` on
    ``data.x_test`` (the validation split). ``runtime``: ``device``, ``precision``, ``compile``, ``threads``
    of the :class:`~swiftspike.training.TrainConfig`."""
    seed_everything(seed)
    hidden = [int(params["hidden_width"])] * int(params["hidden_layers"])
    spec = default_spec(
        data.input_shape,
        data.n_classes,
        hidden=hidden,
        neuron="lif",
        neuron_kwargs={"tau": float(params["tau"]), "v_threshold": float(params["v_threshold"])},
    )
    model = build_model(spec)
    T = data.x_train.shape[1] if data.temporal else int(params["T"])
    enc = make_encoder("sequence" if data.temporal else encoder, T)
    cfg = TrainConfig(
        epochs=epochs,
        lr=float(params["lr"]),
        batch_size=batch_size,
        spike_reg=float(params["spike_reg"]),
        seed=seed,
        progress=False,
        **runtime,
    )
    trainer = Trainer(model, enc, cfg)
    trainer.fit(data)
    return trainer.evaluate(data.x_test, data.y_test)


def _objective_values(report: Any, objectives: Sequence[str]) -> list[float]:
    out = []
    for o in objectives:
        v = float(getattr(report, OBJECTIVES[o][1]))
        if o == "latency" and not math.isfinite(v):  # no sample decided correctly
            v = float(report.time_steps + 1)
        out.append(v)
    return out


def _trial_result(t: Any, optuna: Any, objectives: Sequence[str]) -> TrialResult:
    states = optuna.trial.TrialState
    state = {
        states.COMPLETE: "complete",
        states.FAIL: "failed",
        states.RUNNING: "running",
        states.PRUNED: "pruned",
        states.WAITING: "waiting",
    }.get(t.state, str(t.state))
    values = dict(zip(objectives, t.values)) if t.state == states.COMPLETE and t.values else None
    return TrialResult(
        t.number,
        state,
        values,
        dict(t.params),
        dict(t.user_attrs.get("metrics", {})),
        t.user_attrs.get("seed"),
        t.user_attrs.get("seconds"),
        t.user_attrs.get("error"),
    )


def _progress_line(t: TrialResult, done: int, total: int, objectives: Sequence[str]) -> str:
    params = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in t.params.items())
    head = f"[{done}/{total}] trial {t.number}"
    if t.state == "complete" and t.values:
        vals = "  ".join(f"{o} {_fmt(o, t.values[o])}" for o in objectives)
        return f"{head}: {vals}  ({t.seconds:.1f} s)  {params}"
    return f"{head} {t.state}: {t.error or 'interrupted'}  {params}"


def run_tune(cfg: TuneConfig, log: Callable[[str], None] | None = print) -> TuneResult:
    """Run (or continue) the sweep until the study holds ``cfg.trials`` finished trials; save the front
    as ``pareto.json`` in the study directory and ``pareto.png`` there (or in ``cfg.plot_dir``)."""
    cfg.validate()
    say = log if (cfg.progress and log is not None) else (lambda _s: None)
    optuna = _optuna()
    from ..plots import need_matplotlib

    need_matplotlib()  # before any training
    directory = _check_writable_dir(cfg.directory, "study directory")
    png_dir = _check_writable_dir(Path(cfg.plot_dir), "plot directory") if cfg.plot_dir else directory
    storage, where = _open_storage(optuna, cfg)
    data, space, split = _search_data(cfg)
    settings = cfg.settings(space)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own one line per trial instead
    try:
        study = _load_study(optuna, cfg, storage, where, settings)
        finished = _resume(optuna, study, storage, cfg, where, say)
        worker = _worker_id()
        objective = _objective(optuna, cfg, space, split, worker)
        _run_trials(optuna, study, cfg, objective, finished, worker, say)
        trials = study.get_trials(deepcopy=False)
        front = [t.number for t in study.best_trials]
    finally:
        optuna.logging.set_verbosity(verbosity)

    result = TuneResult(
        cfg.name,
        where,
        data.name,
        list(cfg.objectives),
        space,
        [_trial_result(t, optuna, cfg.objectives) for t in trials],
        front,
        cfg.val_fraction,
    )
    pngs = result.plots(png_dir)
    result.png_path = str(pngs[0]) if pngs else None
    result.json_path = str(directory / "pareto.json")
    _write_json(Path(result.json_path), result.to_dict(all_trials=True))
    return result


def _search_data(cfg: TuneConfig) -> tuple[Dataset, dict[str, Param], Dataset]:
    """The dataset, the search space (without ``T`` for temporal data, whose frames fix it) and the
    train/validation split the trials use."""
    data = load_dataset(cfg.dataset, path=cfg.path, seed=cfg.seed, limit=cfg.limit, flatten=True, **cfg.data_kwargs)
    space = dict(cfg.space)
    if data.temporal:  # T is the sequence length of the data
        if space["T"] != DEFAULT_SPACE["T"]:
            raise SwiftSpikeError(
                f"{data.name} is temporal: T is its number of frames ({data.x_train.shape[1]}), not a search parameter"
            )
        space.pop("T")
    return data, space, validation_split(data, cfg.val_fraction, cfg.seed)


def _load_study(optuna: Any, cfg: TuneConfig, storage: Any, where: str, settings: dict[str, Any]) -> Any:
    """Create or load the study; one that exists must have the same objectives and settings (recorded in
    its ``swiftspike_tune`` attribute on creation)."""
    directions = [OBJECTIVES[o][0] for o in cfg.objectives]
    try:
        study = optuna.create_study(storage=storage, study_name=cfg.name, directions=directions, load_if_exists=True)
    except Exception as e:
        raise SwiftSpikeError(
            f"cannot create or load study {cfg.name!r} in {where}: "
            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    old = study.user_attrs.get("swiftspike_tune")
    if old is None:
        if [d.name.lower() for d in study.directions] != directions:
            raise SwiftSpikeError(
                f"study {cfg.name!r} in {where} optimises other objectives; choose another study name"
            )
        study.set_user_attr("swiftspike_tune", settings)
    elif old != settings:
        diff = [k for k in settings if settings[k] != old.get(k)]
        detail = "; ".join(f"{k}: {old.get(k)} -> {settings[k]}" for k in diff if k != "space")
        if "space" in diff:
            names = [n for n in settings["space"] if settings["space"][n] != old.get("space", {}).get(n)]
            detail = "; ".join(filter(None, [detail, f"search space of {', '.join(names)}"]))
        raise SwiftSpikeError(
            f"study {cfg.name!r} in {where} was run with other settings ({detail}); "
            f"repeat its command, or choose another study name"
        )
    return study


def _resume(optuna: Any, study: Any, storage: Any, cfg: TuneConfig, where: str, say: Callable[[str], None]) -> int:
    """Mark trials a killed sweep left running as failed, queue interrupted ones again (when trials are
    still wanted), say where the study stands, and return its number of finished trials."""
    orphans = _fail_orphans(optuna, study, storage)
    finished = sum(_finished(t, optuna) for t in study.get_trials(deepcopy=False))
    retried = _retry_interrupted(optuna, study) if finished < cfg.trials else 0
    say(
        f"study {cfg.name!r} ({where}): {finished} of {cfg.trials} trials finished"
        + (f", {orphans} left running by a killed sweep marked failed" if orphans else "")
        + (f", {retried} interrupted trial(s) queued again" if retried else "")
        + (f"; running {cfg.trials - finished} more" if finished < cfg.trials else "")
    )
    return finished


def _objective(
    optuna: Any, cfg: TuneConfig, space: dict[str, Param], split: Dataset, worker: str
) -> Callable[[Any], list[float]]:
    """The Optuna objective: seed the trial (a queued retry keeps its seed), reseed the sampler with it,
    suggest the parameters, train and measure (:func:`train_trial`), and record the metrics."""

    def objective(trial: Any) -> list[float]:
        trial.set_user_attr("worker", worker)
        seed = trial.user_attrs.get("seed")  # a queued retry keeps the seed of the trial it repeats
        if seed is None:
            seed = cfg.seed + _draw_index(trial.study, trial.number)
            trial.set_user_attr("seed", seed)
        trial.study.sampler = _sampler(optuna, cfg.sampler, seed)  # before the first suggestion
        params = {name: p.suggest(trial, name) for name, p in space.items()}
        t0 = time.perf_counter()
        try:
            report = train_trial(
                params,
                split,
                epochs=cfg.epochs,
                batch_size=cfg.batch_size,
                encoder=cfg.encoder,
                seed=seed,
                device=cfg.device,
                precision=cfg.precision,
                compile=cfg.compile,
                threads=cfg.threads,
            )
        except SwiftSpikeError as e:
            trial.set_user_attr("error", str(e))
            trial.set_user_attr("seconds", time.perf_counter() - t0)
            raise
        metrics = {
            "accuracy": report.accuracy,
            "spikes_per_sample": report.spikes_per_sample,
            "energy_j": report.energy_j,
            "latency_steps": report.latency_steps,
            "synops": report.synops,
            "time_steps": report.time_steps,
            "n_val": report.n_samples,
            "energy_table": report.energy_table,
        }
        trial.set_user_attr("metrics", _finite(metrics))
        trial.set_user_attr("seconds", time.perf_counter() - t0)
        return _objective_values(report, cfg.objectives)

    return objective


def _run_trials(
    optuna: Any,
    study: Any,
    cfg: TuneConfig,
    objective: Callable[[Any], list[float]],
    finished: int,
    worker: str,
    say: Callable[[str], None],
) -> None:
    """Run one trial at a time until finished trials plus those other workers are running reach
    ``cfg.trials``; one progress line per trial of this worker."""
    running = 0  # trials other workers are running now: they will count when they finish
    while finished + running < cfg.trials:
        study.sampler = _sampler(optuna, cfg.sampler, cfg.seed)  # replaced per trial in objective()
        study.optimize(objective, n_trials=1, catch=(SwiftSpikeError,))
        trials = study.get_trials(deepcopy=False)
        finished = sum(_finished(t, optuna) for t in trials)
        running = sum(t.state == optuna.trial.TrialState.RUNNING for t in trials)
        mine = [t for t in trials if t.user_attrs.get("worker") == worker]
        if mine:
            say(_progress_line(_trial_result(mine[-1], optuna, cfg.objectives), finished, cfg.trials, cfg.objectives))


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2))
    os.replace(tmp, path)
