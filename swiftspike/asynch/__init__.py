"""Asynchronous execution without layer synchronisation, and unlayered training.

Modules: :mod:`.graph` (populations and connections), :mod:`.state` (what a sample carries),
:mod:`.currents` (dense and event-gathered synaptic currents), :mod:`.engine` (the forward-step loop),
:mod:`.tracking` (metrics), :mod:`.schedulers`, :mod:`.config` (options and protocol presets),
:mod:`.training` (unlayered training)."""

from .config import ASYNCTORCH_NEURON, PROTOCOLS, AsyncConfig
from .engine import AsyncEngine, run_async
from .graph import AsyncGraph, as_graph
from .schedulers import MomentumScheduler, RandomScheduler, Scheduler, get_scheduler, select_top, select_top_indices
from .state import AsyncState
from .tracking import frame_latency

__all__ = [
    "ASYNCTORCH_NEURON",
    "PROTOCOLS",
    "AsyncConfig",
    "AsyncEngine",
    "AsyncGraph",
    "AsyncState",
    "MomentumScheduler",
    "RandomScheduler",
    "Scheduler",
    "as_graph",
    "frame_latency",
    "get_scheduler",
    "run_async",
    "select_top",
    "select_top_indices",
]
