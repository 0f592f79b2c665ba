"""Spiking Heidelberg Digits (SHD) from user-provided HDF5 files (never downloads).

File layout (Cramer et al. 2020): ``spikes/times`` (one variable-length float array per sample, in
seconds, often float16), ``spikes/units`` (variable-length uint16 channel ids 0..699) and
``labels`` (20 classes: digits 0-9 spoken in English and German). Put ``shd_train.h5`` and
``shd_test.h5`` in one folder and pass it as ``path`` or set ``$SWIFTSPIKE_SHD``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import SwiftSpikeError, check_positive_int
from .dataset import Dataset, need_module
from .events import EVENT_DTYPE, frames_from_streams, pick_subset
from .paths import PathLike, need_file, resolve_dir

SHD_ENV = "SWIFTSPIKE_SHD"
SHD_CHANNELS = 700
SHD_CLASSES = 20
_HINT = (" (download shd_train.h5 and shd_test.h5 from the Heidelberg SHD page yourself, unzip them into "
         "one folder)")


def _open(path: Path):
    h5py = need_module("h5py")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise SwiftSpikeError(f"cannot read SHD file {path}: not a valid HDF5 file ({e})") from None


def read_shd(path: PathLike, indices: Optional[list[int]] = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Read an SHD/SSC ``.h5`` file into per-sample event streams (``t`` µs, ``x`` = channel, p = 1) and labels.

    Times are upcast to float64 before scaling seconds -> microseconds (rounded).
    ``indices`` (increasing) reads only those samples.
    """
    p = Path(path)
    if not p.is_file():
        raise SwiftSpikeError(f"SHD file {p} does not exist")
    with _open(p) as f:
        try:
            times_ds, units_ds, labels_ds = f["spikes/times"], f["spikes/units"], f["labels"]
        except KeyError:
            raise SwiftSpikeError(f"{p} is not an SHD file: it needs datasets spikes/times, spikes/units and labels") from None
        n = len(labels_ds)
        if len(times_ds) != n or len(units_ds) != n:
            raise SwiftSpikeError(f"{p} is corrupt: {len(times_ds)} time arrays, {len(units_ds)} unit arrays, {n} labels")
        sel = list(range(n)) if indices is None else list(indices)
        labels = np.asarray(labels_ds[:], dtype=np.int64)[sel] if sel else np.zeros(0, np.int64)
        bulk = len(sel) > n // 4  # one read of the whole ragged column beats many small reads
        times_all = times_ds[:] if bulk else None
        units_all = units_ds[:] if bulk else None
        streams = []
        for i in sel:
            t = np.asarray(times_all[i] if bulk else times_ds[i], dtype=np.float64)
            u = np.asarray(units_all[i] if bulk else units_ds[i])
            if t.shape != u.shape or t.ndim != 1:
                raise SwiftSpikeError(f"{p} is corrupt: sample {i} has {t.size} times but {u.size} units")
            if not np.isfinite(t).all() or (t < 0).any():
                raise SwiftSpikeError(f"{p} is corrupt: sample {i} has negative or non-finite spike times")
            if u.size and (int(u.min()) < 0 or int(u.max()) >= SHD_CHANNELS):
                raise SwiftSpikeError(f"{p} is corrupt: sample {i} has channel ids outside 0..{SHD_CHANNELS - 1}")
            ev = np.zeros(t.size, dtype=EVENT_DTYPE)
            ev["t"] = np.round(t * 1e6).astype(np.int64)
            ev["x"] = u
            ev["p"] = 1
            streams.append(ev)
    return streams, labels


def _split_frames(file: Path, limit: Optional[int], seed: int, n_bins: int, duration_us: int, binary: bool,
                  channel_factor: int):
    with _open(file) as f:
        if "labels" not in f:
            raise SwiftSpikeError(f"{file} is not an SHD file: it has no labels dataset")
        n = len(f["labels"])
    idx = pick_subset(range(n), limit, seed)
    streams, labels = read_shd(file, idx)
    if len(streams) == 0:
        raise SwiftSpikeError(f"{file} holds no samples")
    if labels.min() < 0:
        raise SwiftSpikeError(f"{file} is corrupt: negative labels")
    if channel_factor > 1:
        for ev in streams:
            ev["x"] //= channel_factor
    width = -(-SHD_CHANNELS // channel_factor)
    x = frames_from_streams(streams, len(streams), (width,), n_bins=n_bins, t_start=0, t_end=duration_us,
                            binary=binary)
    return x, labels


def load_shd(path: Optional[PathLike] = None, *, n_bins: int = 100, duration_us: int = 1_000_000,
             limit_train: Optional[int] = None, limit_test: Optional[int] = None, seed: int = 0,
             binary: bool = False, channel_factor: int = 1) -> Dataset:
    """SHD as dense spike counts ``[N, n_bins, 700 / channel_factor]`` (``temporal=True``).

    Bins split ``[0, duration_us)`` evenly (default 100 bins of 10 ms); later spikes are dropped.
    ``limit_*`` draw that many samples with ``seed``. Memory: 8 156 x 100 x 700 float32 is about
    2.3 GB for the full training set, so use limits or ``channel_factor`` on small machines.
    """
    check_positive_int(n_bins, "n_bins")
    check_positive_int(duration_us, "duration_us")
    check_positive_int(channel_factor, "channel_factor")
    root = resolve_dir(path, env=SHD_ENV, subdir="shd", what="SHD folder", hint=_HINT)
    if root.is_dir() and (root / "SHD").is_dir() and not (root / "shd_train.h5").exists():
        root = root / "SHD"
    if not root.is_dir():
        raise SwiftSpikeError(f"SHD path {root} must be a folder holding shd_train.h5 and shd_test.h5")
    tr = need_file(root, ("shd_train.h5",), "SHD training file", _HINT)
    te = need_file(root, ("shd_test.h5",), "SHD test file", _HINT)
    xtr, ytr = _split_frames(tr, limit_train, seed, n_bins, duration_us, binary, channel_factor)
    xte, yte = _split_frames(te, limit_test, seed, n_bins, duration_us, binary, channel_factor)
    n_classes = max(SHD_CLASSES, int(max(ytr.max(), yte.max())) + 1)
    return Dataset("shd", xtr, torch.as_tensor(ytr), xte, torch.as_tensor(yte), n_classes, temporal=True)
