"""ANNs made for conversion: ReLU clipped at a trainable ceiling, a small model zoo, their training (a Trainer
configuration) and safe checkpoints.

:class:`ClippedReLU` computes :math:`y = \\min(\\max(x, 0), \\mu)` with a trainable ceiling
:math:`\\mu` (one per layer, start 4.0).  Gradient: :math:`\\partial y/\\partial x = [0 < x < \\mu]`,
:math:`\\partial y/\\partial \\mu = [x \\ge \\mu]`, so the ceiling learns how much of the activation range
the network really needs -- the range an SNN layer must later cover with a few spikes.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..devices import module_device
from ..errors import SwiftSpikeError, check_positive, check_positive_int, choose
from ..training.checkpoint import load_checkpoint, save_checkpoint, sniff, torch_load_safe
from ..training.trainer import TrainConfig, Trainer, forward_runner, logits_record

MODELS = ("vgg-small", "conv", "mlp", "resnet-tiny")


class ClippedReLU(nn.Module):
    r"""ReLU clipped at a trainable ceiling :math:`\mu`: :math:`y = \mathrm{clip}(x, 0, \mu)`."""

    def __init__(self, mu: float = 4.0, trainable: bool = True) -> None:
        super().__init__()
        check_positive(mu, "mu")
        t = torch.tensor(float(mu))
        if trainable:
            self.mu = nn.Parameter(t)
        else:
            self.register_buffer("mu", t)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # relu(x) - relu(x - mu) == clip(x, 0, mu) for mu > 0, with a gradient for mu
        return F.relu(x) - F.relu(x - self.mu)

    def extra_repr(self) -> str:
        return f"mu={float(self.mu):.4g}"


class ResidualBlock(nn.Module):
    """``act(bn(conv(act(bn(conv(x))))) + x)``: two 3x3 convolutions with an identity shortcut."""

    def __init__(self, ch: int, mu: float = 4.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.act1 = ClippedReLU(mu)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)
        self.act2 = ClippedReLU(mu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act2(self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x))))) + x)


def _cbr(cin: int, cout: int, mu: float) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), ClippedReLU(mu)]


def build_ann(name: str, input_shape: Sequence[int], n_classes: int, mu: float = 4.0) -> nn.Module:
    """Build a zoo ANN (names in :data:`MODELS`) for ``input_shape`` (``(C, H, W)`` or ``(F,)``).

    * ``vgg-small``: conv32-conv32-pool-conv64-conv64-pool-fc128-fc (BatchNorm, clipped ReLU); for
      images such as 1x28x28;
    * ``conv``: conv16-pool-conv32-pool-fc (small, for 8x8 digits);
    * ``mlp``: F-128-64-classes on flattened inputs;
    * ``resnet-tiny``: conv16 + one residual block + avg-pool + fc (exercises residual adds).
    """
    choose("model", name, MODELS)
    check_positive_int(n_classes, "n_classes")
    shape = tuple(int(s) for s in input_shape)
    if name == "mlp":
        f = 1
        for s in shape:
            f *= s
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(f, 128),
            ClippedReLU(mu),
            nn.Linear(128, 64),
            ClippedReLU(mu),
            nn.Linear(64, n_classes),
        )
    if len(shape) != 3:
        raise SwiftSpikeError(f"model {name!r} needs image inputs (C, H, W), got shape {shape}")
    c, h, w = shape
    if name == "vgg-small":
        if h < 4 or w < 4:
            raise SwiftSpikeError(f"vgg-small needs images of at least 4x4, got {h}x{w}")
        layers = [
            *_cbr(c, 32, mu),
            *_cbr(32, 32, mu),
            nn.AvgPool2d(2),
            *_cbr(32, 64, mu),
            *_cbr(64, 64, mu),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (h // 4) * (w // 4), 128),
            ClippedReLU(mu),
            nn.Linear(128, n_classes),
        ]
        return nn.Sequential(*layers)
    if name == "conv":
        if h < 4 or w < 4:
            raise SwiftSpikeError(f"conv needs images of at least 4x4, got {h}x{w}")
        return nn.Sequential(
            *_cbr(c, 16, mu),
            nn.MaxPool2d(2),
            *_cbr(16, 32, mu),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * (h // 4) * (w // 4), n_classes),
        )
    # resnet-tiny
    return nn.Sequential(
        *_cbr(c, 16, mu),
        ResidualBlock(16, mu),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * (h // 2) * (w // 2), n_classes),
    )


def batched_accuracy(
    forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor, batch_size: int = 512
) -> float:
    """Top-1 accuracy of ``forward`` (logits) on ``x``, ``y`` without gradients, ``batch_size`` at a time."""
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            correct += int((forward(x[i : i + batch_size]).argmax(1) == y[i : i + batch_size]).sum())
    return correct / max(1, len(x))


def ann_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Top-1 accuracy of ``model`` (put in eval mode) on ``x``, ``y``."""
    model.eval()
    return batched_accuracy(model, x, y, batch_size)


