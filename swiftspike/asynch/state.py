"""State of the asynchronous engine: what a sample carries between frames (:class:`AsyncState`), what a
frame works on (:class:`FrameState`) and what each forward step leaves for the metrics (:class:`StepTrace`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

#: Per-frame observables (``[T, B]`` each, ``nan`` where the frame has no such event) in ``RunRecord.stats``.
FRAME_STATS = (
    "frame_spikes",
    "frame_steps_to_first_output",
    "frame_spikes_to_first_output",
    "frame_steps_to_first_correct",
    "frame_spikes_to_first_correct",
)


class AsyncState:
    """Per-sample engine state carried between frames (explicit, so truncated training can detach it).

    ``v`` ``[B, N]`` membranes; ``stopped`` samples ended by the whole-sample stop rule; counters and
    first-event / decision metrics ``[B]`` (float64, ``nan`` = not yet); ``frame`` lists of per-frame
    ``[B]`` observables (:data:`FRAME_STATS`)."""

    def __init__(self, B: int, N: int, M: int, dtype, device) -> None:
        f64 = dict(dtype=torch.float64, device=device)
        nan = lambda: torch.full((B,), math.nan, **f64)
        self.v = torch.zeros(B, N, dtype=dtype, device=device)
        self.stopped = torch.zeros(B, dtype=torch.bool, device=device)
        self.steps = torch.zeros(B, **f64)
        self.spikes = torch.zeros(B, **f64)
        self.first_out_step = nan()
        self.first_out_spikes = nan()
        self.first_correct_spikes = nan()
        self.dec_step = nan()
        self.dec_spikes = nan()
        self.correct_prev = torch.zeros(B, dtype=torch.bool, device=device)
        self.score: torch.Tensor | None = None  # running class evidence [B, C]
        self.queue_sum = torch.zeros(B, **f64)
        self.queue_max = torch.zeros(B, **f64)
        self.truncated = torch.zeros(B, **f64)
        self.frames_cut = torch.zeros(B, **f64)
        self.max_emitted = torch.zeros(B, **f64)
        self.run_out: torch.Tensor | None = None  # differentiable running output (record_step_outputs)
        self.step_outputs: list[torch.Tensor] = []
        self.step_mask: list[torch.Tensor] = []
        self.frame: dict[str, list[torch.Tensor]] = {k: [] for k in FRAME_STATS}
        self.context: Any = None  # per-run tables of the engine (weights transposed, kernel groups)

    def detach_(self) -> None:
        self.v = self.v.detach()
        if self.run_out is not None:
            self.run_out = self.run_out.detach()
        if self.score is not None:
            self.score = self.score.detach()
        self.context = None  # rebuilt from the (possibly updated) parameters


@dataclass
class FrameState:
    """Working tensors of one frame (``Q`` queue entries: the network's neurons, preceded by the inputs
    when they are queued).

    ``active`` ``[B]`` samples still running this frame (``None``: all, no stop rule); ``fresh`` ``[B, P]``
    populations not yet reached in the frame (they take their leak and bias with their first event);
    ``locked`` ``[B, N]`` refractory neurons; ``key`` ``[B, Q]`` the priority of each queued event
    (``-inf``: not queued); ``q`` ``[B, Q]`` the queued event values (``None`` when every event has value 1
    and no gradient is needed); ``pend`` ``[B, N]`` the currents of the emitted events, ``hit`` ``[B, P]``
    the populations they reach and ``busy`` ``[B]`` the samples with queued events or pending currents;
    ``needs`` neurons waiting to be evaluated (sync gate); ``held`` gradient carriers for not-yet-reached
    neurons; ``s_acc`` the frame's spikes per neuron."""

    v: torch.Tensor
    active: torch.Tensor | None
    fresh: torch.Tensor
    locked: torch.Tensor
    key: torch.Tensor
    q: torch.Tensor | None
    pend: torch.Tensor
    hit: torch.Tensor
    busy: torch.Tensor
    s_acc: torch.Tensor
    needs: torch.Tensor | None = None
    held: torch.Tensor | None = None
    fresh_left: bool = True  # host flag: some population may still be fresh (else skip settle / leak)
    steps: torch.Tensor | None = None  # [B] forward steps taken in this frame (stop rules)
    first_out: torch.Tensor | None = None  # [B] frame step of the first output spike (per-frame stop)
    steps_total: torch.Tensor | None = None  # [B] forward steps since the run started (whole-sample stop)
    first_out_total: torch.Tensor | None = None
    frame_cut: torch.Tensor | None = None  # [B] cut by the per-frame stop


@dataclass
class StepTrace:
    """What every forward step of a frame leaves for the frame-end metrics (detached, ``[B]`` or
    ``[B, C]`` per step)."""

    stepped: list[torch.Tensor] = field(default_factory=list)
    spikes: list[torch.Tensor] = field(default_factory=list)
    out: list[torch.Tensor] = field(default_factory=list)  # output spikes (bool) or LI membrane
    qlen: list[torch.Tensor] = field(default_factory=list)
    emitted: list[torch.Tensor] = field(default_factory=list)
