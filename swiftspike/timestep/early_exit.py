"""Per-sample early exit for surrogate-trained swiftspike networks.

Accumulated evidence ``S_t = sum_{k<=t} o_k`` (spiking output; an LI readout is used as is). A sample
exits at the first step ``t`` with margin ``top1(S_t) - top2(S_t) >= threshold`` and is classified
as ``argmax S_t``; samples that never reach it run all ``T`` steps. ``threshold = inf`` is the
plain full-length prediction.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..engines.sync import run_sync
from ..errors import SwiftSpikeError, check_time_major
from ..metrics.report import running_scores


def margins(scores: torch.Tensor) -> torch.Tensor:
    """``[T, B]`` top-1 minus top-2 of ``scores [T, B, C]``."""
    top = scores.topk(2, dim=2).values
    return top[..., 0] - top[..., 1]


def early_exit(scores: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Predictions ``[B]`` and exit steps ``[B]`` (1-based, ``T`` when never confident)."""
    if scores.ndim != 3 or scores.shape[2] < 2:
        raise SwiftSpikeError(f"scores must be [T, B, C] with C >= 2, got {tuple(scores.shape)}")
    if isinstance(threshold, float) and math.isnan(threshold):
        raise SwiftSpikeError("threshold must not be NaN")
    B = scores.shape[1]
    hit = margins(scores) >= threshold  # [T, B]
    hit[-1] = True  # last step always decides
    exit_idx = hit.to(torch.int64).argmax(0)  # first True
    pred = scores[exit_idx, torch.arange(B)].argmax(1)
    return pred, exit_idx + 1


def exit_curve(
    output: torch.Tensor, y: torch.Tensor, thresholds: Sequence[float], *, spiking: bool = True
) -> list[dict[str, Any]]:
    """Accuracy and mean exit step for each threshold (``output [T, B, C]`` raw network output)."""
    scores = running_scores(output, spiking)
    T = scores.shape[0]
    rows = []
    for th in thresholds:
        pred, steps = early_exit(scores, float(th))
        rows.append(
            {
                "threshold": float(th),
                "accuracy": float((pred == y).float().mean()),
                "mean_steps": float(steps.float().mean()),
                "speedup": T / float(steps.float().mean()),
            }
        )
    return rows


@torch.no_grad()
def run_with_exit(net: nn.Module, x: torch.Tensor, threshold: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``net`` on time-major ``x [T, B, ...]`` with :func:`run_sync` and exit per sample.

    The engine is layer-synchronous, so the whole window is simulated and the exit is applied to
    the accumulated output; the exit step is what a step-wise deployment would need."""
    check_time_major(x, "x")
    from ..neurons.modules import reset

    reset(net)
    rec = run_sync(net, x, record=True)
    reset(net)
    return early_exit(running_scores(rec.output, rec.output_spiking), threshold)
