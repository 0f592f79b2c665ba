r"""Losses on time-major network outputs ``[T, B, C]``.

* ``count``: cross-entropy of spike counts, :math:`\mathrm{CE}(\sum_t s_t, y)`;
* ``rate``: mean over steps of per-step cross-entropy, :math:`\tfrac1T\sum_t \mathrm{CE}(s_t, y)`;
* ``membrane``: cross-entropy of the time-mean of an analog readout;
* spike regulariser: :math:`\lambda \cdot` mean spikes per neuron per step over recorded layers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import choose

LOSSES = ("count", "rate", "membrane")


def ce_count_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.sum(0), y)


def ce_rate_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    T = out.shape[0]
    return F.cross_entropy(out.flatten(0, 1), y.repeat(T))


def ce_membrane_loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.mean(0), y)


def get_loss(name: str):
    choose("loss", name, LOSSES)
    return {"count": ce_count_loss, "rate": ce_rate_loss, "membrane": ce_membrane_loss}[name]
