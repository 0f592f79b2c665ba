r"""Surrogate-gradient fine-tuning (BPTT) of a converted SNN at a few time steps.

All weights, thresholds :math:`\theta_l`, leaks (:math:`\tau_l` of LIF neurons, :math:`\beta = e^{-1/\tau}`),
spike amplitudes :math:`A_l` and input shifts are trained through time with a rectangular surrogate
(:math:`\partial s/\partial h \approx \tfrac1{\theta_l}[|h - \theta_l| < \theta_l/2]`), cross-entropy on the
time-averaged output of the accumulating readout, direct input encoding.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import check_positive, check_positive_int
from ..training.progress import progress
from ..training.trainer import seed_everything
from .convert import ConvertedSNN, make_trainable


def snn_accuracy(snn: ConvertedSNN, x: torch.Tensor, y: torch.Tensor, T: int, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``snn`` run for ``T`` steps."""
    snn.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            correct += (snn(x[i:i + batch_size], T=T).argmax(1) == y[i:i + batch_size]).sum().item()
    return correct / max(1, len(x))


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
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    g = torch.Generator().manual_seed(seed)
    losses = []
    for ep in range(epochs):
        snn.train()
        perm = torch.randperm(len(x), generator=g)
        tot, n = 0.0, 0
        for i in progress(range(0, len(x), batch_size), desc=f"fine-tune T={T} {ep + 1}/{epochs}",
                          enabled=show_progress):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(snn(x[idx], T=T), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                for a in snn.spike_layers:
                    a.neuron.v_threshold.clamp_(min=1e-3)
                    if a.neuron.tau.requires_grad:
                        a.neuron.tau.clamp_(min=1.0)
            tot += loss.item() * len(idx)
            n += len(idx)
        sched.step()
        losses.append(tot / max(1, n))
    snn.eval()
    return losses
