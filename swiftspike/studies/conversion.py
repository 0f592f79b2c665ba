"""The conversion study: ANN -> SNN with every calibration at several T, fine-tuning at T in {1, 2}."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch
from torch import nn

from ..conversion.ann import MODELS, ann_accuracy, build_ann, train_ann
from ..conversion.calibrate import METHODS
from ..conversion.convert import convert
from ..conversion.energy import measure
from ..conversion.finetune import finetune
from ..errors import SwiftSpikeError, check_positive_int, choose
from ..training.trainer import seed_everything


def run_study(data, *, model: str = "vgg-small", ann: Optional[nn.Module] = None, epochs: int = 4,
              batch_size: int = 64, lr: float = 1e-3, times: Sequence[int] = (1, 2, 4, 8, 16, 32),
              methods: Sequence[str] = METHODS, ft_times: Sequence[int] = (1, 2), ft_epochs: int = 1,
              ft_lr: float = 1e-4, ft_limit: Optional[int] = None, calib_samples: int = 512,
              percentile: float = 99.9, test_limit: Optional[int] = 2000, energy_table: str = "45nm-fp32",
              seed: int = 0, show_progress: bool = True, log=print,
              on_ann_trained: Optional[Callable[[nn.Module], Any]] = None) -> dict[str, Any]:
    """Train (unless ``ann`` is given) and convert; returns a JSON-ready dict (see docs/conversion.md).
    ``on_ann_trained(ann)`` runs as soon as a freshly trained ANN is ready (e.g. to save it before the
    long conversion sweep, so an interruption does not lose the training)."""
    choose("model", model, MODELS)
    for m in methods:
        choose("calibration method", m, METHODS)
    for t in list(times) + list(ft_times):
        check_positive_int(t, "T")
    check_positive_int(calib_samples, "calibration samples")
    if data.temporal:
        raise SwiftSpikeError(f"conversion needs a static dataset, {data.name!r} is temporal")
    seed_everything(seed)
    xte, yte = data.x_test[:test_limit], data.y_test[:test_limit]
    trained = ann is None
    if ann is None:
        ann = build_ann(model, data.input_shape, data.n_classes)
        train_ann(ann, data.x_train, data.y_train, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                  show_progress=show_progress)
        if on_ann_trained is not None:
            on_ann_trained(ann)
    ann.eval()
    ann_acc = ann_accuracy(ann, xte, yte)
    mus = [float(m.mu.detach()) for m in ann.modules() if hasattr(m, "mu") and isinstance(getattr(m, "mu"), torch.Tensor)]
    log(f"ANN ({model}): test accuracy {100 * ann_acc:.2f} %  clip ceilings mu = {[round(m, 2) for m in mus]}")
    g = torch.Generator().manual_seed(seed)
    calib = data.x_train[torch.randperm(len(data.x_train), generator=g)[:calib_samples]]
    results: dict[str, dict[str, Any]] = {}
    ann_energy = None
    for method in methods:
        results[method] = {}
        for T in times:
            snn = convert(ann, calib, T=T, method=method, percentile=percentile)
            m = measure(snn, xte, yte, T, table=energy_table)
            ann_energy = m["ann_energy_j"]
            results[method][str(T)] = _summary(m, snn)
            log(f"  {method:>18} T={T:<3} acc {100 * m['accuracy']:6.2f} %  spikes/neuron "
                f"{_mean(m['spike_rate_per_layer']):.3f}  E_ANN/E_SNN {m['energy_ratio_vs_ann']:.1f}")
    finetuned: dict[str, Any] = {}
    xft, yft = data.x_train[:ft_limit], data.y_train[:ft_limit]
    for T in ft_times:
        snn = convert(ann, calib, T=T, method="distribution-aware", percentile=percentile)
        before = measure(snn, xte, yte, T, table=energy_table)["accuracy"]
        losses = finetune(snn, xft, yft, T=T, epochs=ft_epochs, lr=ft_lr, seed=seed, show_progress=show_progress)
        m = measure(snn, xte, yte, T, table=energy_table)
        finetuned[str(T)] = {**_summary(m, snn), "accuracy_before": before, "losses": losses,
                             "gap_to_ann": ann_acc - m["accuracy"]}
        log(f"  fine-tuned (distribution-aware) T={T}: {100 * before:.2f} % -> {100 * m['accuracy']:.2f} %  "
            f"(ANN {100 * ann_acc:.2f} %)  E_ANN/E_SNN {m['energy_ratio_vs_ann']:.1f}")
    return {
        "dataset": data.name, "model": model, "ann_trained": trained, "ann_accuracy": ann_acc, "mu": mus,
        "n_test": len(xte), "n_train": len(data.x_train), "times": list(times), "ft_times": list(ft_times),
        "energy_table": energy_table, "ann_energy_j": ann_energy, "methods": results, "finetuned": finetuned,
        "settings": {"epochs": epochs, "ft_epochs": ft_epochs, "ft_lr": ft_lr, "calib_samples": calib_samples,
                     "percentile": percentile, "seed": seed},
    }


def _mean(d: dict) -> float:
    return sum(d.values()) / max(1, len(d))


def _summary(m: dict[str, Any], snn) -> dict[str, Any]:
    return {
        "accuracy": m["accuracy"], "accuracy_per_step": m["accuracy_per_step"],
        "spike_rate_per_layer": m["spike_rate_per_layer"], "spikes_per_sample": m["spikes_per_sample"],
        "energy_j": m["energy_j"], "energy_ratio_vs_ann": m["energy_ratio_vs_ann"],
        "thresholds": [a.calibration.theta for a in snn.spike_layers],
        "amplitudes": [a.calibration.amplitude for a in snn.spike_layers],
    }


def table_text(res: dict[str, Any]) -> str:
    """Accuracy-vs-T table (one row per method) plus the fine-tuned rows."""
    ts = res["times"]
    head = f"{'method':>20} | " + " | ".join(f"T={t:<4}" for t in ts)
    lines = [f"ANN accuracy {100 * res['ann_accuracy']:.2f} % ({res['dataset']}, {res['model']}, "
             f"{res['n_test']} test samples; energy table {res['energy_table']})", head, "-" * len(head)]
    for method, r in res["methods"].items():
        lines.append(f"{method:>20} | " + " | ".join(f"{100 * r[str(t)]['accuracy']:6.2f}" for t in ts))
    lines.append("E_ANN/E_SNN:")
    for method, r in res["methods"].items():
        lines.append(f"{method:>20} | " + " | ".join(f"{r[str(t)]['energy_ratio_vs_ann']:6.1f}" for t in ts))
    for T, r in res["finetuned"].items():
        lines.append(f"fine-tuned T={T}: {100 * r['accuracy_before']:.2f} % -> {100 * r['accuracy']:.2f} % "
                     f"(gap to ANN {100 * r['gap_to_ann']:.2f} points), E_ANN/E_SNN {r['energy_ratio_vs_ann']:.1f}, "
                     f"spikes/neuron per layer {[round(v, 3) for v in r['spike_rate_per_layer'].values()]}")
    return "\n".join(lines)
