"""The conversion study: ANN -> SNN with every calibration at several T, fine-tuning at T in {1, 2}.

``run_study(ConversionConfig(...)) -> ConversionStudyResult`` (``.table()``, ``.to_dict()``, ``.plots(dir)``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..conversion.ann import MODELS, ann_accuracy, build_ann, load_ann, save_ann, train_ann
from ..conversion.calibrate import METHODS
from ..conversion.convert import convert
from ..conversion.energy import measure
from ..conversion.finetune import finetune
from ..data.dataset import Dataset
from ..devices import resolve_device
from ..errors import SwiftSpikeError, check_positive, check_positive_int, choose
from ..metrics.energy import get_energy_table
from ..training.trainer import seed_everything
from .base import DataConfig, Log, StudyResult, quiet


@dataclass
class ConversionConfig(DataConfig):
    """Every choice of one conversion study (data fields from :class:`~swiftspike.studies.base.DataConfig`).

    ``ann_checkpoint`` loads an ANN instead of training one; ``save_ann`` saves the trained ANN as soon
    as it is trained (before the long conversion sweep)."""

    model: str = "vgg-small"
    ann_checkpoint: str | None = None
    save_ann: str | None = None
    epochs: int = 4
    batch_size: int = 64
    lr: float = 1e-3
    times: Sequence[int] = (1, 2, 4, 8, 16, 32)
    methods: Sequence[str] = METHODS
    percentile: float = 99.9
    calib_samples: int = 512
    ft_times: Sequence[int] = (1, 2)
    ft_epochs: int = 1
    ft_lr: float = 1e-4
    ft_limit: int | None = None
    test_limit: int | None = 2000
    energy_table: str = "45nm-fp32"
    progress: bool = False
    device: str = "auto"  # where the ANN trains and the SNNs calibrate, fine-tune and run (swiftspike.devices)

    def validate(self) -> ConversionConfig:
        choose("model", self.model, MODELS)
        if not self.methods:
            raise SwiftSpikeError("give at least one calibration method")
        for m in self.methods:
            choose("calibration method", m, METHODS)
        if not self.times:
            raise SwiftSpikeError("give at least one time step to convert at")
        for t in list(self.times) + list(self.ft_times):
            check_positive_int(t, "T")
        for name in ("epochs", "batch_size", "calib_samples", "ft_epochs"):
            check_positive_int(getattr(self, name), name)
        for name in ("ft_limit", "test_limit"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), name)
        check_positive(self.lr, "lr")
        check_positive(self.ft_lr, "ft_lr")
        if not 0 < self.percentile <= 100:
            raise SwiftSpikeError(f"percentile must be in (0, 100], got {self.percentile}")
        get_energy_table(self.energy_table)
        resolve_device(self.device)
        if self.ann_checkpoint is not None and not Path(self.ann_checkpoint).is_file():
            raise SwiftSpikeError(f"ANN checkpoint not found: {self.ann_checkpoint}")
        return self


@dataclass
class ConversionStudyResult(StudyResult):
    """The conversion study's result; its fields are the keys of the JSON the CLI prints."""

    dataset: str
    model: str
    ann_trained: bool
    ann_accuracy: float
    mu: list[float]
    n_test: int
    n_train: int
    times: list[int]
    ft_times: list[int]
    energy_table: str
    ann_energy_j: float | None
    methods: dict[str, dict[str, Any]]  # method -> str(T) -> summary
    finetuned: dict[str, Any]  # str(T) -> summary + accuracy_before, losses, gap_to_ann
    settings: dict[str, Any]
    saved_ann: str | None = None  # where the trained ANN was saved (key absent when not saved)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if d["saved_ann"] is None:
            del d["saved_ann"]
        return d

    def table(self) -> str:
        return table_text(self.to_dict())

    def plots(self, directory: str | Path) -> list[Path]:
        """``convert_accuracy_vs_T.png`` (one line per method, plus the ANN) and
        ``convert_energy_ratio_vs_T.png`` (E_ANN / E_SNN per method)."""
        from ..plots import curves_plot

        d = Path(directory)
        curves = {m: [r[str(t)]["accuracy"] for t in self.times] for m, r in self.methods.items()}
        curves["ANN"] = [self.ann_accuracy] * len(self.times)
        ratios = {m: [r[str(t)]["energy_ratio_vs_ann"] for t in self.times] for m, r in self.methods.items()}
        return [
            curves_plot(
                curves,
                d / "convert_accuracy_vs_T.png",
                x=self.times,
                logx=True,
                title=f"{self.dataset} {self.model}: accuracy vs T",
            ),
            curves_plot(
                ratios,
                d / "convert_energy_ratio_vs_T.png",
                x=self.times,
                logx=True,
                ylabel="E_ANN / E_SNN",
                title="energy ratio vs T",
            ),
        ]


