"""The TopSpark study: timestep reduction for an unsupervised Diehl & Cook STDP network.

Four steps (see docs/explanation/topspark.md): (1) sensitivity of the accuracy to each knob on a validation
split, (2) an enhancement policy fitted per reduced T (or loaded from a file), (3) the final
table on the test split, baseline ``T0`` and every reduced T with and without the policy, and
(4) the trade-off selection under accuracy / latency / energy limits. Optionally the early-exit
curve of a surrogate-trained SNN on the same data.

``run_study(TopSparkConfig(...)) -> TopSparkResult`` (``.table()``, ``.to_dict()``, ``.plots(dir)``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..data.dataset import Dataset
from ..devices import resolve_device
from ..errors import SwiftSpikeError, check_positive, check_positive_int, choose
from ..timestep.diehl_cook import DCParams
from ..timestep.policy import EnhancementPolicy, fit_policy
from ..timestep.selector import select
from ..timestep.study import Split, run_setting, sensitivity
from .base import DataConfig, Log, StudyResult, quiet

#: early-exit margins reported in the curve (the last one, inf, never exits early)
EXIT_THRESHOLDS = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, math.inf)


@dataclass
class TopSparkConfig(DataConfig):
    """Every choice of one TopSpark study (data fields from :class:`~swiftspike.studies.base.DataConfig`;
    the first ``n_train`` training samples train, the next ``n_val`` validate)."""

    dataset: str = "fashion-mnist"
    neurons: int = 400
    rule: str = "pair"
    n_train: int = 1000
    n_val: int = 300
    n_test: int = 500
    T0: int = 350
    Ts: Sequence[int] = (100, 50, 35, 20)
    train_batch: int = 16
    theta_plus: float = 0.2
    input_rate: float = 128.0
    sens_Ts: Sequence[int] | None = None  # None: every reduced T
    sensitivity: bool = True
    max_knobs: int = 3
    energy_weight: float = 0.05
    save_policy: str | None = None
    load_policy: str | None = None
    min_accuracy: float | None = None
    max_latency: float | None = None
    max_energy: float | None = None
    energy_kind: str = "infer"
    early_exit: bool = False
    early_exit_only: bool = False
    ee_T: int = 25
    ee_epochs: int = 3
    progress: bool = False
    device: str = "auto"  # where the STDP networks and the early-exit SNN run (see swiftspike.devices)

    def validate(self) -> TopSparkConfig:
        for name in ("neurons", "n_train", "n_val", "n_test", "T0", "train_batch", "max_knobs", "ee_T", "ee_epochs"):
            check_positive_int(getattr(self, name), name)
        if not self.Ts:
            raise SwiftSpikeError("give at least one reduced timestep")
        for T in list(self.Ts) + list(self.sens_Ts or ()):
            check_positive_int(T, "T")
        if any(T >= self.T0 for T in self.Ts):
            raise SwiftSpikeError(f"reduced timesteps must be below T0 {self.T0}, got {sorted(self.Ts)}")
        self.params()
        if not (math.isfinite(self.energy_weight) and self.energy_weight >= 0):
            raise SwiftSpikeError(f"energy_weight must be a finite number >= 0, got {self.energy_weight}")
        for name in ("min_accuracy", "max_latency", "max_energy"):
            if getattr(self, name) is not None:
                check_positive(getattr(self, name), name)
        if self.min_accuracy is not None and self.min_accuracy > 1:
            raise SwiftSpikeError(f"min_accuracy is a fraction in (0, 1], got {self.min_accuracy}")
        choose("energy kind", self.energy_kind, ("infer", "train"))
        resolve_device(self.device)
        if self.load_policy is not None and not Path(self.load_policy).is_file():
            raise SwiftSpikeError(f"policy file {self.load_policy} does not exist")
        return self

    def params(self) -> DCParams:
        """The baseline network parameters (validated)."""
        return DCParams(theta_plus=self.theta_plus, input_rate=self.input_rate, rule=self.rule).validate()


@dataclass
class TopSparkResult(StudyResult):
    """The TopSpark study's result; its fields are the keys of the JSON the CLI prints (fields left
    ``None`` are absent: an early-exit-only run has ``dataset``, ``early_exit`` and ``seconds``)."""

    dataset: str
    neurons: int | None = None
    rule: str | None = None
    n_train: int | None = None
    n_val: int | None = None
    n_test: int | None = None
    T0: int | None = None
    rows: list[dict[str, Any]] | None = None  # T0 first, then each reduced T (baseline, then enhanced)
    selected: dict[str, Any] | None = None
    policy: dict[str, Any] | None = None
    sensitivity: dict[str, Any] | None = None
    meets_acceptance: list[tuple[int, bool]] | None = None
    early_exit: dict[str, Any] | None = None
    seconds: float = 0.0
    limits: dict[str, float | None] = field(default_factory=dict, metadata={"json": False})

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in super().to_dict().items() if v is not None}

    def table(self) -> str:
        lines = []
        if self.rows is not None and self.selected is not None:
            lines.append(_rows_table(self.rows))
            c, lim = self.selected, {k: v for k, v in self.limits.items() if v is not None}
            lines.append(
                f"selected: T={c['T']} enhanced={c['enhanced']} acc {c['accuracy']:.3f} "
                f"({'meets' if c['feasible'] else 'best compromise for'} {lim})"
            )
            lines.append(
                "settings >=3x cheaper (latency, train and inference energy) within 2 points: "
                f"{[tuple(m) for m in self.meets_acceptance or []]}"
            )
        if self.early_exit is not None:
            lines.append(f"early exit (surrogate-trained SNN, T={self.early_exit['T']}):")
            lines.extend(
                f"  margin>={c['threshold']:<5}: acc {c['accuracy']:.3f}, "
                f"mean steps {c['mean_steps']:.1f}/{self.early_exit['T']}"
                for c in self.early_exit["curve"]
            )
        return "\n".join(lines)

    def plots(self, directory: str | Path) -> list[Path]:
        """``topspark_<key>.png`` (accuracy, train and inference energy vs T, baseline and enhanced)
        and ``early_exit.png`` (accuracy vs mean steps) when the early-exit curve was measured."""
        from ..plots import curves_plot

        d = Path(directory)
        paths = []
        if self.rows:
            xs = sorted({r["T"] for r in self.rows})
            for key, ylabel in (
                ("accuracy", "accuracy"),
                ("train_energy_j", "train energy / sample (J)"),
                ("infer_energy_j", "inference energy / sample (J)"),
            ):
                ys = {}
                for enh in (False, True):  # the enhanced curve starts from the (never enhanced) T0 row
                    pts = {r["T"]: r[key] for r in self.rows if r["enhanced"] == enh or (enh and r["T"] == self.T0)}
                    if pts:
                        ys["enhanced" if enh else "baseline"] = [pts.get(t, float("nan")) for t in xs]
                paths.append(curves_plot(ys, d / f"topspark_{key}.png", x=xs, xlabel="timesteps T", ylabel=ylabel))
        if self.early_exit is not None:
            c = self.early_exit["curve"]
            paths.append(
                curves_plot(
                    {"accuracy": [r["accuracy"] for r in c]},
                    d / "early_exit.png",
                    x=[r["mean_steps"] for r in c],
                    xlabel="mean steps",
                    ylabel="accuracy",
                )
            )
        return paths


def _rows_table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'T':>5} {'enh':>4} {'acc':>6} {'lat ms':>7} {'train uJ':>9} {'infer uJ':>9} {'spk/smp':>8} "
        f"{'train ms':>9} {'infer ms':>9}"
    )
    lines = [head]
    lines.extend(
        f"{r['T']:>5} {'yes' if r['enhanced'] else 'no':>4} {r['accuracy']:>6.3f} {r['latency_ms']:>7.0f} "
        f"{1e6 * r['train_energy_j']:>9.3f} {1e6 * r['infer_energy_j']:>9.3f} "
        f"{r['infer_spikes_per_sample']:>8.1f} {r['train_wall_ms_per_sample']:>9.2f} "
        f"{r['infer_wall_ms_per_sample']:>9.2f}"
        for r in rows
    )
    return "\n".join(lines)


def early_exit_curve(cfg: TopSparkConfig, data: Dataset) -> dict[str, Any]:
    """Train a surrogate-gradient SNN (``cfg.ee_T`` steps, one hidden layer of 128) on the study's
    samples and measure accuracy against mean exit step for each margin in :data:`EXIT_THRESHOLDS`."""
    from ..data.encoders import make_encoder
    from ..engines.sync import run_sync
    from ..models import build_model, default_spec
    from ..neurons.modules import reset
    from ..timestep.early_exit import exit_curve
    from ..training.trainer import TrainConfig, Trainer

    spec = default_spec((data.x_train.shape[1],), data.n_classes, hidden=[128])
    model = build_model(spec)
    enc = make_encoder("rate", cfg.ee_T)
    sub = data.subset(n_train=cfg.n_train, n_test=cfg.n_test)
    tc = TrainConfig(
        epochs=cfg.ee_epochs, batch_size=64, lr=2e-3, seed=cfg.seed, progress=cfg.progress, device=cfg.device
    )
    trainer = Trainer(model, enc, tc, spec=spec)
    trainer.fit(sub)
    with torch.no_grad():
        torch.manual_seed(cfg.seed)
        reset(model)
        rec = run_sync(model.eval(), enc(sub.x_test).to(trainer.device), record=True)
        reset(model)
    y = sub.y_test.to(trainer.device)
    return {"T": cfg.ee_T, "curve": exit_curve(rec.output, y, EXIT_THRESHOLDS, spiking=rec.output_spiking)}


def _add_reductions(rows: list[dict[str, Any]]) -> None:
    """Each row's gains against the first (baseline T0) row."""
    base = rows[0]
    for r in rows:
        r["latency_reduction"] = base["latency_ms"] / r["latency_ms"]
        r["train_energy_reduction"] = base["train_energy_j"] / r["train_energy_j"]
        r["infer_energy_reduction"] = base["infer_energy_j"] / r["infer_energy_j"]
        r["train_wall_reduction"] = base["train_wall_ms_per_sample"] / r["train_wall_ms_per_sample"]
        r["accuracy_drop"] = base["accuracy"] - r["accuracy"]


