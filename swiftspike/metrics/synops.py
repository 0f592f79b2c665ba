"""Synaptic-operation counting primitives (fan-outs of input masks).

An input element that is non-zero costs one operation per synapse it drives (its fan-out). The kind
is decided per sample and per input value: an element equal to 1 (a binary spike) costs accumulates
(ACs: add the weight), any other non-zero value costs multiply-accumulates (MACs). Zeros cost nothing
(event-driven). A binary sample is therefore charged ACs whatever else shares its batch. The same layer run once as an
ANN costs ``dense_macs`` = every input times its fan-out, computed once per sample.

Linear: fan-out = ``out_features``. Conv: exact, border-aware count obtained by convolving the
non-zero mask with a kernel of ones (``out_channels / groups`` outputs per covered position).

The two operation-count models built on these primitives (counted from events, analytical) are in
:mod:`swiftspike.metrics.opmodels`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from typing_extensions import TypeIs

Synapse = nn.Linear | nn.Conv1d | nn.Conv2d  # the synaptic layers every op count and engine supports


def is_synaptic(m: nn.Module) -> TypeIs[Synapse]:
    return isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))


def is_binary(x: torch.Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


@torch.no_grad()
def fanout_ops(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Operations triggered by the non-zero entries of ``x`` (``[N, ...]`` layer input), per row."""
    return _fanout(m, (x != 0).to(torch.float32))


@torch.no_grad()
def event_ops(m: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(acs, macs)`` per row of ``x`` (``[N, ...]`` layer input): the fan-out of the entries equal to 1
    and of the other non-zero entries."""
    ones = x == 1
    return _fanout(m, ones.to(torch.float32)), _fanout(m, ((x != 0) & ~ones).to(torch.float32))


def _fanout(m: nn.Module, mask: torch.Tensor) -> torch.Tensor:
    if isinstance(m, nn.Linear):
        return mask.flatten(1).sum(1) * m.out_features
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        conv = F.conv1d if isinstance(m, nn.Conv1d) else F.conv2d
        ones = torch.ones((1, m.in_channels, *m.kernel_size), device=mask.device)
        cover = conv(mask, ones, stride=m.stride, padding=m.padding, dilation=m.dilation)
        return cover.flatten(1).sum(1) * (m.out_channels // m.groups)
    raise TypeError(f"not a synaptic layer: {type(m).__name__}")


def dense_macs(m: nn.Module, x_one: torch.Tensor) -> float:
    """MACs of one ANN pass through ``m`` for a single input ``x_one`` (``[1, ...]``)."""
    return float(fanout_ops(m, torch.ones_like(x_one))[0])
