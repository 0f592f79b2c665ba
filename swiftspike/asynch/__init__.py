"""Asynchronous execution without layer synchronisation, and unlayered training."""
from .engine import AsyncConfig, AsyncEngine, AsyncGraph, as_graph, run_async
from .schedulers import MomentumScheduler, RandomScheduler, Scheduler, get_scheduler, select_top

__all__ = ["AsyncConfig", "AsyncEngine", "AsyncGraph", "as_graph", "run_async",
           "MomentumScheduler", "RandomScheduler", "Scheduler", "get_scheduler", "select_top"]
