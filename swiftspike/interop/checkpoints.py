"""Checkpoints and NIR files: export a trained checkpoint to NIR, import a NIR file as a checkpoint.

A training checkpoint (:mod:`swiftspike.training.checkpoint`) holds a model *spec* from which the network
is rebuilt. Networks built by :func:`swiftspike.models.build_model` have ``{"arch": "mlp" | "conv", ...}``;
a network imported from NIR can have any sequence of the layers NIR knows, so its spec is
``{"arch": "layers", "layers": layer_spec(net), "input_shape": [...] | None, "dt": DT}``
(:func:`swiftspike.interop.nir.layer_spec`). :func:`build_from_spec` rebuilds either kind. It lives here,
in the interop layer, because ``models`` and ``training`` sit below interop and must not import it;
:func:`swiftspike.training.load_model` and :func:`~swiftspike.training.evaluate_checkpoint` take it as
their ``build`` argument.

The run that produced a checkpoint -- encoder, dataset (``meta``), seed, thread count -- travels inside the
NIR file as graph metadata ``{"swiftspike": "<JSON>"}`` (other tools ignore it), so train -> export ->
import -> evaluate reproduces the trained network's report without naming the data again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from ..errors import SwiftSpikeError
from ..models import build_model, neuron_parameters
from ..training.checkpoint import check_writable, save_checkpoint, swiftspike_version
from ..training.restore import load_model
from .nir import DEFAULT_DT, build_layers, export_nir, import_nir, layer_spec, read_nir, write_nir

__all__ = ["RUN_KEY", "build_from_spec", "export_checkpoint", "import_checkpoint", "network_spec"]

#: graph metadata key of the run description written by :func:`export_checkpoint`
RUN_KEY = "swiftspike"


def network_spec(net: nn.Module) -> dict[str, Any]:
    """The ``{"arch": "layers", ...}`` spec of a sequential network (see the module docstring)."""
    shape = getattr(net, "input_shape", None)
    return {
        "arch": "layers",
        "layers": layer_spec(net),
        "input_shape": None if shape is None else list(shape),
        "dt": float(getattr(net, "dt", DEFAULT_DT)),
    }


def build_from_spec(spec: dict[str, Any]) -> nn.Module:
    """Rebuild a network from a checkpoint's spec: :func:`~swiftspike.interop.nir.build_layers` for
    ``arch == "layers"``, :func:`~swiftspike.models.build_model` otherwise (weights at initial values)."""
    if not isinstance(spec, dict):
        raise SwiftSpikeError(f"bad model spec: expected an object, got {type(spec).__name__}")
    if spec.get("arch") != "layers":
        return build_model(spec)
    if not isinstance(spec.get("layers"), list):
        raise SwiftSpikeError("bad model spec: arch 'layers' needs a list of layers")
    net = build_layers(spec["layers"])
    shape = spec.get("input_shape")
    setattr(net, "input_shape", None if shape is None else tuple(int(s) for s in shape))  # noqa: B010
    setattr(net, "dt", float(spec.get("dt", DEFAULT_DT)))  # noqa: B010
    return net


def export_checkpoint(
    checkpoint: str | os.PathLike, path: str | os.PathLike, *, dt: float | None = None, warn: bool = True
) -> Any:
    """Write the network of ``checkpoint`` as the NIR file ``path`` and return the ``nir.NIRGraph``.

    The model is rebuilt from the checkpoint's spec (:func:`build_from_spec`), loaded with its weights and
    passed to :func:`~swiftspike.interop.nir.export_nir` with the spec's per-sample input shape. ``dt``: the
    NIR time step in seconds (default: the one a NIR-imported checkpoint came with, else
    :data:`~swiftspike.interop.nir.DEFAULT_DT`). Layers with no NIR primitive (DSN, PSN, ...) raise one
    :class:`SwiftSpikeError` naming the layer."""
    target = Path(path)
    check_writable(target, "NIR file")
    model, ck = load_model(checkpoint, "cpu", build=build_from_spec)
    spec = ck.get("spec") or {}
    if dt is None:
        dt = float(spec.get("dt", DEFAULT_DT)) if spec.get("arch") == "layers" else DEFAULT_DT
    shape = spec.get("input_shape")
    graph = export_nir(model, None, dt=dt, input_shape=None if shape is None else tuple(shape), warn=warn)
    run = {
        "encoder": ck.get("encoder"),
        "meta": ck.get("meta") or {},
        "seed": (ck.get("config") or {}).get("seed"),
        "threads": (ck.get("run") or {}).get("threads"),
        "source": Path(checkpoint).name,
        "swiftspike_version": swiftspike_version(),
    }
    graph.metadata = {**(graph.metadata or {}), RUN_KEY: json.dumps(run)}
    write_nir(graph, target)
    return graph


def _run_of(graph: Any) -> dict[str, Any]:
    text = (graph.metadata or {}).get(RUN_KEY) if isinstance(graph.metadata, dict) else None
    if text is None:
        return {}
    try:
        run = json.loads(str(text))
    except ValueError:
        return {}
    return run if isinstance(run, dict) else {}


def import_checkpoint(path: str | os.PathLike, out: str | os.PathLike, *, dt: float | None = None) -> Path:
    """Read the NIR file ``path`` (:func:`~swiftspike.interop.nir.import_nir`, ``dt`` as there) and save it
    as the swiftspike checkpoint ``out``: the weights, the ``{"arch": "layers"}`` spec, and, when the file
    was written by :func:`export_checkpoint`, the encoder, dataset, seed and thread count of its run.
    Returns ``out``."""
    target = Path(out)
    check_writable(target, "checkpoint")
    graph = read_nir(path)
    net = import_nir(graph, dt=dt)
    run = _run_of(graph)
    config: dict[str, Any] = {} if run.get("seed") is None else {"seed": run["seed"]}
    payload = {
        "kind": "nir-import",
        "model": net.state_dict(),
        "spec": network_spec(net),
        "neurons": neuron_parameters(net),
        "encoder": run.get("encoder"),
        "meta": run.get("meta") or {},
        "config": config,
        "run": {"swiftspike": swiftspike_version(), "threads": run.get("threads"), "device": "cpu"},
        "source": {"nir": str(path), "exported_from": run.get("source")},
    }
    return save_checkpoint(target, payload)
