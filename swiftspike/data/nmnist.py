"""N-MNIST (Orchard et al. 2015) from user-provided ``.bin`` files (never downloads).

Each event is 5 bytes: byte 0 = x, byte 1 = y, byte 2 bit 7 = polarity, byte 2 bits 6..0 =
timestamp bits 22..16, byte 3 = bits 15..8, byte 4 = bits 7..0 (microseconds). A row with
``y == 240`` is a timestamp-overflow marker: 2**13 is added to every later timestamp and the row
itself is dropped. Sensor 34 x 34, two polarities.

Folder layout: ``<root>/Train/<digit>/*.bin`` and ``<root>/Test/<digit>/*.bin`` (the label is the
folder name's last character); ``root`` is ``path`` or ``$SWIFTSPIKE_NMNIST``. :func:`load_nmnist` bins
a split into memory; :class:`NMNISTDataset` reads one file per item.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SwiftSpikeError, check_positive_int, choose
from .dataset import Dataset
from .events import NMNIST_DTYPE, EventDataset, ToFrames, frames_from_streams, pick_subset
from .paths import PathLike, resolve_dir

NMNIST_ENV = "SWIFTSPIKE_NMNIST"
NMNIST_SENSOR = (34, 34, 2)
OVERFLOW_Y = 240
OVERFLOW_US = 2**13
_HINT = (
    " (unzip the N-MNIST Train/ and Test/ folders, each holding digit folders 0..9 with .bin files, into one folder)"
)


def decode_nmnist(raw: bytes, name: str = "N-MNIST data", sensor: tuple[int, int] = (34, 34)) -> np.ndarray:
    """Decode the bytes of one N-MNIST (ATIS) ``.bin`` recording into Tonic's N-MNIST events
    (:data:`~swiftspike.data.events.NMNIST_DTYPE`: ``x, y, t`` µs, ``p`` 0/1)."""
    if len(raw) == 0 or len(raw) % 5:
        raise SwiftSpikeError(
            f"{name} is corrupt: {len(raw)} bytes is not a positive multiple of 5 (one event = 5 bytes)"
        )
    r = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 5).astype(np.int64)
    x, y = r[:, 0], r[:, 1]
    p = r[:, 2] >> 7
    ts = ((r[:, 2] & 0x7F) << 16) | (r[:, 3] << 8) | r[:, 4]
    marker = y == OVERFLOW_Y
    ts = ts + np.cumsum(marker) * OVERFLOW_US
    keep = ~marker
    x, y, p, ts = x[keep], y[keep], p[keep], ts[keep]
    if x.size and (x.max() >= sensor[0] or y.max() >= sensor[1]):
        raise SwiftSpikeError(f"{name} is corrupt: pixel coordinates outside the {sensor[0]}x{sensor[1]} sensor")
    ev = np.zeros(x.size, dtype=NMNIST_DTYPE)
    ev["t"], ev["x"], ev["y"], ev["p"] = ts, x, y, p
    return ev


def read_nmnist_file(path: PathLike, sensor: tuple[int, int] = (34, 34)) -> np.ndarray:
    """Read one N-MNIST ``.bin`` file (see :func:`decode_nmnist`)."""
    p = Path(path)
    if not p.is_file():
        raise SwiftSpikeError(f"N-MNIST file {p} does not exist")
    return decode_nmnist(p.read_bytes(), str(p), sensor)


def _split_dir(root: Path, split: str) -> Path:
    for name in (split, split.lower()):
        if (root / name).is_dir():
            return root / name
    raise SwiftSpikeError(f"N-MNIST folder {root} has no {split}/ subfolder{_HINT}")


def list_nmnist(root: PathLike, split: str = "Train") -> list[tuple[Path, int]]:
    """``(file, label)`` pairs of ``<root>/<split>/<digit>/*.bin``, sorted; label = folder's last character."""
    d = _split_dir(Path(root), split)
    items = []
    for sub in sorted(q for q in d.iterdir() if q.is_dir()):
        if not sub.name[-1:].isdigit():
            raise SwiftSpikeError(f"N-MNIST class folder {sub} must end in a digit")
        items += [(f, int(sub.name[-1])) for f in sorted(sub.glob("*.bin"))]
    if not items:
        raise SwiftSpikeError(f"no .bin files in {d}/<digit>/{_HINT}")
    return items


def nmnist_frames(n_bins: int = 10, duration_us: int | None = 300_000, binary: bool = False) -> ToFrames:
    """The binning of :func:`load_nmnist`: ``[0, duration_us)`` (or each recording's own length with
    ``duration_us=None``) in ``n_bins`` bins; output ``[n_bins, 2, 34, 34]``."""
    check_positive_int(n_bins, "n_bins")
    if duration_us is not None:
        check_positive_int(duration_us, "duration_us")
    return ToFrames(NMNIST_SENSOR, n_bins=n_bins, t_start=0, t_end=duration_us, binary=binary)


def _root(path: PathLike | None) -> Path:
    root = resolve_dir(path, env=NMNIST_ENV, subdir="nmnist", what="N-MNIST folder", hint=_HINT)
    if (root / "NMNIST").is_dir() and not (root / "Train").is_dir():
        root = root / "NMNIST"
    if not root.is_dir():
        raise SwiftSpikeError(f"N-MNIST path {root} must be a folder with Train/ and Test/ subfolders")
    return root


def _frames(items, frames: ToFrames):
    x = frames_from_streams((read_nmnist_file(f) for f, _ in items), len(items), transform=frames)
    return x, torch.tensor([lab for _, lab in items], dtype=torch.long)


def load_nmnist(
    path: PathLike | None = None,
    *,
    n_bins: int = 10,
    duration_us: int | None = 300_000,
    limit_train: int | None = None,
    limit_test: int | None = None,
    seed: int = 0,
    binary: bool = False,
) -> Dataset:
    """N-MNIST as frames ``[N, n_bins, 2, 34, 34]`` (``temporal=True``), in memory.

    ``[0, duration_us)`` is split into ``n_bins`` equal bins (default 10 bins over the ~300 ms of
    three saccades; later events are dropped); ``duration_us=None`` bins each recording over its own
    length. ``limit_*`` draw that many files with ``seed`` (the full set is ~5.5 GB as float32 at 10
    bins: use the lazy :class:`NMNISTDataset` for it).
    """
    frames = nmnist_frames(n_bins, duration_us, binary)
    root = _root(path)
    tr = pick_subset(list_nmnist(root, "Train"), limit_train, seed)
    te = pick_subset(list_nmnist(root, "Test"), limit_test, seed)
    xtr, ytr = _frames(tr, frames)
    xte, yte = _frames(te, frames)
    return Dataset("nmnist", xtr, ytr, xte, yte, 10, temporal=True)


class NMNISTDataset(EventDataset):
    """N-MNIST as a map-style ``torch`` dataset that reads one ``.bin`` file per item.

    ``dataset[i]`` is ``(transform(events), label)``: by default (``transform="frames"``) the frames of
    :func:`load_nmnist` with the same options, with ``transform=None`` Tonic-style events
    (:data:`~swiftspike.data.events.NMNIST_DTYPE`), or any callable such as a Tonic transform.
    ``split`` is ``"train"`` or ``"test"``; ``limit`` draws that many files with ``seed`` (the ones
    :func:`load_nmnist` draws). Only the file list is built up front.
    """

    sensor_size = NMNIST_SENSOR
    n_classes = 10

    def __init__(
        self,
        path: PathLike | None = None,
        split: str = "train",
        *,
        transform: Any = "frames",
        target_transform: Callable | None = None,
        n_bins: int = 10,
        duration_us: int | None = 300_000,
        binary: bool = False,
        limit: int | None = None,
        seed: int = 0,
    ) -> None:
        choose("N-MNIST split", split, ("train", "test"))
        frames = nmnist_frames(n_bins, duration_us, binary)
        self.files = pick_subset(list_nmnist(_root(path), split.capitalize()), limit, seed)
        super().__init__([lab for _, lab in self.files], transform, target_transform, frames)

    def events(self, index: int) -> np.ndarray:
        return read_nmnist_file(self.files[index][0])
