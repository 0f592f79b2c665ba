"""Data-parallel training on ``torch.distributed`` (one process per device, launched by ``torchrun``).

``torchrun --nproc-per-node N ...`` starts ``N`` processes and tells each its ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``. :func:`setup` reads them, joins the process group
(``nccl`` on CUDA, ``gloo`` on the CPU) and picks the device; the :class:`~swiftspike.training.Trainer`
then wraps the model's forward in ``DistributedDataParallel``, which averages the gradients of all
ranks in the backward pass. Rank 0 alone writes checkpoints, metric logs and reports (:func:`is_main`).
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from ..errors import SwiftSpikeError

MODES = ("auto", "off")


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_info() -> DistInfo:
    """The process's place in a ``torchrun`` launch (one process of one when not launched so)."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    try:
        return DistInfo(
            int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))
        )
    except ValueError:
        raise SwiftSpikeError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (as torchrun sets them)") from None


def is_main() -> bool:
    """Whether this process is rank 0 (or the only process): the one that writes files and reports."""
    return env_info().is_main


def setup(mode: str, device_type: str) -> DistInfo:
    """Join the process group when launched by ``torchrun`` with more than one process (``mode='auto'``)."""
    if mode not in MODES:
        raise SwiftSpikeError(f"unknown distributed mode {mode!r}; choose one of: {', '.join(MODES)}")
    info = env_info()
    if mode == "off" or not info.enabled:
        return DistInfo()
    if not dist.is_available():
        raise SwiftSpikeError("this torch build has no torch.distributed; run in one process")
    if not dist.is_initialized():
        missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
        if missing:
            raise SwiftSpikeError(
                f"WORLD_SIZE={info.world_size} but {' and '.join(missing)} is not set; launch with torchrun"
            )
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        atexit.register(_shutdown)
    return env_info()


def _shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class RunModule(nn.Module):
    """``forward(fn, *args) = fn(module, *args)``: lets ``DistributedDataParallel`` see every forward the
    trainer makes through any runner (the layer-synchronous engine, the async engine, a converted SNN ...)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, fn: Callable[..., Any], *args: Any) -> Any:  # type: ignore[override]
        return fn(self.module, *args)


def wrap(model: nn.Module, device: torch.device, find_unused_parameters: bool = False) -> nn.Module:
    """``DistributedDataParallel`` around a :class:`RunModule` of ``model`` (parameters broadcast from rank 0)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    return DDP(RunModule(model), device_ids=ids, find_unused_parameters=find_unused_parameters)


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sums of ``values`` over all ranks (the values themselves in one process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def average_gradients(params: Iterable[torch.Tensor]) -> None:
    """Average ``.grad`` over all ranks (for steps whose several backward passes DDP cannot follow)."""
    world = dist.get_world_size()
    for p in params:
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad.div_(world)


def agree(flag: bool, device: torch.device) -> tuple[bool, bool]:
    """``(all ranks say True, any rank says True)``."""
    n = all_reduce_sum([float(flag)], device)[0]
    world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
    return n == world, n > 0
