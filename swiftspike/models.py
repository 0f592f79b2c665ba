"""Small reference architectures built from a JSON-able spec (stored in checkpoints).

``spec = {"arch": "mlp" | "conv", "input_shape": [...], "hidden": [...], "n_classes": C,
"neuron": "lif", "neuron_kwargs": {...}, "readout": "spike" | "li"[, "bias": false]}``

``bias=False`` builds every Linear / Conv layer without a bias (the asynctorch regime: a neuron moves
only when an event reaches it); without the key, layers have biases. Networks imported
from NIR are stored with ``{"arch": "layers", ...}`` and rebuilt by
:func:`swiftspike.interop.checkpoints.build_from_spec` (this module stays below the interop layer).
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from .engines.sync import SNN
from .errors import SwiftSpikeError, choose
from .neurons.factory import make_neuron


def default_spec(input_shape, n_classes: int, *, bias: bool = True, **over: Any) -> dict[str, Any]:
    """A spec for :func:`build_model` (see the module docstring); ``over`` replaces its entries. ``bias=False``
    is written into the spec as ``"bias": false``; with the default the key is left out (meaning true), so
    specs, and checkpoints resumed against them, stay as they were before the option existed."""
    spec = {
        "arch": "mlp",
        "input_shape": list(input_shape),
        "hidden": [128],
        "n_classes": int(n_classes),
        "neuron": "lif",
        "neuron_kwargs": {},
        "readout": "spike",
    }
    if not bias:
        spec["bias"] = False
    spec.update(over)
    return spec


def _neuron(name: str, kwargs: dict[str, Any], channels: int):
    """Neurons with per-channel parameters (DSN) are told their channel count."""
    from .neurons.factory import CHANNEL_NEURONS

    if name in CHANNEL_NEURONS and "channels" not in kwargs:
        kwargs = {**kwargs, "channels": channels}
    return make_neuron(name, **kwargs)


def build_model(spec: dict[str, Any]) -> SNN:
    """Build an :class:`~swiftspike.engines.sync.SNN` from ``spec``."""
    if isinstance(spec, dict) and spec.get("arch") == "layers":
        raise SwiftSpikeError(
            "this spec describes a network imported from NIR (arch 'layers'); rebuild it with "
            "swiftspike.interop.checkpoints.build_from_spec"
        )
    try:
        arch = choose("architecture", spec.get("arch", "mlp"), ("mlp", "conv"))
        shape = tuple(int(s) for s in spec["input_shape"])
        n_classes = int(spec["n_classes"])
        hidden = [int(h) for h in spec.get("hidden", [128])]
        neuron = spec.get("neuron", "lif")
        nk = dict(spec.get("neuron_kwargs", {}))
        readout = choose("readout", spec.get("readout", "spike"), ("spike", "li"))
        bias = spec.get("bias", True)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be true or false, got {bias!r}")
    except (KeyError, TypeError, ValueError) as e:
        raise SwiftSpikeError(f"bad model spec: {e}") from None
    layers: list[nn.Module] = []
    if arch == "conv":
        if len(shape) != 3:
            raise SwiftSpikeError(f"conv architecture needs [C, H, W] inputs, got {list(shape)}")
        c, h, w = shape
        for ch in hidden[:-1] or [16]:
            layers += [nn.Conv2d(c, ch, 3, padding=1, bias=bias), _neuron(neuron, nk, ch), nn.AvgPool2d(2)]
            c, h, w = ch, h // 2, w // 2
        layers += [nn.Flatten()]
        feat = c * h * w
        fc = hidden[-1:]
    else:
        layers += [nn.Flatten()]
        feat = math.prod(shape)
        fc = hidden
    for width in fc:
        layers += [nn.Linear(feat, width, bias=bias), _neuron(neuron, nk, width)]
        feat = width
    layers.append(nn.Linear(feat, n_classes, bias=bias))
    layers.append(_neuron(neuron, nk, n_classes) if readout == "spike" else make_neuron("li"))
    return SNN(*layers)


_NEURON_FIELDS = ("tau", "v_threshold", "v_reset", "refractory_steps", "dt", "n_max", "T", "k", "detach_reset")


def _json_value(v: Any) -> Any:
    import torch

    if isinstance(v, torch.Tensor):
        v = v.detach()
        if v.numel() == 1:
            return float(v)
        return {"shape": list(v.shape), "mean": float(v.float().mean()), "min": float(v.min()), "max": float(v.max())}
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    return repr(v)


def neuron_parameters(model: nn.Module) -> list[dict[str, Any]]:
    """JSON description of every neuron layer of ``model``: its type and parameters (``tau``,
    ``v_threshold``, reset ...), as stored in checkpoints for people reading them."""
    from .neurons.modules import SpikingModule

    out = []
    for name, m in model.named_modules():
        if not isinstance(m, SpikingModule):
            continue
        d: dict[str, Any] = {"layer": name, "type": type(m).__name__}
        for key in _NEURON_FIELDS:
            if hasattr(m, key):
                d[key] = _json_value(getattr(m, key))
        reset = getattr(m, "reset_mechanism", None)
        if reset is not None:
            d["reset"] = getattr(reset, "name", repr(reset))
        if hasattr(m, "surrogate"):
            d["surrogate"] = repr(m.surrogate)
        d["trainable"] = sorted(n for n, p in m.named_parameters(recurse=False) if p.requires_grad)
        out.append(d)
    return out