def fit_cross_entropy(
    model: nn.Module,
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    y: torch.Tensor,
    opt: torch.optim.Optimizer,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    desc: str,
    after_step: Callable[[], None] | None = None,
    show_progress: bool = True,
) -> list[float]:
    """Minimise the cross-entropy of ``forward(x)`` with ``opt``: a :class:`~swiftspike.training.Trainer`
    (seeded shuffling per epoch, cosine learning-rate schedule over ``epochs``); ``after_step`` runs without
    gradients after every update (clamps). Leaves ``model`` in eval mode; returns the mean loss per epoch."""
    cfg = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        loss="membrane",
        scheduler="cosine",
        progress=show_progress,
        device=str(module_device(model)),
        threads=torch.get_num_threads(),
    )
    trainer = Trainer(
        model,
        None,
        cfg,
        runner=lambda m, xb: logits_record(forward(xb)),
        optimizer=opt,
        after_step=(lambda m: after_step()) if after_step is not None else None,
        desc=desc,
    )
    history = trainer.fit((x, y))
    model.eval()
    return [h["loss"] for h in history]


def ann_param_groups(weight_decay: float, mu_decay: float) -> Callable[[nn.Module], list[dict]]:
    """Parameter groups: the clipping ceilings ``mu`` with their own L2 pull ``mu_decay``, all else ``weight_decay``."""

    def groups(model: nn.Module) -> list[dict]:
        mus = [p for n, p in model.named_parameters() if n.endswith("mu")]
        others = [p for n, p in model.named_parameters() if not n.endswith("mu")]
        return [{"params": others, "weight_decay": weight_decay}, {"params": mus, "weight_decay": mu_decay}]

    return groups


def clamp_ceilings(model: nn.Module) -> None:
    """Keep every clipping ceiling ``mu`` >= 0.01 (after each optimizer step)."""
    for n, p in model.named_parameters():
        if n.endswith("mu"):
            p.clamp_(min=1e-2)


def cosine_config(model: nn.Module, *, progress: bool, **fields: Any) -> TrainConfig:
    """The :class:`~swiftspike.training.TrainConfig` of ANN training and conversion fine-tuning: Adam on
    the logits (``loss="membrane"``) with a cosine schedule, on ``model``'s device and the caller's
    thread count unless ``fields`` say otherwise."""
    fields.setdefault("device", str(module_device(model)))
    fields.setdefault("threads", torch.get_num_threads())  # the caller's thread setting stays
    return TrainConfig(loss="membrane", scheduler="cosine", progress=progress, **fields)


