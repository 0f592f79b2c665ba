"""Schedulers: which queued spikes a sample emits in the next forward step.

A scheduler gives every queued event a *priority* when it enters the queue; each forward step
emits the (at most) ``F`` queued events of highest priority per sample (:func:`select_top_indices`).
Priorities are never differentiated.

* ``random``: uniform random priority, :math:`p \\sim U(0, 1)`, drawn at enqueue; with ``redraw=True``
  every queued event draws a fresh priority at every forward step (as the asynctorch random
  scheduler), so an event that waited has a new chance at each step.
* ``momentum``: the membrane value at the moment of crossing, :math:`p = h + \\epsilon u`,
  :math:`u \\sim U(0, 1)` a tiny tie-break; input events use their value (intensity).
"""

from __future__ import annotations

import torch

from ..errors import choose

SCHEDULERS = ("random", "momentum")


class Scheduler:
    """Base class: ``priority(h, generator)`` for network spikes, ``input_priority(x, generator)``; a
    scheduler with ``redraw = True`` gets ``redraw_priority(prio, generator)`` before every selection."""

    name = "scheduler"
    redraw = False
    #: dtype of the priorities (``None``: the input's dtype)
    dtype: torch.dtype | None = None

    def priority(self, h: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    def input_priority(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.priority(x, generator)

    def redraw_priority(self, prio: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return prio

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _rand(like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    if generator is None:
        return torch.rand(like.shape, dtype=like.dtype, device=like.device)
    return torch.rand(like.shape, dtype=like.dtype, generator=generator, device=generator.device).to(like.device)


class RandomScheduler(Scheduler):
    """Uniform random order; ``redraw=True`` draws new priorities for every queued event at every step."""

    name = "random"

    def __init__(self, redraw: bool = False) -> None:
        self.redraw = bool(redraw)

    def priority(self, h, generator=None):
        return _rand(h, generator)

    def redraw_priority(self, prio, generator=None):
        return _rand(prio, generator) if self.redraw else prio

    def __repr__(self) -> str:
        return f"RandomScheduler(redraw={self.redraw})"


class MomentumScheduler(Scheduler):
    """Largest membrane at crossing first; ``eps`` scales the random tie-break."""

    name = "momentum"

    def __init__(self, eps: float = 1e-6) -> None:
        self.eps = float(eps)

    def priority(self, h, generator=None):
        return h.detach() + self.eps * _rand(h, generator)


def get_scheduler(name: str | Scheduler) -> Scheduler:
    """Scheduler by name (``random``, ``momentum``) or pass an object through."""
    if isinstance(name, Scheduler):
        return name
    choose("scheduler", name, SCHEDULERS)
    return RandomScheduler() if name == "random" else MomentumScheduler()


def select_top_indices(queued: torch.Tensor, prio: torch.Tensor, F: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The at most ``F`` queued entries of highest priority per row of ``[B, M]``: indices ``[B, K]``
    (``K = min(F, M)``) and a mask ``[B, K]`` of those that are really queued (rows with fewer than ``F``
    queued entries are padded with unqueued indices)."""
    B, M = queued.shape
    if F >= M:
        return torch.arange(M, device=queued.device).expand(B, M), queued
    p = torch.where(queued, prio, torch.full_like(prio, -torch.inf))
    idx = p.topk(F, dim=1).indices
    return idx, queued.gather(1, idx)


def select_top(queued: torch.Tensor, prio: torch.Tensor, F: int) -> torch.Tensor:
    """Boolean mask ``[B, M]`` of the at most ``F`` queued entries of highest priority per row."""
    idx, ok = select_top_indices(queued, prio, F)
    return torch.zeros_like(queued).scatter(1, idx, ok)
