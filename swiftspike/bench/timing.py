"""Small timing helpers shared by the benchmarks.

``clock="wall"`` (default) measures elapsed time; ``clock="cpu"`` measures the CPU time of this process
(``time.process_time``), which on a shared machine is far less disturbed by other processes than wall
time. It counts every thread of the process, so it equals the work done only with one torch thread, and
it does not see GPU time: use it for single-threaded CPU runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import torch

from ..errors import SwiftSpikeError

CLOCKS = ("wall", "cpu")


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _once(fn: Callable[[], object], clock: str = "wall") -> float:
    now = time.process_time if clock == "cpu" else time.perf_counter
    _sync()
    t0 = now()
    fn()
    _sync()
    return now() - t0


def _median(times: list[float]) -> float:
    times = sorted(times)
    return times[len(times) // 2]


def _check_clock(clock: str) -> None:
    if clock not in CLOCKS:
        raise SwiftSpikeError(f"unknown clock {clock!r}; choose one of: {', '.join(CLOCKS)}")


def time_call(fn: Callable[[], object], *, repeats: int = 3, warmup: int = 1, clock: str = "wall") -> float:
    """Median time in seconds of ``fn()`` over ``repeats`` runs after ``warmup`` runs."""
    _check_clock(clock)
    for _ in range(warmup):
        fn()
    return _median([_once(fn, clock) for _ in range(repeats)])


def time_interleaved(
    fns: Mapping[str, Callable[[], object]], *, repeats: int = 3, warmup: int = 1, clock: str = "wall"
) -> dict[str, float]:
    """Median time of each ``fns[name]()``, the runs interleaved round-robin (``a b c a b c ...``)
    so that drift in machine load (other processes, thermal state) hits every contestant alike."""
    _check_clock(clock)
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(_once(fn, clock))
    return {name: _median(t) for name, t in times.items()}
