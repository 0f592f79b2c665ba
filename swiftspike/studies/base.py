"""What every study shares: the data it loads and the four ways its result is rendered.

A study is ``run_study(config) -> result``. The config is one dataclass (it holds every choice, so a
config reproduces a run); the result renders to a text table (:meth:`StudyResult.table`), a JSON-ready
dict (:meth:`StudyResult.to_dict`, :meth:`StudyResult.to_json`) and PNG plots
(:meth:`StudyResult.plots`). Studies never parse arguments and never print unless given a ``log``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..data.dataset import Dataset
from ..data.datasets import load_dataset

#: A study's progress messages go here (``print`` for people, a no-op for quiet runs).
Log = Callable[[str], None]


def quiet(_: str) -> None:
    """A :data:`Log` that drops every message."""


def json_safe(obj: Any) -> Any:
    """``obj`` with tuples as lists, keys as strings and non-finite floats as ``None`` / ``"inf"``
    (strict JSON has no NaN or infinity)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


@dataclass
class DataConfig:
    """The data fields of a study config (``--dataset --path --limit --bins --seed`` on the CLI).

    ``bins`` is the number of frames of an event dataset (shd, nmnist, dvs-gesture); ``seed`` also
    seeds the study's initialisation and encoder noise.
    """

    dataset: str = "digits"
    path: str | None = None
    limit: int | None = None
    bins: int | None = None
    seed: int = 0

    def load_data(self, *, flatten: bool = False) -> Dataset:
        kw = {} if self.bins is None else {"n_bins": self.bins}
        return load_dataset(self.dataset, path=self.path, seed=self.seed, limit=self.limit, flatten=flatten, **kw)


@dataclass
class StudyResult:
    """Base of study results: subclasses are dataclasses whose fields are the JSON keys."""

    def to_dict(self) -> dict[str, Any]:
        """The result as a dict: the JSON object the CLI prints with ``--json`` (fields declared with
        ``metadata={"json": False}`` only serve the table)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("json", True)}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(json_safe(self.to_dict()), indent=indent)

    def table(self) -> str:  # pragma: no cover - every study overrides it
        raise NotImplementedError

    def plots(self, directory: str | Path) -> list[Path]:
        """Write this result's PNG plots into ``directory``; returns their paths (needs matplotlib)."""
        return []
