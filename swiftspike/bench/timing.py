"""Small timing helpers shared by the benchmarks."""
from __future__ import annotations

import time
from typing import Callable

import torch


def _once(fn: Callable[[], object]) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def _median(times: list[float]) -> float:
    times = sorted(times)
    return times[len(times) // 2]


def time_call(fn: Callable[[], object], *, repeats: int = 3, warmup: int = 1) -> float:
    """Median wall time in seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    return _median([_once(fn) for _ in range(repeats)])


def time_interleaved(fns: dict[str, Callable[[], object]], *, repeats: int = 3, warmup: int = 1) -> dict[str, float]:
    """Median wall time of each ``fns[name]()``, the runs interleaved round-robin (``a b c a b c ...``)
    so that drift in machine load (other processes, thermal state) hits every contestant alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_once(fn))
    return {name: _median(t) for name, t in times.items()}
