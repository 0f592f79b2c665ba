"""Pure trace and STDP update functions (explicit state, no modules).

Traces (one per pre- and post-synaptic neuron), dt = 1 step::

    x_t = x_{t-1} * exp(-dt / tau_trace) + s_t                   (additive trace)

Pair-based trace STDP ("post-pre"), weights ``w[pre, post]``::

    on a post spike:  dw += nu_post * x_pre  (outer) s_post      (potentiation)
    on a pre spike:   dw -= nu_pre  * s_pre  (outer) x_post      (depression)

Weight-dependent (soft-bound) form multiplies potentiation by ``(w_max - w)`` and depression
by ``(w - w_min)``. With a batch of samples the per-sample updates are summed (``reduce="sum"``,
first-order equal to presenting the samples one after another) or averaged (``"mean"``).
"""

from __future__ import annotations

import math

import torch

from ..errors import SwiftSpikeError

RULES = ("pair", "soft")


def trace_step(x: torch.Tensor, s: torch.Tensor, tau: float, dt: float = 1.0) -> torch.Tensor:
    """``x_t = x_{t-1} exp(-dt/tau) + s_t``."""
    return x * math.exp(-dt / tau) + s


def stdp_update(
    w: torch.Tensor,
    s_pre: torch.Tensor,
    s_post: torch.Tensor,
    x_pre: torch.Tensor,
    x_post: torch.Tensor,
    nu_pre: float,
    nu_post: float,
    rule: str = "pair",
    w_min: float = 0.0,
    w_max: float = 1.0,
    reduce: str = "sum",
) -> torch.Tensor:
    """Weight change ``dw [pre, post]`` for one step; inputs are ``[B, pre]`` / ``[B, post]``.

    ``x_pre``/``x_post`` are the traces *including* this step's spikes (as returned by
    :func:`trace_step`); potentiation uses the pre trace at post spikes, depression the post trace at
    pre spikes.
    """
    if rule not in RULES:
        raise SwiftSpikeError(f"unknown STDP rule {rule!r}; choose one of: {', '.join(RULES)}")
    if reduce not in ("sum", "mean"):
        raise SwiftSpikeError(f"reduce must be 'sum' or 'mean', got {reduce!r}")
    pot = x_pre.t() @ s_post  # [pre, post]
    dep = s_pre.t() @ x_post
    if reduce == "mean":
        B = s_pre.shape[0]
        pot, dep = pot / B, dep / B
    if rule == "soft":
        return nu_post * pot * (w_max - w) - nu_pre * dep * (w - w_min)
    return nu_post * pot - nu_pre * dep


def apply_update(w: torch.Tensor, dw: torch.Tensor, w_min: float = 0.0, w_max: float = 1.0) -> torch.Tensor:
    """``w <- clip(w + dw, w_min, w_max)`` in place; returns ``w``."""
    return w.add_(dw).clamp_(w_min, w_max)


def normalize_columns(w: torch.Tensor, total: float) -> torch.Tensor:
    """Rescale each post-synaptic column of ``w [pre, post]`` to sum to ``total`` (Diehl & Cook:
    78.4 for 784 inputs, i.e. a mean weight of 0.1). Zero columns stay zero."""
    s = w.sum(0, keepdim=True)
    return w.mul_(torch.where(s > 0, total / s.clamp_min(1e-12), torch.zeros_like(s)))


def assign_labels(counts: torch.Tensor, y: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Label of each neuron: the class with the highest mean response. ``counts [S, N]`` are spike
    counts per sample; classes absent from ``y`` get mean 0. Returns ``[N]`` long."""
    if counts.ndim != 2 or counts.shape[0] != y.shape[0]:
        raise SwiftSpikeError(f"counts must be [samples, neurons] matching y, got {tuple(counts.shape)}")
    onehot = torch.nn.functional.one_hot(y.long(), n_classes).to(counts.dtype)  # [S, C]
    per_class = onehot.sum(0).clamp_min(1)
    mean = (onehot.t() @ counts) / per_class[:, None]  # [C, N]
    return mean.argmax(0)


def predict(counts: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Class with the highest mean activity of its assigned neurons; classes with no neuron score 0."""
    onehot = torch.nn.functional.one_hot(labels.long(), n_classes).to(counts.dtype)  # [N, C]
    n = onehot.sum(0)
    score = (counts @ onehot) / n.clamp_min(1)
    score = torch.where(n > 0, score, torch.full_like(score, -1.0))
    return score.argmax(1)
