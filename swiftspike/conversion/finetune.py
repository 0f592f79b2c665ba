r"""Surrogate-gradient fine-tuning (BPTT) of a converted SNN at a few time steps.

All weights, thresholds :math:`\theta_l`, leaks (:math:`\tau_l` of LIF neurons, :math:`\beta = e^{-1/\tau}`),
spike amplitudes :math:`A_l` and input shifts are trained through time with a rectangular surrogate
(:math:`\partial s/\partial h \approx \tfrac1{\theta_l}[|h - \theta_l| < \theta_l/2]`), cross-entropy on the
time-averaged output of the accumulating readout, direct input encoding.
"""
from __future__ import annotations

import torch

from ..errors import check_positive, check_positive_int
from ..training.trainer import seed_everything
from .ann import batched_accuracy, fit_cross_entropy
from .convert import ConvertedSNN, make_trainable


def snn_accuracy(snn: ConvertedSNN, x: torch.Tensor, y: torch.Tensor, T: int, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``snn`` run for ``T`` steps."""
    snn.eval()
    return batched_accuracy(lambda xb: snn(xb, T=T), x, y, batch_size)


def finetune(snn: ConvertedSNN, x: torch.Tensor, y: torch.Tensor, *, T: int = 2, epochs: int = 1,
             batch_size: int = 64, lr: float = 1e-4, leak: bool = True, seed: int = 0,
             show_progress: bool = True) -> list[float]:
    """Fine-tune ``snn`` in place at ``T`` steps (BPTT; meant for T in {1, 2, 3}); returns the mean loss
    per epoch. ``leak=False`` keeps IF neurons (thresholds, amplitudes, shifts and weights still train)."""
    check_positive_int(T, "T")
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    check_positive(lr, "lr")
    seed_everything(seed)
    make_trainable(snn, leak=leak)
    snn.T = T
    params = [p for p in snn.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)

    def clamp() -> None:
        for a in snn.spike_layers:
            a.neuron.v_threshold.clamp_(min=1e-3)
            if a.neuron.tau.requires_grad:
                a.neuron.tau.clamp_(min=1.0)

    return fit_cross_entropy(snn, lambda xb: snn(xb, T=T), x, y, opt, epochs=epochs, batch_size=batch_size,
                             seed=seed, desc=f"fine-tune T={T}", after_step=clamp, show_progress=show_progress)
