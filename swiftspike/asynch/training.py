r"""Unlayered backprop: BPTT through every forward step of every frame of the async engine.

The engine's forward pass is built from differentiable ops (currents, leak, bias, surrogate
Heaviside, reset), so autograd unrolls every forward step; which spikes a scheduler emits (priority,
top-``F`` choice) is a detached mask and is not differentiated. Two ways to train:

* :func:`async_runner` plugs the engine into :class:`~swiftspike.training.Trainer` (full BPTT over
  all frames, checkpoints, resume) -- also used to fine-tune weights trained in the sync engine;
* :func:`train_truncated`: per-frame (truncated) optimisation, the same Trainer with the
  :func:`truncated_frames` hook; the state is detached at frame boundaries and each frame's loss is
  back-propagated at once, so memory holds one frame's graph. The frame loss is
  :math:`\mathrm{CE}(\sum_{t' \le t} o_{t'}, y)/T` on the running output counts.

Losses: ``count`` (default, :math:`\mathrm{CE}(\sum_t o_t, y)` on the final counts) or ``per-step``
(:func:`per_step_loss`): the cross-entropy of the *running* output after every forward step, averaged
over each sample's forward steps, so the network is pushed to be right early, not just at the end:

.. math::

    L = \frac{1}{B}\sum_b \frac{\sum_j w_{bj}\,\mathrm{CE}(r_{bj}, y_b)}{\sum_j w_{bj}}, \qquad
    w_{bj} = e^{-\gamma\, j / n_b}

where :math:`r_{bj}` is sample *b*'s output spike count so far (or LI membrane) after its *j*-th forward
step, :math:`n_b` its number of forward steps and :math:`\gamma \ge 0` (``early``) tilts the weight
toward early steps (``0``: plain average).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as Fn
from torch import nn

from ..data.encoders import Encoder
from ..devices import module_device
from ..errors import SwiftSpikeError
from ..metrics.record import RunRecord
from ..training.checkpoint import load_checkpoint
from ..training.trainer import TrainConfig, Trainer
from .engine import AsyncConfig, AsyncEngine, as_graph


def async_runner(
    F: int = 8,
    scheduler: str = "momentum",
    *,
    generator: torch.Generator | None = None,
    config: AsyncConfig | None = None,
    **kw: Any,
) -> Callable[[nn.Module, torch.Tensor], RunRecord]:
    """A ``runner(model, x) -> RunRecord`` for :class:`~swiftspike.training.Trainer` / ``evaluate``; ``config``
    (e.g. ``AsyncConfig.asynctorch(F=16)``) replaces ``F``, ``scheduler`` and ``kw``."""
    if config is not None and kw:
        raise SwiftSpikeError(f"async_runner: give either config or engine options, not both ({', '.join(kw)})")
    cfg = (config if config is not None else AsyncConfig(F=F, scheduler=scheduler, **kw)).validate()

    def run(model: nn.Module, x: torch.Tensor) -> RunRecord:
        x = x.float() if not x.is_floating_point() else x
        g = as_graph(model, tuple(x.shape[2:]))
        return AsyncEngine(g, cfg, generator=generator).run(x)

    run.config = cfg  # type: ignore[attr-defined]
    return run


ASYNC_LOSSES = ("count", "per-step")


def per_step_loss(rec: RunRecord, y: torch.Tensor, early: float = 0.0) -> torch.Tensor:
    """Cross-entropy of the running output after every forward step, averaged per sample (see module doc).

    ``rec`` must come from an engine with ``record_step_outputs=True``."""
    if rec.step_outputs is None or rec.step_mask is None:
        raise SwiftSpikeError("per-step loss needs a record made with record_step_outputs=True")
    if not early >= 0 or not math.isfinite(early):
        raise SwiftSpikeError(f"early must be a finite number >= 0, got {early!r}")
    S, B, C = rec.step_outputs.shape
    if y.shape != (B,):
        raise SwiftSpikeError(f"targets must have shape [{B}], got {tuple(y.shape)}")
    ce = Fn.cross_entropy(rec.step_outputs.reshape(S * B, C), y.repeat(S), reduction="none").view(S, B)
    w = rec.step_mask.to(ce.dtype)
    if early > 0:
        j = w.cumsum(0) - 1  # the sample's own forward-step index
        n = w.sum(0, keepdim=True).clamp(min=1)
        w = w * torch.exp(-early * j / n)
    per_sample = (ce * w).sum(0) / w.sum(0).clamp(min=1e-12)
    return per_sample.mean()


@dataclass
class StepLossTrainer(Trainer):
    """:class:`~swiftspike.training.Trainer` configured with :func:`per_step_loss` (``early``) as its loss, on the
    record of an :func:`async_runner` made with ``record_step_outputs=True``; everything else (spike
    regulariser, checkpoints, devices, progress) is the base class's."""

    early: float = 0.0

    def __post_init__(self) -> None:
        cfg = getattr(self.runner, "config", None)
        if cfg is None or not getattr(cfg, "record_step_outputs", False):
            raise SwiftSpikeError("StepLossTrainer needs async_runner(..., record_step_outputs=True)")
        early = self.early
        self.loss_fn = lambda rec, y: per_step_loss(rec, y, early)
        super().__post_init__()


