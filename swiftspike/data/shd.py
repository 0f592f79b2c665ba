"""Spiking Heidelberg Digits (SHD) from user-provided HDF5 files (never downloads).

File layout (Cramer et al. 2020): ``spikes/times`` (one variable-length float array per sample, in
seconds, often float16), ``spikes/units`` (variable-length uint16 channel ids 0..699) and
``labels`` (20 classes: digits 0-9 spoken in English and German). Put ``shd_train.h5`` and
``shd_test.h5`` in one folder and pass it as ``path`` or set ``$SWIFTSPIKE_SHD``. :func:`load_shd`
bins the whole split into memory; :class:`SHDDataset` reads one sample per item.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SwiftSpikeError, check_positive_int, choose
from .dataset import Dataset, need_module
from .events import SHD_DTYPE, EventDataset, ToFrames, frames_from_streams, pick_subset
from .paths import PathLike, need_file, resolve_dir

SHD_ENV = "SWIFTSPIKE_SHD"
SHD_CHANNELS = 700
SHD_CLASSES = 20
_HINT = " (download shd_train.h5 and shd_test.h5 from the Heidelberg SHD page yourself, unzip them into one folder)"


def _open(path: Path):
    h5py = need_module("h5py")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise SwiftSpikeError(f"cannot read SHD file {path}: not a valid HDF5 file ({e})") from None


def _columns(f, p: Path):
    """The ``spikes/times``, ``spikes/units`` and ``labels`` datasets of an open SHD file, checked."""
    try:
        times_ds, units_ds, labels_ds = f["spikes/times"], f["spikes/units"], f["labels"]
    except KeyError:
        raise SwiftSpikeError(
            f"{p} is not an SHD file: it needs datasets spikes/times, spikes/units and labels"
        ) from None
    n = len(labels_ds)
    if len(times_ds) != n or len(units_ds) != n:
        raise SwiftSpikeError(f"{p} is corrupt: {len(times_ds)} time arrays, {len(units_ds)} unit arrays, {n} labels")
    return times_ds, units_ds, labels_ds


def _labels(labels_ds, p: Path) -> np.ndarray:
    labels = np.asarray(labels_ds[:], dtype=np.int64)
    if labels.size and labels.min() < 0:
        raise SwiftSpikeError(f"{p} is corrupt: negative labels")
    return labels


def _sample_events(p: Path, i: int, times, units) -> np.ndarray:
    """One sample's spikes as Tonic's SHD events (:data:`SHD_DTYPE`: ``t`` µs, ``x`` = channel, ``p`` = 1)."""
    t = np.asarray(times, dtype=np.float64)
    u = np.asarray(units)
    if t.shape != u.shape or t.ndim != 1:
        raise SwiftSpikeError(f"{p} is corrupt: sample {i} has {t.size} times but {u.size} units")
    if not np.isfinite(t).all() or (t < 0).any():
        raise SwiftSpikeError(f"{p} is corrupt: sample {i} has negative or non-finite spike times")
    if u.size and (int(u.min()) < 0 or int(u.max()) >= SHD_CHANNELS):
        raise SwiftSpikeError(f"{p} is corrupt: sample {i} has channel ids outside 0..{SHD_CHANNELS - 1}")
    ev = np.zeros(t.size, dtype=SHD_DTYPE)
    ev["t"] = np.round(t * 1e6).astype(np.int64)
    ev["x"] = u
    ev["p"] = 1
    return ev


def read_shd(path: PathLike, indices: list[int] | None = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Read an SHD/SSC ``.h5`` file into per-sample event streams and labels.

    Events use Tonic's SHD layout (:data:`~swiftspike.data.events.SHD_DTYPE`: ``t`` µs, ``x`` = channel,
    ``p`` = 1, no ``y``). Times are upcast to float64 before scaling seconds -> microseconds (rounded;
    Tonic truncates). ``indices`` (increasing) reads only those samples.
    """
    p = Path(path)
    if not p.is_file():
        raise SwiftSpikeError(f"SHD file {p} does not exist")
    with _open(p) as f:
        times_ds, units_ds, labels_ds = _columns(f, p)
        n = len(labels_ds)
        sel = list(range(n)) if indices is None else list(indices)
        labels = np.asarray(labels_ds[:], dtype=np.int64)[sel] if sel else np.zeros(0, np.int64)
        bulk = len(sel) > n // 4  # one read of the whole ragged column beats many small reads
        times_all = times_ds[:] if bulk else None
        units_all = units_ds[:] if bulk else None
        streams = [
            _sample_events(
                p,
                i,
                times_all[i] if times_all is not None else times_ds[i],
                units_all[i] if units_all is not None else units_ds[i],
            )
            for i in sel
        ]
    return streams, labels