def run_study(
    cfg: ConversionConfig,
    data: Dataset | None = None,
    *,
    ann: nn.Module | None = None,
    log: Log = quiet,
    on_ann_trained: Callable[[nn.Module], Any] | None = None,
) -> ConversionStudyResult:
    """Train (or load ``cfg.ann_checkpoint``, or use ``ann``) and convert (see docs/how-to/conversion-study.md).

    ``data`` overrides the config's dataset. ``on_ann_trained(ann)`` runs as soon as a freshly trained
    ANN is ready (after ``cfg.save_ann`` is written), so an interruption during the long conversion
    sweep does not lose the training."""
    cfg.validate()
    if data is None:
        data = cfg.load_data(flatten=False)
    if data.temporal:
        raise SwiftSpikeError(f"conversion needs a static dataset, {data.name!r} is temporal")
    seed_everything(cfg.seed)
    dev = resolve_device(cfg.device)
    xte, yte = data.x_test[: cfg.test_limit].to(dev), data.y_test[: cfg.test_limit].to(dev)
    if ann is None and cfg.ann_checkpoint:
        ann = load_ann(cfg.ann_checkpoint, cfg.model, data.input_shape, data.n_classes)
    trained = ann is None
    saved = None
    if ann is None:
        ann = build_ann(cfg.model, data.input_shape, data.n_classes)
        train_ann(
            ann,
            data.x_train,
            data.y_train,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            seed=cfg.seed,
            show_progress=cfg.progress,
            device=str(dev),
        )
        if cfg.save_ann:
            saved = str(save_ann(cfg.save_ann, ann, cfg.model, data.input_shape, data.n_classes))
            log(f"ANN saved to {saved}")
        if on_ann_trained is not None:
            on_ann_trained(ann)
    ann.to(dev).eval()
    ann_acc = ann_accuracy(ann, xte, yte)
    mus = [float(mu.detach()) for mu in (getattr(m, "mu", None) for m in ann.modules()) if isinstance(mu, torch.Tensor)]
    log(f"ANN ({cfg.model}): test accuracy {100 * ann_acc:.2f} %  clip ceilings mu = {[round(m, 2) for m in mus]}")
    g = torch.Generator().manual_seed(cfg.seed)
    calib = data.x_train[torch.randperm(len(data.x_train), generator=g)[: cfg.calib_samples]].to(dev)
    results: dict[str, dict[str, Any]] = {}
    ann_energy = None
    for method in cfg.methods:
        results[method] = {}
        for T in cfg.times:
            snn = convert(ann, calib, T=T, method=method, percentile=cfg.percentile)
            m = measure(snn, xte, yte, T, table=cfg.energy_table)
            ann_energy = m["ann_energy_j"]
            results[method][str(T)] = _summary(m, snn)
            log(
                f"  {method:>18} T={T:<3} acc {100 * m['accuracy']:6.2f} %  spikes/neuron "
                f"{_mean(m['spike_rate_per_layer']):.3f}  E_ANN/E_SNN {m['energy_ratio_vs_ann']:.1f}"
            )
    finetuned: dict[str, Any] = {}
    xft, yft = data.x_train[: cfg.ft_limit], data.y_train[: cfg.ft_limit]
    for T in cfg.ft_times:
        snn = convert(ann, calib, T=T, method="distribution-aware", percentile=cfg.percentile)
        before = measure(snn, xte, yte, T, table=cfg.energy_table)["accuracy"]
        losses = finetune(
            snn, xft, yft, T=T, epochs=cfg.ft_epochs, lr=cfg.ft_lr, seed=cfg.seed, show_progress=cfg.progress
        )
        m = measure(snn, xte, yte, T, table=cfg.energy_table)
        finetuned[str(T)] = {
            **_summary(m, snn),
            "accuracy_before": before,
            "losses": losses,
            "gap_to_ann": ann_acc - m["accuracy"],
        }
        log(
            f"  fine-tuned (distribution-aware) T={T}: {100 * before:.2f} % -> {100 * m['accuracy']:.2f} %  "
            f"(ANN {100 * ann_acc:.2f} %)  E_ANN/E_SNN {m['energy_ratio_vs_ann']:.1f}"
        )
    return ConversionStudyResult(
        dataset=data.name,
        model=cfg.model,
        ann_trained=trained,
        ann_accuracy=ann_acc,
        mu=mus,
        n_test=len(xte),
        n_train=len(data.x_train),
        times=list(cfg.times),
        ft_times=list(cfg.ft_times),
        energy_table=cfg.energy_table,
        ann_energy_j=ann_energy,
        methods=results,
        finetuned=finetuned,
        settings={
            "epochs": cfg.epochs,
            "ft_epochs": cfg.ft_epochs,
            "ft_lr": cfg.ft_lr,
            "calib_samples": cfg.calib_samples,
            "percentile": cfg.percentile,
            "seed": cfg.seed,
        },
        saved_ann=saved,
    )


