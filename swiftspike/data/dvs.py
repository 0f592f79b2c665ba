"""DVS Gesture (Amir et al. 2017) from user-provided preprocessed ``.npy`` clips (never downloads).

Each clip is a numpy array with columns ``(x, y, p, t)``, ``t`` in milliseconds, on a 128 x 128
sensor with two polarities; 11 classes (10 gestures + "other"). Folder layout:
``<root>/ibmGestureTrain/user<NN>_<lighting>/<label>.npy`` and ``<root>/ibmGestureTest/...``;
``root`` is ``path`` or ``$SWIFTSPIKE_DVS_GESTURE``. :func:`load_dvs_gesture` bins a split into memory;
:class:`DVSGestureDataset` reads one clip per item.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SwiftSpikeError, check_positive_int, choose
from .dataset import Dataset
from .events import DVS_GESTURE_DTYPE, EventDataset, ToFrames, frames_from_streams, pick_subset
from .paths import PathLike, resolve_dir

DVS_GESTURE_ENV = "SWIFTSPIKE_DVS_GESTURE"
DVS_SENSOR = (128, 128, 2)
DVS_CLASSES = 11
_HINT = (
    " (unpack the preprocessed clips so that ibmGestureTrain/ and ibmGestureTest/ hold user<NN>_<lighting>/<label>.npy)"
)


def read_dvs_gesture_npy(path: PathLike) -> np.ndarray:
    """Read one clip (columns x, y, p, t[ms]) into Tonic's DVS Gesture events
    (:data:`~swiftspike.data.events.DVS_GESTURE_DTYPE`: ``x, y`` int16, ``p`` bool, ``t`` µs, rounded)."""
    p = Path(path)
    if not p.is_file():
        raise SwiftSpikeError(f"DVS Gesture file {p} does not exist")
    try:
        a = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise SwiftSpikeError(f"cannot read {p}: not a valid .npy file ({e})") from None
    if a.ndim != 2 or a.shape[1] != 4 or a.dtype.kind not in "iuf":
        raise SwiftSpikeError(f"{p} is corrupt: expected a numeric [N, 4] array (x, y, p, t), got {a.dtype} {a.shape}")
    if not np.isfinite(a).all():
        raise SwiftSpikeError(f"{p} is corrupt: it contains NaN or inf")
    x, y, pol, t = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
    if a.size and (
        x.min() < 0
        or x.max() >= DVS_SENSOR[0]
        or y.min() < 0
        or y.max() >= DVS_SENSOR[1]
        or not np.isin(pol, (0, 1)).all()
    ):
        raise SwiftSpikeError(f"{p} is corrupt: coordinates outside 128x128 or polarity not 0/1")
    ev = np.zeros(len(a), dtype=DVS_GESTURE_DTYPE)
    ev["x"], ev["y"], ev["p"] = x, y, pol
    ev["t"] = np.round(t.astype(np.float64) * 1000.0).astype(np.int64)
    return ev


def list_dvs_gesture(root: PathLike, split: str = "train") -> list[tuple[Path, int]]:
    """``(file, label)`` pairs of ``<root>/ibmGesture<Train|Test>/user*/<label>.npy``, sorted."""
    d = Path(root) / ("ibmGestureTrain" if split == "train" else "ibmGestureTest")
    if not d.is_dir():
        raise SwiftSpikeError(f"DVS Gesture folder {Path(root)} has no {d.name}/ subfolder{_HINT}")
    items = []
    for f in sorted(d.glob("*/*.npy")):
        if not f.stem.isdigit() or int(f.stem) >= DVS_CLASSES:
            raise SwiftSpikeError(f"DVS Gesture clip {f} must be named <label>.npy with label 0..{DVS_CLASSES - 1}")
        items.append((f, int(f.stem)))
    if not items:
        raise SwiftSpikeError(f"no .npy clips in {d}/user*/{_HINT}")
    return items


def dvs_frames(
    n_bins: int = 20, duration_us: int | None = None, spatial_factor: int = 4, binary: bool = False
) -> ToFrames:
    """The binning of :func:`load_dvs_gesture`: pixels sum-pooled by ``spatial_factor``, the window starting
    at the clip's first event and spanning ``duration_us`` or the clip's own length, in ``n_bins`` bins;
    output ``[n_bins, 2, 128/f, 128/f]``."""
    check_positive_int(n_bins, "n_bins")
    check_positive_int(spatial_factor, "spatial_factor")
    if duration_us is not None:
        check_positive_int(duration_us, "duration_us")
    side = -(-DVS_SENSOR[0] // spatial_factor)
    return ToFrames(
        (side, side, 2),
        n_bins=n_bins,
        t_start=0,
        t_end=duration_us,
        binary=binary,
        align_start=True,
        downsample=spatial_factor,
    )


def _root(path: PathLike | None) -> Path:
    root = resolve_dir(path, env=DVS_GESTURE_ENV, subdir="dvs-gesture", what="DVS Gesture folder", hint=_HINT)
    if (root / "DVSGesture").is_dir() and not (root / "ibmGestureTrain").is_dir():
        root = root / "DVSGesture"
    return root


def load_dvs_gesture(
    path: PathLike | None = None,
    *,
    n_bins: int = 20,
    duration_us: int | None = None,
    spatial_factor: int = 4,
    limit_train: int | None = None,
    limit_test: int | None = None,
    seed: int = 0,
    binary: bool = False,
) -> Dataset:
    """DVS Gesture as frames ``[N, n_bins, 2, 128/f, 128/f]`` (``f = spatial_factor``, sum pooling), in memory.

    Each clip's window starts at its first event; it spans ``duration_us`` when given (later events
    dropped) or else the clip's own length, split into ``n_bins`` equal bins.
    """
    fr = dvs_frames(n_bins, duration_us, spatial_factor, binary)
    root = _root(path)

    def frames(items):
        x = frames_from_streams((read_dvs_gesture_npy(f) for f, _ in items), len(items), transform=fr)
        return x, torch.tensor([lab for _, lab in items], dtype=torch.long)

    xtr, ytr = frames(pick_subset(list_dvs_gesture(root, "train"), limit_train, seed))
    xte, yte = frames(pick_subset(list_dvs_gesture(root, "test"), limit_test, seed))
    return Dataset("dvs-gesture", xtr, ytr, xte, yte, DVS_CLASSES, temporal=True)


class DVSGestureDataset(EventDataset):
    """DVS Gesture as a map-style ``torch`` dataset that reads one ``.npy`` clip per item.

    ``dataset[i]`` is ``(transform(events), label)``: by default (``transform="frames"``) the frames of
    :func:`load_dvs_gesture` with the same options, with ``transform=None`` Tonic-style events
    (:data:`~swiftspike.data.events.DVS_GESTURE_DTYPE`), or any callable such as a Tonic transform.
    ``split`` is ``"train"`` or ``"test"``; ``limit`` draws that many clips with ``seed`` (the ones
    :func:`load_dvs_gesture` draws). Only the file list is built up front.
    """

    sensor_size = DVS_SENSOR
    n_classes = DVS_CLASSES

    def __init__(
        self,
        path: PathLike | None = None,
        split: str = "train",
        *,
        transform: Any = "frames",
        target_transform: Callable | None = None,
        n_bins: int = 20,
        duration_us: int | None = None,
        spatial_factor: int = 4,
        binary: bool = False,
        limit: int | None = None,
        seed: int = 0,
    ) -> None:
        choose("DVS Gesture split", split, ("train", "test"))
        frames = dvs_frames(n_bins, duration_us, spatial_factor, binary)
        self.files = pick_subset(list_dvs_gesture(_root(path), split), limit, seed)
        super().__init__([lab for _, lab in self.files], transform, target_transform, frames)

    def events(self, index: int) -> np.ndarray:
        return read_dvs_gesture_npy(self.files[index][0])
