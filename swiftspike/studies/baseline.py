"""The layer-synchronous baseline as a study: train one model, evaluate it, render the report.

``swiftspike demo``, ``train``, ``eval`` and ``report`` parse their options into these functions; the
training itself is the one :class:`~swiftspike.training.Trainer`, the numbers the one metrics path
(:class:`~swiftspike.metrics.report.Report`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from ..data.dataset import Dataset
from ..data.encoders import Encoder, make_encoder
from ..devices import module_device
from ..engines.sync import run_sync
from ..errors import SwiftSpikeError
from ..metrics.report import Report
from ..models import build_model
from ..neurons.modules import reset
from ..training.distributed import is_main
from ..training.trainer import TrainConfig, Trainer, seed_everything

#: The report fields ``swiftspike report`` puts side by side.
REPORT_KEYS = ("accuracy", "spikes_per_sample", "latency_steps", "synops", "energy_j", "energy_ratio_vs_ann")


def baseline_plots(
    model: torch.nn.Module, encoder: Encoder, data: Dataset, report: Report, out: Path, label: str
) -> list[str]:
    """The accuracy of the running prediction per time step, and a raster of every layer's spikes for
    the first test sample, as PNG files in ``out``."""
    from ..plots import curves_plot, raster_plot

    reset(model)
    with torch.no_grad():
        rec = run_sync(model.eval(), encoder(data.x_test[:1].to(module_device(model))), record_spikes=True)
    reset(model)
    paths = [
        curves_plot(
            {label: report.accuracy_per_step}, out / "accuracy_vs_time.png", title="accuracy of the running prediction"
        )
    ]
    if rec.layers:
        trains = torch.cat([ls.spikes[:, 0].flatten(1) for ls in rec.layers], 1)
        groups = [(f"layer {ls.name}", ls.n_neurons) for ls in rec.layers]
        paths.append(
            raster_plot(trains, out / "raster.png", title="spikes of all layers, one test sample", groups=groups)
        )
    return [str(p) for p in paths]


def long_eval(
    model: torch.nn.Module,
    data: Dataset,
    encoder_name: str,
    T: int,
    *,
    factor: int | None = None,
    mode: str = "stream",
    energy_table: str = "45nm-fp32",
) -> dict[str, Any]:
    """Parallel-neuron extras: DSN logical/effective T and, with ``factor``, the accuracy at ``factor``
    times the training length (``mode`` stream or stretch)."""
    from ..training.long import dsn_time_metrics, long_sequence_eval

    out: dict[str, Any] = dict(dsn_time_metrics(model, T))
    if factor:
        out["long_eval"] = long_sequence_eval(
            model, data, encoder_name, T, factor, mode=mode, energy_table=energy_table
        )
    return out


def train_and_report(
    data: Dataset,
    spec: dict[str, Any],
    cfg: TrainConfig,
    encoder_name: str,
    T: int,
    *,
    label: str,
    meta: dict[str, Any],
    energy_table: str = "45nm-fp32",
    plot_dir: Path | None = None,
    eval_long: int | None = None,
    long_mode: str = "stream",
) -> tuple[dict[str, Any], Report | None]:
    """Train ``build_model(spec)`` with ``cfg`` and evaluate it on the test split.

    Returns the JSON-ready result (the report's fields, ``plots``, the long-sequence extras and the
    checkpoint path) and the :class:`Report`; under ``torchrun`` ranks other than 0 return ``({}, None)``."""
    seed_everything(cfg.seed)
    model = build_model(spec)
    encoder = make_encoder(encoder_name, T)
    trainer = Trainer(model, encoder, cfg, spec=spec, meta=meta)
    t0 = time.perf_counter()
    history = trainer.fit(data)
    train_s = time.perf_counter() - t0
    if not is_main():  # under torchrun, rank 0 alone evaluates and reports
        return {}, None
    report = trainer.evaluate(data.x_test, data.y_test, energy_table=energy_table)
    report.extra.update(
        dataset=data.name,
        encoder=encoder_name,
        train_seconds=round(train_s, 2),
        epochs=cfg.epochs,
        final_loss=history[-1]["loss"] if history else None,
    )
    result = report.to_dict()
    if plot_dir is not None:
        result["plots"] = baseline_plots(model, encoder, data, report, plot_dir, label)
    result.update(long_eval(model, data, encoder_name, T, factor=eval_long, mode=long_mode, energy_table=energy_table))
    if cfg.checkpoint:
        result["checkpoint"] = cfg.checkpoint
    return result, report


def read_result(path: str | Path) -> dict[str, Any]:
    """A saved report: a JSON file (``--out``) or saved output whose last line is the ``--json`` object."""
    p = Path(path)
    if not p.is_file():
        raise SwiftSpikeError(f"result file not found: {p}")
    try:
        lines = [ln for ln in p.read_text().splitlines() if ln.strip()]
        d = json.loads(lines[-1]) if lines and lines[-1].lstrip().startswith("{") else json.loads(p.read_text())
    except (json.JSONDecodeError, IndexError, UnicodeDecodeError):
        raise SwiftSpikeError(f"{p} holds no JSON result (write one with --out FILE or --json)") from None
    if not isinstance(d, dict) or "accuracy" not in d:
        raise SwiftSpikeError(f"{p} is not a swiftspike report (no 'accuracy' field)")
    return d


def compare_results(files: list[str], plot_dir: Path | None = None) -> tuple[dict[str, Any], str]:
    """Saved reports side by side: the JSON ``{"runs": {name: {key: value}}}`` (plus ``plots``: the
    accuracy-vs-time-step curves of every run that has one) and its text table."""
    rows = [(Path(f).stem, read_result(f)) for f in files]
    curves = {n: d["accuracy_per_step"] for n, d in rows if d.get("accuracy_per_step")}
    w = max(len(n) for n, _ in rows)
    lines = [f"{'run':<{w}}  " + "  ".join(f"{k:>20}" for k in REPORT_KEYS)]
    for n, d in rows:
        cells = [
            f"{v:>20.4g}" if isinstance(v, (int, float)) else f"{v!s:>20}" for v in (d.get(k) for k in REPORT_KEYS)
        ]
        lines.append(f"{n:<{w}}  " + "  ".join(cells))
    result: dict[str, Any] = {"runs": {n: {k: d.get(k) for k in REPORT_KEYS} for n, d in rows}}
    if plot_dir is not None and curves:
        from ..plots import curves_plot

        result["plots"] = [str(curves_plot(curves, plot_dir / "accuracy_vs_time.png", title="accuracy vs time step"))]
    return result, "\n".join(lines)
