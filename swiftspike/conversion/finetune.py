r"""Surrogate-gradient fine-tuning (BPTT) of a converted SNN at a few time steps.

All weights, thresholds :math:`\theta_l`, leaks (:math:`\tau_l` of LIF neurons, :math:`\beta = e^{-1/\tau}`),
spike amplitudes :math:`A_l` and input shifts are trained through time with a rectangular surrogate
(:math:`\partial s/\partial h \approx \tfrac1{\theta_l}[|h - \theta_l| < \theta_l/2]`), cross-entropy on the
time-averaged output of the accumulating readout, direct input encoding.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import check_positive_int
from ..training.trainer import Trainer, logits_record
from .ann import batched_accuracy, cosine_config
from .convert import ConvertedSNN, make_trainable


def snn_accuracy(snn: ConvertedSNN, x: torch.Tensor, y: torch.Tensor, T: int, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``snn`` run for ``T`` steps."""
    snn.eval()
    return batched_accuracy(lambda xb: snn(xb, T=T), x, y, batch_size)


def clamp_snn(snn: ConvertedSNN) -> None:
    """Keep thresholds >= 1e-3 and trainable leaks ``tau`` >= 1 (after each optimizer step)."""
    for a in snn.spike_layers:
        a.neuron.v_threshold.clamp_(min=1e-3)
        if a.neuron.tau.requires_grad:
            a.neuron.tau.clamp_(min=1.0)


def finetune(
    snn: ConvertedSNN,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    T: int = 2,
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 1e-4,
    leak: bool = True,
    seed: int = 0,
    show_progress: bool = True,
    **train: Any,
) -> list[float]:
    """Fine-tune ``snn`` in place at ``T`` steps (BPTT; meant for T in {1, 2, 3}): a
    :class:`~swiftspike.training.Trainer` with Adam, a cosine schedule and :func:`clamp_snn` after every
    step. Returns the mean loss per epoch. ``leak=False`` keeps IF neurons (thresholds, amplitudes, shifts
    and weights still train). Further keywords go to :class:`~swiftspike.training.TrainConfig`."""
    check_positive_int(T, "T")
    make_trainable(snn, leak=leak)
    snn.T = T
    cfg = cosine_config(snn, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=show_progress, **train)
    trainer = Trainer(
        snn,
        None,
        cfg,
        runner=lambda m, xb: logits_record(m(xb, T=T)),
        after_step=lambda m: clamp_snn(snn),
        desc=f"fine-tune T={T}",
    )
    history = trainer.fit((x, y))
    snn.eval()
    return [h["loss"] for h in history]