def load_weights(model: nn.Module, path: str) -> nn.Module:
    """Load the weights of a swiftspike checkpoint (e.g. trained in the sync engine) into ``model``."""
    data = load_checkpoint(path)
    try:
        model.load_state_dict(data["model"])
    except (KeyError, RuntimeError) as e:
        raise SwiftSpikeError(f"checkpoint {path} does not match this model: {str(e).splitlines()[0]}") from None
    return model


def truncated_frames(config: AsyncConfig | None = None):
    r"""The ``frames`` hook of truncated (per-frame) training for :class:`~swiftspike.training.Trainer`.

    The async engine runs frame by frame with its state detached at every frame boundary; frame ``t``
    yields the loss :math:`\mathrm{CE}(\sum_{t' \le t} o_{t'}, y)/T` (running output counts of a spiking
    readout, earlier frames detached; the membrane of an LI readout), which the trainer back-propagates at
    once, so memory holds one frame's graph. Returns the record of the frame outputs."""
    cfg = (config or AsyncConfig()).validate()

    def frames(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Generator[torch.Tensor, None, RunRecord]:
        x = x.float()
        g = as_graph(model, tuple(x.shape[2:]))
        eng = AsyncEngine(g, cfg)
        st = eng.init_state(x.shape[1], x.dtype, x.device)
        T = x.shape[0]
        spiking = g.populations[g.output].spiking
        running = None
        outs = []
        for t in range(T):
            st.detach_()
            out, _, _ = eng.run_frame(st, x[t].reshape(x.shape[1], -1))
            running = out if running is None or not spiking else running.detach() + out
            outs.append(out.detach())
            yield Fn.cross_entropy(running, y) / T
        # the training accuracy is read from the final running counts (spiking) or the last membrane (LI)
        return RunRecord(output=torch.stack(outs) if spiking else outs[-1].unsqueeze(0), output_spiking=spiking)

    frames.config = cfg  # type: ignore[attr-defined]
    return frames


def train_truncated(
    model: nn.Module,
    encoder: Encoder,
    data: Any,
    *,
    config: AsyncConfig | None = None,
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    show_progress: bool = False,
    **train: Any,
) -> list[dict[str, Any]]:
    """Truncated (per-frame) unlayered backprop: a :class:`~swiftspike.training.Trainer` with the
    :func:`truncated_frames` hook, on the model's device. Further keywords go to
    :class:`~swiftspike.training.TrainConfig` (checkpoint, resume ...). Returns the per-epoch history
    (``loss``, ``train_accuracy`` ...)."""
    train.setdefault("device", str(module_device(model)))
    train.setdefault("threads", torch.get_num_threads())  # the caller's thread setting stays
    tc = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=show_progress, **train)
    trainer = Trainer(model, encoder, tc, frames=truncated_frames(config))
    return trainer.fit(data)


def finite_mean(v: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean of the finite entries of ``v`` (optionally where ``mask``); ``nan`` if none."""
    v = v.double()
    ok = torch.isfinite(v) if mask is None else torch.isfinite(v) & mask
    return float(v[ok].mean()) if bool(ok.any()) else math.nan