def _mean(d: dict) -> float:
    return sum(d.values()) / max(1, len(d))


def _summary(m: dict[str, Any], snn) -> dict[str, Any]:
    return {
        "accuracy": m["accuracy"],
        "accuracy_per_step": m["accuracy_per_step"],
        "spike_rate_per_layer": m["spike_rate_per_layer"],
        "spikes_per_sample": m["spikes_per_sample"],
        "energy_j": m["energy_j"],
        "energy_ratio_vs_ann": m["energy_ratio_vs_ann"],
        "thresholds": [a.calibration.theta for a in snn.spike_layers],
        "amplitudes": [a.calibration.amplitude for a in snn.spike_layers],
    }


def table_text(res: dict[str, Any]) -> str:
    """Accuracy-vs-T table (one row per method) plus the fine-tuned rows."""
    ts = res["times"]
    head = f"{'method':>20} | " + " | ".join(f"T={t:<4}" for t in ts)
    lines = [
        f"ANN accuracy {100 * res['ann_accuracy']:.2f} % ({res['dataset']}, {res['model']}, "
        f"{res['n_test']} test samples; energy table {res['energy_table']})",
        head,
        "-" * len(head),
    ]
    for method, r in res["methods"].items():
        lines.append(f"{method:>20} | " + " | ".join(f"{100 * r[str(t)]['accuracy']:6.2f}" for t in ts))
    lines.append("E_ANN/E_SNN:")
    for method, r in res["methods"].items():
        lines.append(f"{method:>20} | " + " | ".join(f"{r[str(t)]['energy_ratio_vs_ann']:6.1f}" for t in ts))
    for T, r in res["finetuned"].items():
        lines.append(
            f"fine-tuned T={T}: {100 * r['accuracy_before']:.2f} % -> {100 * r['accuracy']:.2f} % "
            f"(gap to ANN {100 * r['gap_to_ann']:.2f} points), E_ANN/E_SNN {r['energy_ratio_vs_ann']:.1f}, "
            f"spikes/neuron per layer {[round(v, 3) for v in r['spike_rate_per_layer'].values()]}"
        )
    return "\n".join(lines)
