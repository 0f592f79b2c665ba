"""Trade-off selector: pick the timestep setting that meets accuracy / latency / energy limits.

Rows are study results (``T``, ``accuracy``, ``latency_ms``, ``train_energy_j``, ``infer_energy_j``,
optional ``params``). :func:`select` returns the smallest-``T`` row meeting every limit (ties:
higher accuracy); when none does, the row with the smallest weighted relative violation::

    v = w_acc * max(0, (a_min - a) / a_min) + w_lat * max(0, (l - l_max) / l_max)
        + w_energy * max(0, (E - E_max) / E_max)

:class:`RuntimeSelector` keeps the table and re-selects when the limits change, e.g. as a battery
drains (:meth:`RuntimeSelector.on_battery`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import SwiftSpikeError, choose


def _lim(v: float | None, name: str) -> float | None:
    if v is None:
        return None
    if not math.isfinite(float(v)) or float(v) <= 0:
        raise SwiftSpikeError(f"{name} must be a positive finite number, got {v}")
    return float(v)


def select(
    rows: Sequence[dict[str, Any]],
    *,
    min_accuracy: float | None = None,
    max_latency: float | None = None,
    max_energy: float | None = None,
    energy: str = "infer",
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> dict[str, Any]:
    """Chosen row plus ``feasible`` (bool) and ``violation`` (0 when feasible)."""
    if not rows:
        raise SwiftSpikeError("the selector needs at least one study row")
    choose("energy kind", energy, ("infer", "train"))
    a_min, l_max, e_max = (
        _lim(min_accuracy, "min_accuracy"),
        _lim(max_latency, "max_latency"),
        _lim(max_energy, "max_energy"),
    )
    ek = f"{energy}_energy_j"
    wa, wl, we = weights

    def violation(r):
        v = 0.0
        if a_min is not None:
            v += wa * max(0.0, (a_min - r["accuracy"]) / a_min)
        if l_max is not None:
            v += wl * max(0.0, (r["latency_ms"] - l_max) / l_max)
        if e_max is not None:
            v += we * max(0.0, (r[ek] - e_max) / e_max)
        return v

    scored = [(violation(r), r) for r in rows]
    feasible = [r for v, r in scored if v == 0.0]
    if feasible:
        best = min(feasible, key=lambda r: (r["T"], -r["accuracy"]))
        return dict(best, feasible=True, violation=0.0)
    v, best = min(scored, key=lambda vr: (vr[0], vr[1]["T"], -vr[1]["accuracy"]))
    return dict(best, feasible=False, violation=v)


class RuntimeSelector:
    """Hold a study table and switch settings when requirements change."""

    def __init__(self, rows: Sequence[dict[str, Any]], energy: str = "infer") -> None:
        self.rows, self.energy = list(rows), energy
        self.current: dict[str, Any] | None = None

    def update(self, **limits: Any) -> dict[str, Any]:
        self.current = select(self.rows, energy=self.energy, **limits)
        return self.current

    def on_battery(
        self, level: float, *, min_accuracy: float | None = None, full_energy: float | None = None
    ) -> dict[str, Any]:
        """Energy budget per sample shrinks with the battery ``level`` in (0, 1]: ``E_max = level *
        full_energy`` (default: the largest energy in the table)."""
        if not 0 < level <= 1:
            raise SwiftSpikeError(f"battery level must be in (0, 1], got {level}")
        full = full_energy or max(r[f"{self.energy}_energy_j"] for r in self.rows)
        return self.update(min_accuracy=min_accuracy, max_energy=level * full)