def shd_frames(
    n_bins: int = 100, duration_us: int = 1_000_000, channel_factor: int = 1, binary: bool = False
) -> ToFrames:
    """The binning of :func:`load_shd`: ``[0, duration_us)`` in ``n_bins`` bins, channels summed in groups
    of ``channel_factor``; output ``[n_bins, ceil(700 / channel_factor)]``."""
    check_positive_int(n_bins, "n_bins")
    check_positive_int(duration_us, "duration_us")
    check_positive_int(channel_factor, "channel_factor")
    width = -(-SHD_CHANNELS // channel_factor)
    return ToFrames((width,), n_bins=n_bins, t_start=0, t_end=duration_us, binary=binary, downsample=channel_factor)


def _root(path: PathLike | None) -> Path:
    root = resolve_dir(path, env=SHD_ENV, subdir="shd", what="SHD folder", hint=_HINT)
    if root.is_dir() and (root / "SHD").is_dir() and not (root / "shd_train.h5").exists():
        root = root / "SHD"
    if not root.is_dir():
        raise SwiftSpikeError(f"SHD path {root} must be a folder holding shd_train.h5 and shd_test.h5")
    return root


def _split_frames(file: Path, limit: int | None, seed: int, frames: ToFrames):
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
    return frames_from_streams(streams, len(streams), transform=frames), labels


def load_shd(
    path: PathLike | None = None,
    *,
    n_bins: int = 100,
    duration_us: int = 1_000_000,
    limit_train: int | None = None,
    limit_test: int | None = None,
    seed: int = 0,
    binary: bool = False,
    channel_factor: int = 1,
) -> Dataset:
    """SHD as dense spike counts ``[N, n_bins, 700 / channel_factor]`` (``temporal=True``), in memory.

    Bins split ``[0, duration_us)`` evenly (default 100 bins of 10 ms); later spikes are dropped.
    ``limit_*`` draw that many samples with ``seed``. Memory: 8 156 x 100 x 700 float32 is about
    2.3 GB for the full training set, so use limits, ``channel_factor`` or the lazy :class:`SHDDataset`.
    """
    frames = shd_frames(n_bins, duration_us, channel_factor, binary)
    root = _root(path)
    tr = need_file(root, ("shd_train.h5",), "SHD training file", _HINT)
    te = need_file(root, ("shd_test.h5",), "SHD test file", _HINT)
    xtr, ytr = _split_frames(tr, limit_train, seed, frames)
    xte, yte = _split_frames(te, limit_test, seed, frames)
    n_classes = max(SHD_CLASSES, int(max(ytr.max(), yte.max())) + 1)
    return Dataset("shd", xtr, torch.as_tensor(ytr), xte, torch.as_tensor(yte), n_classes, temporal=True)


class SHDDataset(EventDataset):
    """SHD as a map-style ``torch`` dataset that reads one sample per item from ``shd_<split>.h5``.

    ``dataset[i]`` is ``(transform(events), label)``: with the default ``transform="frames"`` the frames
    of :func:`load_shd` (``[n_bins, 700 / channel_factor]``, same options), with ``transform=None``
    Tonic-style events (:data:`~swiftspike.data.events.SHD_DTYPE`), or any callable on events such as
    ``tonic.transforms.ToFrame(sensor_size=SHDDataset.sensor_size, ...)``. ``limit`` draws that many
    samples with ``seed`` (the same ones :func:`load_shd` draws). The HDF5 file is opened once per
    process (DataLoader workers included); only the labels are read up front.
    """

    sensor_size = (SHD_CHANNELS, 1, 1)
    n_classes = SHD_CLASSES

    def __init__(
        self,
        path: PathLike | None = None,
        split: str = "train",
        *,
        transform: Any = "frames",
        target_transform: Callable | None = None,
        n_bins: int = 100,
        duration_us: int = 1_000_000,
        channel_factor: int = 1,
        binary: bool = False,
        limit: int | None = None,
        seed: int = 0,
    ) -> None:
        choose("SHD split", split, ("train", "test"))
        frames = shd_frames(n_bins, duration_us, channel_factor, binary)
        self.file = need_file(_root(path), (f"shd_{split}.h5",), f"SHD {split} file", _HINT)
        with _open(self.file) as f:
            labels = _labels(_columns(f, self.file)[2], self.file)
        self.indices = pick_subset(range(len(labels)), limit, seed)
        super().__init__([int(labels[i]) for i in self.indices], transform, target_transform, frames)
        self._h5: Any = None
        self._pid = -1

    def events(self, index: int) -> np.ndarray:
        if self._h5 is None or self._pid != os.getpid():  # one handle per process: h5py handles do not survive fork
            self._h5 = _open(self.file)
            self._pid = os.getpid()
        j = self.indices[index]
        return _sample_events(self.file, j, self._h5["spikes/times"][j], self._h5["spikes/units"][j])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_h5"], state["_pid"] = None, -1
        return state