def run_study(cfg: TopSparkConfig, data: Dataset | None = None, *, log: Log = quiet) -> TopSparkResult:
    """Run the study (``data`` overrides the config's dataset); ``log`` receives progress lines."""
    t_start = time.perf_counter()
    cfg.validate()
    params = cfg.params()
    Ts = sorted(set(cfg.Ts), reverse=True)
    policy = EnhancementPolicy.load(cfg.load_policy) if cfg.load_policy else None
    if data is None:
        data = cfg.load_data(flatten=True)
    x, y = data.x_train.reshape(len(data.x_train), -1), data.y_train
    if len(x) < cfg.n_train + cfg.n_val:
        raise SwiftSpikeError(
            f"{cfg.dataset} has {len(x)} training samples, fewer than n_train + n_val ({cfg.n_train} + {cfg.n_val})"
        )
    if cfg.early_exit_only:
        log(f"early exit (surrogate-trained SNN) on {cfg.dataset}")
        return TopSparkResult(
            dataset=cfg.dataset, early_exit=early_exit_curve(cfg, data), seconds=time.perf_counter() - t_start
        )
    xt, yt = data.x_test.reshape(len(data.x_test), -1)[: cfg.n_test], data.y_test[: cfg.n_test]
    val = Split(
        x[: cfg.n_train],
        y[: cfg.n_train],
        x[cfg.n_train : cfg.n_train + cfg.n_val],
        y[cfg.n_train : cfg.n_train + cfg.n_val],
        data.n_classes,
    )
    test = Split(x[: cfg.n_train], y[: cfg.n_train], xt, yt, data.n_classes)
    kw: dict[str, Any] = dict(n_neurons=cfg.neurons, batch=cfg.train_batch, seed=cfg.seed, device=cfg.device)
    log(
        f"topspark: {cfg.dataset}, N{cfg.neurons}, rule {cfg.rule}, {cfg.n_train} train / {cfg.n_val} val / "
        f"{len(xt)} test, T0={cfg.T0}, T={Ts}"
    )

    # 1) sensitivity on the validation split
    sens: dict[int, Any] = {}
    base_val: dict[int, Any] = {}
    if cfg.sensitivity and policy is None:
        for T in cfg.sens_Ts or Ts:
            base_val[T] = run_setting(val, T=T, params=params, **kw)
            sens[T] = sensitivity(val, T=T, params=params, base=base_val[T], **kw)
            log(f"sensitivity T={T}: base val acc {sens[T]['base_accuracy']:.3f}; ranking {sens[T]['ranking']}")
    # 2) enhancement policy
    if policy is None:
        order = {T: s["ranking"] for T, s in sens.items()}
        policy = fit_policy(
            val,
            cfg.neurons,
            cfg.T0,
            Ts,
            params,
            order=order,
            max_knobs=cfg.max_knobs,
            energy_weight=cfg.energy_weight,
            base_rows=base_val,
            log=log,
            batch=cfg.train_batch,
            seed=cfg.seed,
            device=cfg.device,
        )
    if cfg.save_policy:
        policy.save(cfg.save_policy)
    for T in Ts:
        if T in policy.table:
            log(f"policy T={T}: factors { ({k: round(v, 3) for k, v in policy.table[T]['factors'].items()}) }")
    # 3) final study on the test split
    rows = []
    for T in [cfg.T0] + Ts:
        r = run_setting(test, T=T, params=params, **kw)
        r["enhanced"] = False
        rows.append(r)
        if T in policy.table and policy.table[T]["factors"]:
            r2 = run_setting(test, T=T, params=policy.params_for(T, params), **kw)
            r2.update(enhanced=True, factors=policy.table[T]["factors"])
            rows.append(r2)
    _add_reductions(rows)
    # 4) selection; acceptance summary: settings within 2 points that are >= 3x cheaper
    limits: dict[str, Any] = dict(min_accuracy=cfg.min_accuracy, max_latency=cfg.max_latency, max_energy=cfg.max_energy)
    chosen = select(rows, energy=cfg.energy_kind, **limits)
    ok = [
        (r["T"], r["enhanced"])
        for r in rows
        if r["accuracy_drop"] <= 0.02
        and r["latency_reduction"] >= 3
        and r["train_energy_reduction"] >= 3
        and r["infer_energy_reduction"] >= 3
    ]
    ee = None
    if cfg.early_exit:
        log("early exit (surrogate-trained SNN)")
        ee = early_exit_curve(cfg, data)
    return TopSparkResult(
        dataset=cfg.dataset,
        neurons=cfg.neurons,
        rule=cfg.rule,
        n_train=cfg.n_train,
        n_val=cfg.n_val,
        n_test=len(xt),
        T0=cfg.T0,
        rows=rows,
        selected=chosen,
        policy=policy.to_dict(),
        sensitivity={str(k): v for k, v in sens.items()},
        meets_acceptance=ok,
        early_exit=ee,
        seconds=time.perf_counter() - t_start,
        limits=limits,
    )
