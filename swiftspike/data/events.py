"""Event streams as structured numpy arrays and their binning into dense frames.

An event stream is a 1-D numpy structured array with fields ``t`` (microseconds), ``x`` and, for 2-D
sensors, ``y`` (pixel / channel) and ``p`` (polarity 0/1), the layout Tonic uses, so Tonic's transforms
apply to it. The file readers return Tonic's own dtypes (:data:`SHD_DTYPE`, :data:`NMNIST_DTYPE`,
:data:`DVS_GESTURE_DTYPE`); :func:`make_events` builds the generic :data:`EVENT_DTYPE`. 1-D sensors such
as the SHD cochlea use ``x`` as the channel.

:func:`events_to_frames` counts events in time bins: bin ``k`` covers
``[t_start + k*w, t_start + (k+1)*w)`` with ``w = bin_us`` or ``(t_end - t_start) / n_bins``,
giving ``[T, P, H, W]`` for a ``(W, H, P)`` sensor or ``[T, W]`` for a 1-D ``(W,)`` sensor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import SwiftSpikeError, check_positive_int

EVENT_DTYPE = np.dtype([("t", np.int64), ("x", np.int16), ("y", np.int16), ("p", np.int8)])
#: Tonic's event dtypes (``tonic.datasets.SHD/NMNIST/DVSGesture.dtype``), returned by swiftspike's readers.
SHD_DTYPE = np.dtype([("t", np.int64), ("x", np.int64), ("p", np.int64)])
NMNIST_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])
DVS_GESTURE_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("p", bool), ("t", np.int64)])


def make_events(t, x, y=None, p=None) -> np.ndarray:
    """Build an :data:`EVENT_DTYPE` array from columns (``y`` and ``p`` default to 0 / 1)."""
    t = np.asarray(t)
    n = t.shape[0] if t.ndim else 1
    ev = np.zeros(n, dtype=EVENT_DTYPE)
    ev["t"], ev["x"] = t, x
    ev["y"] = 0 if y is None else y
    ev["p"] = 1 if p is None else p
    return ev


def _check_events(events: np.ndarray) -> np.ndarray:
    if (
        not isinstance(events, np.ndarray)
        or events.dtype.names is None
        or not {"t", "x"} <= set(events.dtype.names)
        or events.ndim != 1
    ):
        raise SwiftSpikeError("events must be a 1-D numpy structured array with fields t, x (and y, p)")
    return events


def events_to_frames(
    events: np.ndarray,
    sensor_size: Sequence[int],
    *,
    n_bins: int | None = None,
    bin_us: int | None = None,
    t_start: int = 0,
    t_end: int | None = None,
    binary: bool = False,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Bin an event stream into spike-count frames.

    ``sensor_size`` is ``(W,)`` for 1-D sensors (output ``[T, W]``) or ``(W, H, P)`` (output
    ``[T, P, H, W]``). Give ``n_bins`` (equal bins over ``[t_start, t_end)``, ``t_end`` defaulting
    to the last event time + 1), ``bin_us`` (``T = ceil((t_end - t_start) / bin_us)``), or both
    (``T = n_bins`` bins of ``bin_us``, ``t_end`` then ignored). Events outside the window are
    dropped; with ``binary`` counts are clipped to 1.
    """
    _check_events(events)
    size = tuple(int(s) for s in sensor_size)
    if len(size) not in (1, 3) or any(s <= 0 for s in size):
        raise SwiftSpikeError(f"sensor_size must be (W,) or (W, H, P) with positive sizes, got {tuple(sensor_size)}")
    if n_bins is None and bin_us is None:
        raise SwiftSpikeError("events_to_frames needs n_bins or bin_us")
    if n_bins is not None:
        check_positive_int(n_bins, "n_bins")
    if bin_us is not None:
        check_positive_int(bin_us, "bin_us")
    t = events["t"].astype(np.int64)
    if bin_us is not None and n_bins is not None:
        t_end = t_start + n_bins * bin_us
    elif t_end is None:
        t_end = int(t.max()) + 1 if len(t) else t_start + 1
    if t_end <= t_start:
        raise SwiftSpikeError(f"t_end ({t_end}) must be after t_start ({t_start})")
    span = t_end - t_start
    if n_bins is not None:
        T = n_bins
    else:
        assert bin_us is not None  # one of them is given (checked above)
        T = -(-span // bin_us)
    keep = (t >= t_start) & (t < t_end)
    rel = t[keep] - t_start
    b = rel // bin_us if bin_us is not None else rel * T // span
    x = events["x"][keep].astype(np.int64)
    W = size[0]
    shape: tuple[int, ...]
    if len(size) == 1:
        cells, idx = W, x
        bad = (x < 0) | (x >= W)
        shape = (T, W)
    else:
        _, H, P = size
        names = events.dtype.names or ()
        y = events["y"][keep].astype(np.int64) if "y" in names else np.zeros_like(x)
        p = events["p"][keep].astype(np.int64) if "p" in names else np.zeros_like(x)
        if P == 1:
            p = np.zeros_like(p)
        bad = (x < 0) | (x >= W) | (y < 0) | (y >= H) | (p < 0) | (p >= P)
        cells, idx = P * H * W, (p * H + y) * W + x
        shape = (T, P, H, W)
    if bad.any():
        raise SwiftSpikeError(f"events fall outside the sensor of size {size}")
    counts = np.bincount(b * cells + idx, minlength=T * cells)
    if binary:
        counts = np.minimum(counts, 1)
    return torch.from_numpy(counts.reshape(shape)).to(dtype)


def downsample_events(events: np.ndarray, factor: int) -> np.ndarray:
    """Spatial pooling: integer-divide ``x`` and ``y`` by ``factor`` (a ``factor x factor`` sum pool)."""
    _check_events(events)
    check_positive_int(factor, "spatial factor")
    out = events.copy()
    out["x"] //= factor
    if "y" in out.dtype.names:
        out["y"] //= factor
    return out


def stack_frames(streams: Sequence[np.ndarray], sensor_size: Sequence[int], **kw) -> torch.Tensor:
    """Bin several streams with the same settings into ``[N, T, ...]`` (``kw`` as in :func:`events_to_frames`)."""
    if len(streams) == 0:
        raise SwiftSpikeError("no event streams to bin")
    return torch.stack([events_to_frames(ev, sensor_size, **kw) for ev in streams])


class ToFrames:
    """A transform (callable on one event stream) that bins it with :func:`events_to_frames`.

    ``downsample`` first integer-divides ``x`` (and ``y``) by that factor (a sum pool); with
    ``align_start`` the window starts at the stream's first event instead of ``t_start`` (``t_end``
    moves with it). Other keywords as in :func:`events_to_frames`. The eager loaders and the lazy
    datasets of SHD, N-MNIST and DVS Gesture bin through the same object, so both give the same frames.
    """

    def __init__(
        self,
        sensor_size: Sequence[int],
        *,
        n_bins: int | None = None,
        bin_us: int | None = None,
        t_start: int = 0,
        t_end: int | None = None,
        binary: bool = False,
        align_start: bool = False,
        downsample: int = 1,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        check_positive_int(downsample, "spatial factor")
        self.sensor_size = tuple(int(s) for s in sensor_size)
        self.kw: dict[str, Any] = {
            "n_bins": n_bins,
            "bin_us": bin_us,
            "t_start": t_start,
            "t_end": t_end,
            "binary": binary,
            "dtype": dtype,
        }
        self.align_start = align_start
        self.downsample = downsample

    def __call__(self, events: np.ndarray) -> torch.Tensor:
        ev = downsample_events(events, self.downsample) if self.downsample > 1 else events
        kw = dict(self.kw)
        if self.align_start and len(ev):
            kw["t_start"] = int(ev["t"].min())
            if kw["t_end"] is not None:
                kw["t_end"] = kw["t_start"] + (kw["t_end"] - self.kw["t_start"])
        return events_to_frames(ev, self.sensor_size, **kw)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.kw.items() if v is not None and k != "dtype")
        return (
            f"ToFrames(sensor_size={self.sensor_size}, {opts}, align_start={self.align_start}, "
            f"downsample={self.downsample})"
        )


class EventDataset(torch.utils.data.Dataset):
    """Base of the lazy event-file datasets: a map-style ``torch.utils.data.Dataset`` whose item ``i`` is
    ``(transform(events_i), target_transform(label_i))``, reading only recording ``i`` from disk.

    ``transform``: ``"frames"`` (the dataset's own binning, the same frames as its eager loader), ``None``
    (the Tonic-style structured events) or any callable on events (e.g. a Tonic transform). Subclasses set
    ``sensor_size`` (Tonic's ``(W, H, P)``) and ``n_classes`` and implement :meth:`events`.
    """

    sensor_size: tuple[int, int, int] = (1, 1, 1)
    n_classes: int = 0

    def __init__(
        self, targets: Sequence[int], transform: Any, target_transform: Callable | None, frames: ToFrames
    ) -> None:
        if isinstance(transform, str) and transform != "frames":
            raise SwiftSpikeError(f"transform must be 'frames', None or a callable, got {transform!r}")
        if transform is not None and not isinstance(transform, str) and not callable(transform):
            raise SwiftSpikeError(f"transform must be 'frames', None or a callable, got {type(transform).__name__}")
        self.targets = list(targets)
        self.frames = frames
        self.transform = frames if isinstance(transform, str) else transform
        self.target_transform = target_transform

    def __len__(self) -> int:
        return len(self.targets)

    def events(self, index: int) -> np.ndarray:  # pragma: no cover - overridden
        """Read recording ``index`` (0 <= index < len) as a structured event array."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"{type(self).__name__} indices must be integers, got {type(index).__name__}")
        n = len(self)
        i = int(index) + n if index < 0 else int(index)
        if not 0 <= i < n:
            raise IndexError(f"index {index} is out of range for {type(self).__name__} of length {n}")
        ev = self.events(i)
        x = ev if self.transform is None else self.transform(ev)
        y = self.targets[i]
        return x, (y if self.target_transform is None else self.target_transform(y))


def pick_subset(items: Sequence, limit: int | None, seed: int) -> list:
    """All ``items``, or ``limit`` of them drawn without replacement with ``seed`` (kept in order)."""
    items = list(items)
    if limit is None or limit >= len(items):
        return items
    check_positive_int(limit, "limit")
    idx = np.sort(np.random.default_rng(seed).choice(len(items), size=limit, replace=False))
    return [items[i] for i in idx]


def frames_from_streams(
    streams,
    n: int,
    sensor_size: Sequence[int] | None = None,
    *,
    align_start: bool = False,
    transform: ToFrames | None = None,
    **bin_kw,
) -> torch.Tensor:
    """Bin ``n`` streams (any iterable, consumed one at a time to save memory) into ``[n, T, ...]`` with
    ``transform`` (a :class:`ToFrames`), or one built from ``sensor_size``, ``align_start`` and ``bin_kw``.

    With ``align_start`` each stream's window starts at its first event instead of ``t_start``.
    """
    if transform is None:
        if sensor_size is None:
            raise SwiftSpikeError("frames_from_streams needs a sensor_size or a transform")
        transform = ToFrames(sensor_size, align_start=align_start, **bin_kw)
    out: torch.Tensor | None = None
    for i, ev in enumerate(streams):
        fr = transform(ev)
        if out is None:
            out = torch.zeros((n, *fr.shape), dtype=fr.dtype)
        if fr.shape != out.shape[1:]:
            raise SwiftSpikeError(
                f"sample {i} gives {fr.shape[0]} time bins but the first gave {out.shape[1]}; "
                "set n_bins (or both bin_us and n_bins) so every sample has the same length"
            )
        out[i] = fr
    if out is None:
        raise SwiftSpikeError("no event samples to bin")
    return out
