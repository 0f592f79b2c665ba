"""The async study's result (:class:`AsyncStudyResult`) and how it renders: tables and plots."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import StudyResult
from .compare import _final, _seed_mean
from .config import CLAIM_METRICS


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
        from ...plots import curves_plot

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
    lines += _evaluation_lines(res["results"], len(seeds))
    lines += _ratio_lines(res["ratios"])
    lines += _maxima_lines(res["maxima"])
    lines += _verdict_lines(res["verdict"])
    lines += ["", "training time (s): " + ", ".join(f"{k} {v['seconds']:.0f}" for k, v in res["training"].items())]
    if res.get("seconds"):
        lines.append(f"study wall time: {res['seconds']:.0f} s")
    return "\n".join(lines)


def _evaluation_lines(results: list[dict[str, Any]], n_seeds: int) -> list[str]:
    """The evaluations, means over seeds per (training, F, execution, stop)."""
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
    lines = [
        f"evaluations, means over {n_seeds} seed(s) (fr = per frame, over the (frame, sample) pairs that "
        "have one; async-trained models under sync execution: JSON only):",
        head,
        "-" * len(head),
    ]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in _final(results):
        if r["training"] != "sync" and r["execution"] == "sync":
            continue
        groups.setdefault((r["training"], r["F"], r["execution"], r["stop"]), []).append(r)
    for (training, F, execution, stop), rs in groups.items():
        vals = "".join(f"{_fmt(_mean([scale * r[m] for r in rs if r.get(m) is not None])):>11}" for _, m, scale in cols)
        lines.append(f"{training:<15}{_fmt(F, 'd'):>5} {execution:<10}{stop:<24}{vals}")
    return lines


def _ratio_lines(ratios: list[dict[str, Any]]) -> list[str]:
    """Per baseline, the ratios of every cell, one value per seed."""
    lines: list[str] = []
    for baseline, title in (
        ("async", "sync-trained run with the same scheduler at the same F"),
        ("sync-gate", "sync-trained under the sync gate at the same F"),
    ):
        rows = [r for r in ratios if r["baseline"] == baseline]
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
    return lines


def _maxima_lines(maxima: dict[str, Any]) -> list[str]:
    """The grid maxima of every mode (equal epochs, matched accuracy)."""
    lines: list[str] = []
    for mode in maxima:
        lines += [
            "",
            f"grid maxima ({mode.replace('_', ' ')}; 'all seeds' = the value every seed reaches in one "
            f"cell; 'equal acc' = cells where the async-trained model is at least as accurate in every seed):",
        ]
        h3 = f"{'baseline':<10}{'metric':<31}{'max':>7}  {'all seeds':>9}  {'equal acc':>9}  cell of 'equal acc'"
        lines += [h3, "-" * len(h3)]
        for baseline, per in maxima[mode].items():
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
    return lines


def _verdict_lines(verdict: dict[str, Any]) -> list[str]:
    """The claim's verdict of every mode and its best cells (up to five)."""
    lines: list[str] = []
    for mode, v in verdict.items():
        state = {True: "REPRODUCED", False: "NOT reproduced", None: "not decided (one seed)"}[v["reproduced"]]
        lines += ["", f"claim ({mode.replace('_', ' ')}): {state}: {v['criterion']} ({v['seeds']} seed(s))"]
        for h in v["cells"][:5]:
            lines.append(
                f"  {h['baseline']}: {h['metric']} x{h['min_over_seeds']:.2f} at F={h['F']} {h['training']} {h['stop']}"
            )
    return lines
