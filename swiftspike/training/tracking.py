"""Per-epoch metric logs: JSON lines (always, when there is a place to write them) and TensorBoard (optional).

The JSON-lines file holds one object per epoch -- ``epoch``, ``loss``, ``train_accuracy``,
``spikes_per_sample``, ``latency_steps``, ``synops``, ``energy_j``, ``lr``, ``seconds`` and, when the trainer
is given validation data, the same measures with a ``val_`` prefix -- non-finite numbers written as
``null``. On resume the file is rewritten from the checkpoint's history, so it always matches the
checkpoint. TensorBoard scalars (``train/loss``, ``val/accuracy`` ...) go to ``log_dir`` through
``torch.utils.tensorboard`` (optional extra ``tensorboard``).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from ..errors import SwiftSpikeError


def metrics_path_for(checkpoint: str | os.PathLike) -> Path:
    """The default metrics log beside a checkpoint: ``run.safetensors`` -> ``run.metrics.jsonl``."""
    p = Path(checkpoint)
    return p.with_name(p.stem + ".metrics.jsonl")


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    return v


def need_tensorboard():
    """``torch.utils.tensorboard.SummaryWriter``, or one clear error naming the extra."""
    try:
        import tensorboard  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise SwiftSpikeError(
            "TensorBoard logging (log_dir / --log-dir) needs the optional package 'tensorboard': "
            "pip install 'swiftspike[tensorboard]'"
        ) from None
    return SummaryWriter


class MetricsLogger:
    """Writes one record per epoch to a JSON-lines file and, with ``log_dir``, to TensorBoard."""

    def __init__(self, path: str | os.PathLike | None = None, log_dir: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path else None
        self.log_dir = Path(log_dir) if log_dir else None
        self._writer: Any = None
        if self.log_dir is not None:
            need_tensorboard()  # fail before training starts

    def start(self, history: list[dict[str, Any]]) -> None:
        """Begin (or, on resume, restart from ``history``) the JSON-lines file."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(json.dumps(_clean(h)) + "\n" for h in history))
        os.replace(tmp, self.path)

    def log(self, record: dict[str, Any]) -> None:
        if self.path is not None:
            with open(self.path, "a") as f:
                f.write(json.dumps(_clean(record)) + "\n")
        if self.log_dir is not None:
            if self._writer is None:
                self._writer = need_tensorboard()(log_dir=str(self.log_dir))
            step = int(record.get("epoch", 0))
            for k, v in record.items():
                if k == "epoch" or not isinstance(v, (int, float)) or isinstance(v, bool):
                    continue
                if not math.isfinite(float(v)):
                    continue
                if k.startswith("val_"):
                    group, name = "val", k[4:]
                else:
                    group, name = "train", k[6:] if k.startswith("train_") else k
                self._writer.add_scalar(f"{group}/{name}", float(v), step)
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
