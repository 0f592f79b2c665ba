r"""Unlayered backprop: BPTT through every forward step of every frame of the async engine.

The engine's forward pass is built from differentiable ops (currents, leak, bias, surrogate
Heaviside, reset), so autograd unrolls every forward step; which spikes a scheduler emits (priority,
top-``F`` choice) is a detached mask and is not differentiated. Two ways to train:

* :func:`async_runner` plugs the engine into :class:`~swiftspike.training.Trainer` (full BPTT over
  all frames, checkpoints, resume) -- also used to fine-tune weights trained in the sync engine;
* :func:`train_truncated`: per-frame (truncated) optimisation; the state is detached at frame
  boundaries and each frame's loss is back-propagated at once, so memory holds one frame's graph.
  The frame loss is :math:`\mathrm{CE}(\sum_{t' \le t} o_{t'}, y)/T` on the running output counts.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as Fn
from torch import nn

from ..data.datasets import Dataset
from ..data.encoders import Encoder
from ..errors import SwiftSpikeError, check_positive, check_positive_int
from ..neurons.modules import reset
from ..training.checkpoint import load_checkpoint
from ..training.progress import progress
from ..training.trainer import batches, seed_everything
from .engine import AsyncConfig, AsyncEngine, AsyncRecord, as_graph


def async_runner(F: int = 8, scheduler: str = "momentum", *, generator: Optional[torch.Generator] = None,
                 **kw: Any) -> Callable[[nn.Module, torch.Tensor], AsyncRecord]:
    """A ``runner(model, x) -> AsyncRecord`` for :class:`~swiftspike.training.Trainer` / ``evaluate``."""
    cfg = AsyncConfig(F=F, scheduler=scheduler, **kw).validate()

    def run(model: nn.Module, x: torch.Tensor) -> AsyncRecord:
        x = x.float() if not x.is_floating_point() else x
        g = as_graph(model, tuple(x.shape[2:]))
        return AsyncEngine(g, cfg, generator=generator).run(x)

    run.config = cfg  # type: ignore[attr-defined]
    return run


def load_weights(model: nn.Module, path: str) -> nn.Module:
    """Load the weights of a swiftspike checkpoint (e.g. trained in the sync engine) into ``model``."""
    data = load_checkpoint(path)
    try:
        model.load_state_dict(data["model"])
    except (KeyError, RuntimeError) as e:
        raise SwiftSpikeError(f"checkpoint {path} does not match this model: {str(e).splitlines()[0]}") from None
    return model


def train_truncated(model: nn.Module, encoder: Encoder, data: Dataset, *, config: Optional[AsyncConfig] = None,
                    epochs: int = 1, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
                    show_progress: bool = False) -> list[dict[str, float]]:
    """Truncated (per-frame) unlayered backprop; returns per-epoch ``loss`` and ``train_accuracy``."""
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size")
    check_positive(lr, "lr")
    cfg = (config or AsyncConfig()).validate()
    seed_everything(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        torch.manual_seed(seed * 7919 + epoch)
        model.train()
        loss_sum, correct, n = 0.0, 0, 0
        for xb, yb in progress(batches(data.x_train, data.y_train, batch_size, gen), desc=f"epoch {epoch + 1}",
                               enabled=show_progress):
            reset(model)
            x = encoder(xb).float()
            g = as_graph(model, tuple(x.shape[2:]))
            eng = AsyncEngine(g, cfg)
            st = eng.init_state(x.shape[1], x.dtype, x.device)
            opt.zero_grad(set_to_none=True)
            T = x.shape[0]
            running = None
            total = 0.0
            spiking = g.populations[g.output].spiking
            for t in range(T):
                st.detach_()
                out, _, _ = eng.run_frame(st, x[t].reshape(x.shape[1], -1))
                running = out if running is None or not spiking else running.detach() + out
                loss = Fn.cross_entropy(running, yb) / T
                if not torch.isfinite(loss):
                    raise SwiftSpikeError(f"loss became {float(loss)} in epoch {epoch + 1}; lower the learning rate")
                if loss.requires_grad:
                    loss.backward()
                total += float(loss.detach())
            opt.step()
            correct += int((running.detach().argmax(1) == yb).sum())
            loss_sum += total * len(yb)
            n += len(yb)
        history.append({"epoch": epoch + 1, "loss": loss_sum / n, "train_accuracy": correct / n})
    reset(model)
    return history


def finite_mean(v: torch.Tensor, mask: Optional[torch.Tensor] = None) -> float:
    """Mean of the finite entries of ``v`` (optionally where ``mask``); ``nan`` if none."""
    v = v.double()
    ok = torch.isfinite(v) if mask is None else torch.isfinite(v) & mask
    return float(v[ok].mean()) if bool(ok.any()) else math.nan
