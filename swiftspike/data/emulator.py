r"""An event-camera emulator: static images become N-MNIST-like event streams (an emulation, not N-MNIST).

N-MNIST (Orchard et al. 2015) was recorded by moving an ATIS event camera in three saccades in front of
MNIST digits shown on a monitor. This module imitates that recording for machines without the files:

1. the image (e.g. 28 x 28) is moved across a 34 x 34 sensor along three straight saccades of
   ``saccade_us`` microseconds each, forming a triangle that returns to its start (offsets
   :data:`SACCADES`, in pixels, within ``[0, 34 - 28]``), rendered with bilinear interpolation and sampled
   every ``dt_us`` microseconds;
2. every pixel keeps a reference log intensity :math:`L_\text{ref}` (initialised at :math:`t = 0`); whenever
   :math:`L = \log(I + \epsilon)` has moved by the contrast threshold :math:`C` from it, the pixel emits an
   event of polarity ``1`` (brighter, ON) or ``0`` (darker, OFF) and the reference moves by :math:`\pm C`;
   a change of :math:`n C` within one sample interval gives :math:`n` events, timed by linear interpolation
   of :math:`L` inside the interval (integer microseconds);
3. the events come out as one Tonic-style structured array per image (:data:`~swiftspike.data.events.EVENT_DTYPE`,
   fields ``t, x, y, p``), sorted by time.

There is no sensor noise, no refractory period and no per-pixel threshold mismatch, so streams are
deterministic; real N-MNIST recordings differ (noise events, motion blur, monitor flicker, different
event rates), so results on the emulation are not results on N-MNIST.

:func:`load_emulated` turns MNIST-5k (``nmnist-sim``) or Fashion-MNIST (``fashion-sim``) into a temporal
:class:`~swiftspike.data.dataset.Dataset` of ``[N, T, 2, 34, 34]`` event-count frames, binned like the
N-MNIST reader (by default the first saccade only, 10 ms frames: ``T = 10``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..errors import SwiftSpikeError, check_positive, check_positive_int
from .dataset import Dataset
from .events import EVENT_DTYPE, frames_from_streams

SENSOR = (34, 34)
#: Image offsets (x, y) in pixels at the start and at the end of each saccade (a closed triangle).
SACCADES: tuple[tuple[float, float], ...] = ((0.0, 0.0), (3.0, 6.0), (6.0, 0.0), (0.0, 0.0))
#: Dataset names and the image set each emulates.
EMULATED = {"nmnist-sim": "mnist5k", "fashion-sim": "fashion-mnist"}


def _place(img: np.ndarray, iy: int, ix: int, H: int, W: int) -> np.ndarray:
    """``[N, H, W]`` canvas with ``img`` ``[N, h, w]`` at integer offset ``(iy, ix)`` (cropped at the border)."""
    N, h, w = img.shape
    out = np.zeros((N, H, W), dtype=img.dtype)
    y0, x0 = max(iy, 0), max(ix, 0)
    y1, x1 = min(iy + h, H), min(ix + w, W)
    if y1 > y0 and x1 > x0:
        out[:, y0:y1, x0:x1] = img[:, y0 - iy : y1 - iy, x0 - ix : x1 - ix]
    return out


def render(img: np.ndarray, ox: float, oy: float, sensor: Sequence[int] = SENSOR) -> np.ndarray:
    """Intensity ``[N, H, W]`` seen by the sensor when images ``[N, h, w]`` sit at offset ``(ox, oy)`` pixels
    (bilinear interpolation, zero outside the image)."""
    H, W = int(sensor[0]), int(sensor[1])
    ix, iy = math.floor(ox), math.floor(oy)
    fx, fy = ox - ix, oy - iy
    out = (1 - fy) * (1 - fx) * _place(img, iy, ix, H, W)
    if fx:
        out += (1 - fy) * fx * _place(img, iy, ix + 1, H, W)
    if fy:
        out += fy * (1 - fx) * _place(img, iy + 1, ix, H, W)
    if fx and fy:
        out += fy * fx * _place(img, iy + 1, ix + 1, H, W)
    return out


def saccade_offsets(t_us: np.ndarray, saccade_us: int, path: Sequence[tuple[float, float]] = SACCADES) -> np.ndarray:
    """Offsets ``[K, 2]`` (x, y) at times ``t_us``: constant-speed motion between the vertices of ``path``."""
    seg = np.minimum(t_us // saccade_us, len(path) - 2).astype(np.int64)
    frac = (t_us - seg * saccade_us) / saccade_us
    p = np.asarray(path, dtype=np.float64)
    return p[seg] + (p[seg + 1] - p[seg]) * frac[:, None]


def emulate(
    images,
    *,
    threshold: float = 0.3,
    log_eps: float = 0.1,
    dt_us: int = 1000,
    saccade_us: int = 100_000,
    n_saccades: int = 3,
    sensor: Sequence[int] = SENSOR,
    path: Sequence[tuple[float, float]] = SACCADES,
) -> list[np.ndarray]:
    """Event streams of images ``[N, h, w]`` (or ``[N, 1, h, w]``, values in ``[0, 1]``); see the module docstring.

    ``threshold`` is the contrast threshold :math:`C` (log units), ``log_eps`` the offset in
    :math:`\\log(I + \\epsilon)`, ``dt_us`` the sampling interval, ``n_saccades`` how many saccades of
    ``path`` to record (``1`` = the first only)."""
    img = np.asarray(images.numpy() if isinstance(images, torch.Tensor) else images, dtype=np.float64)
    if img.ndim == 4 and img.shape[1] == 1:
        img = img[:, 0]
    if img.ndim == 2:
        img = img[None]
    if img.ndim != 3 or img.shape[0] == 0:
        raise SwiftSpikeError(f"images must be [N, H, W] or [N, 1, H, W], got shape {tuple(np.shape(images))}")
    if not np.isfinite(img).all() or img.min() < 0 or img.max() > 1:
        raise SwiftSpikeError("image values must be finite and in [0, 1]")
    check_positive(threshold, "threshold")
    check_positive(log_eps, "log_eps")
    check_positive_int(dt_us, "dt_us")
    check_positive_int(saccade_us, "saccade_us")
    check_positive_int(n_saccades, "n_saccades")
    if n_saccades > len(path) - 1:
        raise SwiftSpikeError(f"the saccade path has {len(path) - 1} saccades, asked for {n_saccades}")
    H, W = int(sensor[0]), int(sensor[1])
    N = img.shape[0]
    times = np.arange(0, n_saccades * saccade_us + 1, dt_us, dtype=np.int64)
    if times[-1] != n_saccades * saccade_us:
        times = np.append(times, n_saccades * saccade_us)
    offs = saccade_offsets(times, saccade_us, path)
    L_prev = np.log(render(img, offs[0, 0], offs[0, 1], sensor=(H, W)) + log_eps)
    ref = L_prev.copy()
    chunks: list[tuple[np.ndarray, ...]] = []
    for k in range(1, len(times)):
        L = np.log(render(img, offs[k, 0], offs[k, 1], sensor=(H, W)) + log_eps)
        d = L - ref
        n = np.floor(np.abs(d) / threshold).astype(np.int64)
        nz = np.nonzero(n)
        if nz[0].size:
            cnt = n[nz]
            sign = np.sign(d[nz])
            ref[nz] += sign * cnt * threshold
            # m-th crossing (m = 1..cnt) at level ref_old + sign * m * C, timed inside the interval
            rep = np.repeat(np.arange(cnt.size), cnt)
            m = np.arange(rep.size) - np.repeat(np.cumsum(cnt) - cnt, cnt) + 1
            ref_old = ref[nz][rep] - sign[rep] * cnt[rep] * threshold
            level = ref_old + sign[rep] * m * threshold
            a, b = L_prev[nz][rep], L[nz][rep]
            with np.errstate(divide="ignore", invalid="ignore"):
                f = np.where(b != a, (level - a) / (b - a), 1.0)
            t = times[k - 1] + np.clip(f, 0.0, 1.0) * (times[k] - times[k - 1])
            chunks.append(
                (nz[0][rep], np.round(t).astype(np.int64), nz[2][rep], nz[1][rep], (sign[rep] > 0).astype(np.int8))
            )
        L_prev = L
    streams = []
    if chunks:
        img_id, t, x, y, p = (np.concatenate(c) for c in zip(*chunks))
        order = np.lexsort((t, img_id))
        img_id, t, x, y, p = img_id[order], t[order], x[order], y[order], p[order]
        bounds = np.searchsorted(img_id, np.arange(N + 1))
    else:
        bounds = np.zeros(N + 1, dtype=np.int64)
    for i in range(N):
        ev = np.zeros(int(bounds[i + 1] - bounds[i]), dtype=EVENT_DTYPE)
        if ev.size:
            sl = slice(bounds[i], bounds[i + 1])
            ev["t"], ev["x"], ev["y"], ev["p"] = t[sl], x[sl], y[sl], p[sl]
        streams.append(ev)
    return streams


def emulate_frames(
    images,
    *,
    first_saccade: bool = True,
    bin_us: int = 10_000,
    n_bins: int | None = None,
    binary: bool = False,
    chunk: int = 256,
    **kw,
) -> torch.Tensor:
    """Event-count frames ``[N, T, 2, 34, 34]`` of emulated streams: the first saccade only (default) or all
    three, in bins of ``bin_us`` (``T = duration / bin_us`` unless ``n_bins`` is given); ``kw`` go to
    :func:`emulate`."""
    check_positive_int(bin_us, "bin_us")
    saccade_us = int(kw.get("saccade_us", 100_000))
    n_sac = 1 if first_saccade else int(kw.pop("n_saccades", 3))
    kw["n_saccades"] = n_sac
    T = n_bins if n_bins is not None else -(-(n_sac * saccade_us) // bin_us)
    check_positive_int(T, "n_bins")
    img = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    N = img.shape[0]
    out: torch.Tensor | None = None
    for i0 in range(0, N, chunk):
        streams = emulate(img[i0 : i0 + chunk], **kw)
        fr = frames_from_streams(
            streams, len(streams), (SENSOR[1], SENSOR[0], 2), n_bins=T, bin_us=bin_us, t_start=0, binary=binary
        )
        if out is None:
            out = torch.zeros((N, *fr.shape[1:]), dtype=fr.dtype)
        out[i0 : i0 + len(streams)] = fr
    assert out is not None
    return out


def load_emulated(
    name: str,
    *,
    path: str | None = None,
    seed: int = 0,
    limit_train: int | None = None,
    limit_test: int | None = None,
    first_saccade: bool = True,
    bin_us: int = 10_000,
    n_bins: int | None = None,
    binary: bool = False,
    threshold: float = 0.3,
    log_eps: float = 0.1,
) -> Dataset:
    """``nmnist-sim`` (MNIST-5k) or ``fashion-sim`` (Fashion-MNIST, IDX files from ``path``) as emulated
    N-MNIST-like event frames ``[N, T, 2, 34, 34]`` (``temporal=True``); ``limit_*`` cap the images emulated."""
    from .mnist import load_fashion_mnist, load_mnist5k

    if name not in EMULATED:
        raise SwiftSpikeError(f"unknown emulated dataset {name!r}; choose one of: {', '.join(EMULATED)}")
    for lim, what in ((limit_train, "limit_train"), (limit_test, "limit_test")):
        if lim is not None:
            check_positive_int(lim, what)
    if name == "nmnist-sim":
        d = load_mnist5k(seed=seed, flatten=False).subset(n_train=limit_train, n_test=limit_test)
    else:
        d = load_fashion_mnist(path, limit_train=limit_train, limit_test=limit_test, flatten=False)
    kw: dict[str, Any] = dict(
        first_saccade=first_saccade, bin_us=bin_us, n_bins=n_bins, binary=binary, threshold=threshold, log_eps=log_eps
    )
    return Dataset(
        name,
        emulate_frames(d.x_train, **kw),
        d.y_train,
        emulate_frames(d.x_test, **kw),
        d.y_test,
        d.n_classes,
        temporal=True,
    )
