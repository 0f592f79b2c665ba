"""Schedulers: which queued spikes a sample emits in the next forward step.

A scheduler gives every queued event a *priority* when it enters the queue; each forward step
emits the (at most) ``F`` queued events of highest priority per sample (:func:`select_top`).
Priorities are never differentiated.

* ``random``: uniform random priority, :math:`p \\sim U(0, 1)`.
* ``momentum``: the membrane value at the moment of crossing, :math:`p = h + \\epsilon u`,
  :math:`u \\sim U(0, 1)` a tiny tie-break; input events use their value (intensity).
"""
from __future__ import annotations

from typing import Optional

import torch

from ..errors import choose

SCHEDULERS = ("random", "momentum")


class Scheduler:
    """Base class: ``priority(h, generator)`` for network spikes, ``input_priority(x, generator)``."""

    name = "scheduler"

    def priority(self, h: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    def input_priority(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        return self.priority(x, generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _rand(like: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    if generator is None:
        return torch.rand(like.shape, dtype=like.dtype, device=like.device)
    return torch.rand(like.shape, dtype=like.dtype, generator=generator, device=generator.device).to(like.device)


class RandomScheduler(Scheduler):
    """Uniform random order."""

    name = "random"

    def priority(self, h, generator=None):
        return _rand(h, generator)


class MomentumScheduler(Scheduler):
    """Largest membrane at crossing first; ``eps`` scales the random tie-break."""

    name = "momentum"

    def __init__(self, eps: float = 1e-6) -> None:
        self.eps = float(eps)

    def priority(self, h, generator=None):
        return h.detach() + self.eps * _rand(h, generator)


def get_scheduler(name: "str | Scheduler") -> Scheduler:
    """Scheduler by name (``random``, ``momentum``) or pass an object through."""
    if isinstance(name, Scheduler):
        return name
    choose("scheduler", name, SCHEDULERS)
    return RandomScheduler() if name == "random" else MomentumScheduler()


def select_top(queued: torch.Tensor, prio: torch.Tensor, F: int) -> torch.Tensor:
    """Boolean mask ``[B, M]`` of the at most ``F`` queued entries of highest priority per row."""
    M = queued.shape[1]
    if F >= M:
        return queued.clone()
    p = torch.where(queued, prio, torch.full_like(prio, -torch.inf))
    idx = p.topk(F, dim=1).indices
    sel = torch.zeros_like(queued)
    sel.scatter_(1, idx, True)
    return sel & queued
