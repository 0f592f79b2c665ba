"""Atomic, validated checkpoints.

:func:`save_checkpoint` writes to a temporary file in the target directory, flushes and fsyncs it,
then ``os.replace``-s it over the target: an interruption leaves either the old or the new file,
never a half-written one. :func:`load_checkpoint` turns every failure (missing, truncated, not a
swiftspike checkpoint) into one :class:`~swiftspike.errors.SwiftSpikeError`.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..errors import SwiftSpikeError

FORMAT = "swiftspike-checkpoint"
VERSION = 1


def save_checkpoint(path: "str | os.PathLike", payload: dict[str, Any]) -> Path:
    """Atomically write ``payload`` (plus format tags) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "version": VERSION, **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(path: "str | os.PathLike", map_location: str = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`; clear errors on any problem."""
    path = Path(path)
    if not path.exists():
        raise SwiftSpikeError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise SwiftSpikeError(f"checkpoint path is not a file: {path}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # pickle/zip errors of many kinds
        raise SwiftSpikeError(f"checkpoint {path} is corrupt or unreadable ({type(e).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SwiftSpikeError(f"{path} is not a swiftspike checkpoint")
    if data.get("version", 0) > VERSION:
        raise SwiftSpikeError(f"checkpoint {path} has version {data.get('version')}, newer than this swiftspike")
    return data
