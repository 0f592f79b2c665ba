"""Parameter enhancement policy: rescale knobs with the timestep reduction factor ``r = T0 / T``.

For each reduced ``T`` the policy stores multiplicative factors ``f_k = r ** e_k`` for a few knobs
(see :data:`.study.KNOBS`). The exponents are fitted greedily on a validation split: knobs are
visited in sensitivity order and each keeps the candidate exponent with the best score::

    score = val_accuracy - energy_weight * max(0, E_infer / E_infer(unenhanced, T) - 1)

so an enhancement that buys accuracy by spiking much more is penalised. The result is a JSON table
``{T: {"factors": {knob: f}, "exponents": {...}, "val_accuracy": a, "params": {...}}}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import SwiftSpikeError
from .diehl_cook import DCParams
from .study import KNOBS, Split, run_setting, scale_knobs

#: candidate exponents per knob: direction the physics suggests (fewer steps -> act faster)
CANDIDATES: dict[str, tuple[float, ...]] = {
    "threshold_gap": (-0.25, -0.5),
    "theta_plus": (0.5, 1.0),
    "leak": (-0.5, -1.0),
    "refrac": (-0.5, -1.0),
    "inhibition": (0.5, -0.5),
    "learning_rate": (0.5, 1.0),
    "input_rate": (0.25, 0.5),
}


class EnhancementPolicy:
    """Table ``T -> knob factors`` relative to the baseline ``T0``."""

    def __init__(self, T0: int, table: dict[int, dict[str, Any]] | None = None) -> None:
        self.T0 = int(T0)
        self.table: dict[int, dict[str, Any]] = {int(k): v for k, v in (table or {}).items()}

    def factors(self, T: int) -> dict[str, float]:
        if T in self.table:
            return dict(self.table[T]["factors"])
        if not self.table:
            return {}
        # nearest fitted T, exponents applied to this T's reduction factor
        Tn = min(self.table, key=lambda k: abs(k - T))
        r = self.T0 / T
        return {k: r**e for k, e in self.table[Tn].get("exponents", {}).items()}

    def params_for(self, T: int, base: DCParams) -> DCParams:
        return scale_knobs(base, self.factors(T))

    def to_dict(self) -> dict[str, Any]:
        return {"T0": self.T0, "table": {str(k): v for k, v in sorted(self.table.items())}}

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(p.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2))
        tmp.replace(p)
        return p

    @classmethod
    def load(cls, path: str | Path) -> EnhancementPolicy:
        p = Path(path)
        if not p.is_file():
            raise SwiftSpikeError(f"policy file {p} does not exist")
        try:
            d = json.loads(p.read_text())
            return cls(int(d["T0"]), {int(k): v for k, v in d["table"].items()})
        except (ValueError, KeyError, TypeError) as e:
            raise SwiftSpikeError(f"policy file {p} is corrupt: {e}") from None


def fit_policy(
    split: Split,
    n_neurons: int,
    T0: int,
    Ts: Sequence[int],
    params: DCParams,
    *,
    order: dict[int, Sequence[str]] | None = None,
    max_knobs: int = 3,
    energy_weight: float = 0.05,
    candidates: dict[str, tuple[float, ...]] = CANDIDATES,
    base_rows: dict[int, dict[str, Any]] | None = None,
    log=None,
    **kw: Any,
) -> EnhancementPolicy:
    """Greedy per-T exponent search on the validation ``split`` (see module docstring).

    ``order[T]`` is the knob ranking from :func:`.study.sensitivity` (default: :data:`KNOBS` order);
    only the first ``max_knobs`` are searched.
    """
    pol = EnhancementPolicy(T0)
    for T in Ts:
        if T >= T0:
            continue
        r = T0 / T
        base = (base_rows or {}).get(T) or run_setting(split, n_neurons, T, params, **kw)
        e0 = base["infer_energy_j"]

        def score(row, e0=e0):  # e0 of this T, bound here
            return row["accuracy"] - energy_weight * max(0.0, row["infer_energy_j"] / e0 - 1.0)

        best_exp: dict[str, float] = {}
        best_row, best_score = base, score(base)
        knobs = [k for k in (order or {}).get(T, list(KNOBS)) if k in candidates][:max_knobs]
        for k in knobs:
            for e in candidates[k]:
                trial = dict(best_exp, **{k: e})
                row = run_setting(
                    split, n_neurons, T, scale_knobs(params, {kk: r**ee for kk, ee in trial.items()}), **kw
                )
                s = score(row)
                if log:
                    log(f"  fit T={T} {trial}: val acc {row['accuracy']:.3f} score {s:.3f}")
                if s > best_score:
                    best_exp, best_row, best_score = trial, row, s
        fac = {k: r**e for k, e in best_exp.items()}
        pol.table[T] = {
            "exponents": best_exp,
            "factors": fac,
            "val_accuracy": best_row["accuracy"],
            "val_accuracy_unenhanced": base["accuracy"],
            "params": scale_knobs(params, fac).to_dict(),
        }
    return pol