def train_ann(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 5e-4,
    mu_decay: float = 5e-4,
    seed: int = 0,
    show_progress: bool = True,
    **train: Any,
) -> list[float]:
    """Train with Adam + cross-entropy and a cosine schedule: a :class:`~swiftspike.training.Trainer`
    configuration. The clipping ceilings get an L2 pull (``mu_decay``) so they settle at the range the
    data needs. Further keywords go to :class:`~swiftspike.training.TrainConfig` (checkpoint, device ...).
    Leaves ``model`` in eval mode; returns the mean loss per epoch."""
    cfg = cosine_config(model, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=show_progress, **train)
    trainer = Trainer(
        model,
        None,
        cfg,
        runner=forward_runner,
        param_groups=ann_param_groups(weight_decay, mu_decay),
        after_step=clamp_ceilings,
        desc="ANN epoch",
    )
    history = trainer.fit((x, y))
    model.eval()
    return [h["loss"] for h in history]


def save_ann(
    path: str | os.PathLike,
    model: nn.Module,
    name: str,
    input_shape: Sequence[int],
    n_classes: int,
    meta: dict | None = None,
) -> Path:
    """Save a zoo ANN as a swiftspike checkpoint (``kind='conversion-ann'``; safetensors + JSON)."""
    return save_checkpoint(
        path,
        {
            "kind": "conversion-ann",
            "model": name,
            "input_shape": list(input_shape),
            "n_classes": int(n_classes),
            "state_dict": model.state_dict(),
            "meta": meta or {},
        },
    )


def load_ann(
    path: str | os.PathLike, model: str, input_shape: Sequence[int], n_classes: int, *, trust_pickle: bool = False
) -> nn.Module:
    """Load an ANN: a checkpoint from :func:`save_ann` (also one of swiftspike 0.1), a bare ``state_dict``
    saved with ``torch.save`` for the zoo model ``model``, or -- only with ``trust_pickle=True``, because
    unpickling runs code stored in the file -- a ``torch.save``-d ``nn.Module``."""
    p = Path(path)
    if not p.is_file():
        raise SwiftSpikeError(f"ANN checkpoint not found: {p}")
    kind = sniff(p)
    if kind == "safetensors":
        data: Any = load_checkpoint(p)
        if data.get("kind") != "conversion-ann":
            raise SwiftSpikeError(f"{p} is a swiftspike checkpoint but not of a conversion ANN")
    elif kind in ("torch-zip", "pickle"):
        try:
            data = torch_load_safe(p, "ANN checkpoint")
        except SwiftSpikeError:
            if not trust_pickle:
                raise SwiftSpikeError(
                    f"{p} holds pickled Python objects (e.g. a whole nn.Module), refused without "
                    "running them; save the model's state_dict instead, or load it with "
                    "trust_pickle=True if you trust the file"
                ) from None
            warnings.warn(
                f"unpickling {p} with weights_only=False: this runs any code stored in the file", stacklevel=2
            )
            data = torch.load(p, map_location="cpu", weights_only=False)
    else:
        raise SwiftSpikeError(f"ANN checkpoint {p} is corrupt or unreadable")
    if isinstance(data, nn.Module):
        return data.eval()
    if isinstance(data, dict) and data.get("kind") == "conversion-ann":
        if list(data["input_shape"]) != list(input_shape) or int(data["n_classes"]) != int(n_classes):
            raise SwiftSpikeError(
                f"ANN checkpoint {p} was made for input {tuple(data['input_shape'])} with "
                f"{data['n_classes']} classes, the dataset has {tuple(input_shape)} and {n_classes}"
            )
        net = build_ann(data["model"], input_shape, n_classes)
        state = data["state_dict"]
    elif isinstance(data, dict) and data and all(isinstance(v, torch.Tensor) for v in data.values()):
        net = build_ann(model, input_shape, n_classes)
        state = data
    else:
        raise SwiftSpikeError(f"{p} holds neither a state_dict nor a swiftspike ANN checkpoint")
    try:
        net.load_state_dict(state)
    except RuntimeError:
        raise SwiftSpikeError(f"the weights in {p} do not fit model {model!r} for this dataset") from None
    return net.eval()
