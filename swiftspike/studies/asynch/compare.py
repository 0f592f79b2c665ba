"""From evaluations to the claim: baseline / async-trained ratios per cell (:func:`compute_ratios`),
grid maxima (:func:`grid_maxima`) and the verdict of issue 15 (:func:`claim_verdict`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .config import ASYNC_TRAININGS, BASELINES, CLAIM_METRICS, RATIO_METRICS


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
