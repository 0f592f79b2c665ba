r"""NIR (Neuromorphic Intermediate Representation) export and import (optional extra ``nir``).

NIR describes a network as a graph of continuous-time nodes. Its neurons obey
:math:`\tau \dot v = (v_\text{leak} - v) + R\,I` (LIF, LI) or :math:`\dot v = R\,I` (IF, I), and every
simulator discretises them with forward Euler at a time step :math:`\Delta t` (``DT``, seconds):

.. math:: v_{t} = \Big(1 - \frac{\Delta t}{\tau}\Big) v_{t-1} + \frac{\Delta t}{\tau} v_\text{leak}
          + \frac{R \Delta t}{\tau} I_t .

swiftspike's neurons are discrete, :math:`h_t = \beta v_{t-1} + x_t` with :math:`\beta = e^{-dt/\tau}`
(:mod:`swiftspike.neurons.functional`). The two are matched exactly, for any ``DT``:

* **export**: :math:`\tau_\text{NIR} = \Delta t / (1 - \beta)`, :math:`R = 1`, :math:`v_\text{leak} = 0`,
  and the gain :math:`1 / (1 - \beta)` is folded into the weights and bias of the layer that feeds the
  neuron (or a ``Scale`` node when that layer cannot hold it). IF neurons are written with :math:`R = 1`;
  the non-leaky readout ``LI(tau=inf)`` becomes NIR's integrator ``I`` with :math:`R = 1`.
* **import**: :math:`\beta = 1 - \Delta t / \tau`; :math:`R \Delta t / \tau` is folded into the weights and
  bias of the preceding layer and :math:`(1 - \beta)\, v_\text{leak}` into its bias. IF and I nodes are
  read with :math:`R = 1` (snnTorch, Norse) or :math:`R = 1/\Delta t` (the physical Euler form) alike.

``DT`` is stored in the graph's metadata as ``{"dt": DT}`` (default ``1e-4`` s, the snnTorch and
SpikingJelly convention). NIR has no soft-reset primitive: a soft (subtractive) reset is written as
``v_reset = 0`` plus node metadata ``{"reset": "subtract"}``, which swiftspike honours on import and other
importers ignore (they simulate a hard reset; export warns).

Converted SNNs (:class:`~swiftspike.conversion.ConvertedSNN`) export each :class:`SpikeAct` as its IF
neuron with the input shift folded into the preceding bias and a ``Scale`` node carrying the spike
amplitude, and the time-averaged readout as ``Scale(1/T)`` followed by ``I``, so that the graph's output
at step ``T`` equals the converted network's output. Neurons with no NIR primitive (DSN, PSN, LIF without
reset, refractory periods, spiking max-pooling) raise one :class:`SwiftSpikeError` naming the layer.

Only sequential graphs (one chain from input to output) are read and written; the ``nir`` package
(numpy and h5py only) is needed, ``nirtorch`` is not.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import torch
from torch import nn

from ..engines.sync import SNN
from ..errors import SwiftSpikeError, check_positive
from ..neurons.functional import NoReset, SoftReset
from ..neurons.modules import IF, LI, LIF, SpikingModule

if TYPE_CHECKING:
    from ..conversion.convert import ConvertedSNN

__all__ = ["DEFAULT_DT", "Scale", "build_layers", "export_nir", "import_nir", "layer_spec", "read_nir"]

#: Default NIR time step in seconds (snnTorch's and SpikingJelly's convention).
DEFAULT_DT = 1e-4

PathLike = Union[str, "os.PathLike[str]"]
_SUPPORTED = "Affine, Linear, Conv1d, Conv2d, Flatten, AvgPool2d, SumPool2d, Scale, LIF, IF, LI, I"


def _nir():
    try:
        import nir  # type: ignore[import-untyped]
    except ImportError:
        raise SwiftSpikeError(
            "NIR export/import needs the optional package 'nir': pip install 'swiftspike[nir]'"
        ) from None
    return nir


class Scale(nn.Module):
    r"""Element-wise scaling :math:`y = x \odot s` (NIR's ``Scale`` node); ``scale`` is a per-sample shaped
    array (broadcast over the batch) or a scalar."""

    scale: torch.Tensor

    def __init__(self, scale: torch.Tensor | float) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def extra_repr(self) -> str:
        s = self.scale
        return f"scale={float(s):.4g}" if s.numel() == 1 else f"scale=<{tuple(s.shape)}>"


# ----------------------------------------------------------------------------------------------------
# the neutral intermediate form: one op per NIR node, numpy float64 parameters
@dataclass
class _Op:
    kind: str  # affine | conv | flatten | avgpool | sumpool | scale | lif | if | li | i
    name: str
    p: dict[str, Any] = field(default_factory=dict)
    in_shape: tuple[int, ...] | None = None
    out_shape: tuple[int, ...] | None = None


def _np(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().to(torch.float64).numpy().copy()
    return np.asarray(t, dtype=np.float64).copy()


def _pair(v: Any, n: int) -> tuple[int, ...]:
    a = np.asarray(v).reshape(-1)
    if a.size == 1:
        return (int(a[0]),) * n
    if a.size != n:
        raise SwiftSpikeError(f"expected {n} values, got {a.tolist()}")
    return tuple(int(i) for i in a)


# ----------------------------------------------------------------------------------------------------
# export
def _layers_of(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """Flatten a (possibly nested) nn.Sequential into named leaf layers."""
    if isinstance(net, SpikingModule):
        return [("0", net)]
    if not isinstance(net, nn.Sequential):
        raise SwiftSpikeError(
            f"export_nir needs a swiftspike SNN (nn.Sequential of layers) or a ConvertedSNN, got {type(net).__name__}"
        )
    out: list[tuple[str, nn.Module]] = []
    for name, m in net.named_children():
        if isinstance(m, nn.Sequential):
            out += [(f"{name}.{n}", c) for n, c in _layers_of(m)]
        else:
            out.append((name, m))
    return out


def _neuron_op(name: str, m: nn.Module) -> _Op:
    """An LIF/IF/LI layer as an op holding beta, threshold and reset (shapes broadcast later)."""
    label = f"layer {name!r} ({type(m).__name__})"
    if isinstance(m, LI):
        beta = _np(m.beta)
        if np.all(beta == 1.0):
            return _Op("i", name, {"beta": beta})
        return _Op("li", name, {"beta": beta})
    if not isinstance(m, LIF) or type(m) not in (LIF, IF):
        raise SwiftSpikeError(f"{label} has no NIR primitive (NIR neurons: LIF, IF, LI, I); it cannot be exported")
    if m.refractory_steps:
        raise SwiftSpikeError(
            f"{label} has a refractory period of {m.refractory_steps} steps, which NIR cannot express"
        )
    r = m.reset_mechanism
    if isinstance(r, NoReset):
        raise SwiftSpikeError(f"{label} never resets its membrane (reset='none'), which NIR cannot express")
    soft = isinstance(r, SoftReset)
    v_reset = 0.0 if isinstance(r, SoftReset) else float(r.v_reset)
    beta = _np(m.beta)
    p = {"beta": beta, "v_threshold": _np(m.v_threshold), "v_reset": v_reset, "soft": soft}
    if np.all(beta == 1.0):
        return _Op("if", name, p)
    if np.any(beta == 1.0):
        raise SwiftSpikeError(
            f"{label} mixes leaky and non-leaky neurons (some tau = inf), which one NIR node cannot hold"
        )
    return _Op("lif", name, p)


def _check_beta(op: _Op) -> None:
    b = op.p["beta"]
    if not np.all(np.isfinite(b)) or np.any(b <= 0) or np.any(b > 1):
        raise SwiftSpikeError(f"layer {op.name!r} has a decay beta outside (0, 1], which NIR cannot express")


def _ops_from_sequential(net: nn.Module) -> tuple[list[_Op], list[tuple[str, nn.Module]]]:
    ops: list[_Op] = []
    mods: list[tuple[str, nn.Module]] = []
    for name, m in _layers_of(net):
        op = _module_op(name, m)
        if op is not None:
            ops.append(op)
            mods.append((name, m))
    return ops, mods


def _module_op(name: str, m: nn.Module) -> _Op | None:
    """The op of a stateless layer or neuron; None for layers that do nothing at inference (Identity, Dropout)."""
    if isinstance(m, (nn.Identity, nn.Dropout)):
        return None
    if isinstance(m, SpikingModule):
        return _neuron_op(name, m)
    if isinstance(m, nn.Linear):
        return _Op("affine", name, {"weight": _np(m.weight), "bias": None if m.bias is None else _np(m.bias)})
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        if m.padding_mode != "zeros":
            raise SwiftSpikeError(
                f"layer {name!r} ({type(m).__name__}) pads with {m.padding_mode!r}; NIR convolutions pad with zeros"
            )
        nd = 1 if isinstance(m, nn.Conv1d) else 2
        pad = m.padding if isinstance(m.padding, str) else tuple(int(v) for v in m.padding)
        return _Op(
            "conv",
            name,
            {
                "nd": nd,
                "weight": _np(m.weight),
                "bias": None if m.bias is None else _np(m.bias),
                "stride": tuple(m.stride),
                "padding": pad,
                "dilation": tuple(m.dilation),
                "groups": int(m.groups),
            },
        )
    if isinstance(m, nn.Flatten):
        if m.start_dim == 0:
            raise SwiftSpikeError(f"layer {name!r} (Flatten) flattens the batch dimension; NIR's Flatten cannot")
        return _Op("flatten", name, {"start_dim": m.start_dim, "end_dim": m.end_dim})
    if isinstance(m, nn.AvgPool2d):
        if m.ceil_mode:
            raise SwiftSpikeError(f"layer {name!r} (AvgPool2d) uses ceil_mode=True, which NIR pooling cannot express")
        if m.divisor_override not in (None, 1):
            raise SwiftSpikeError(
                f"layer {name!r} (AvgPool2d) has divisor_override={m.divisor_override}, which NIR cannot express"
            )
        k = _pair(m.kernel_size, 2)
        s = _pair(m.stride if m.stride is not None else m.kernel_size, 2)
        pad = _pair(m.padding, 2)
        if any(pad) and m.divisor_override is None and not m.count_include_pad:
            raise SwiftSpikeError(
                f"layer {name!r} (AvgPool2d) excludes padding from the average, which NIR cannot express"
            )
        kind = "sumpool" if m.divisor_override == 1 else "avgpool"
        return _Op(kind, name, {"kernel_size": k, "stride": s, "padding": pad})
    if isinstance(m, nn.LPPool2d) and float(m.norm_type) == 1.0:
        if m.ceil_mode:
            raise SwiftSpikeError(f"layer {name!r} (LPPool2d) uses ceil_mode=True, which NIR pooling cannot express")
        k = _pair(m.kernel_size, 2)
        return _Op(
            "sumpool",
            name,
            {"kernel_size": k, "stride": _pair(m.stride if m.stride is not None else k, 2), "padding": (0, 0)},
        )
    if isinstance(m, Scale):
        return _Op("scale", name, {"scale": _np(m.scale)})
    raise SwiftSpikeError(
        f"layer {name!r} ({type(m).__name__}) has no NIR primitive; NIR export supports Linear, "
        "Conv1d, Conv2d, Flatten, AvgPool2d (and sum pooling), LIF, IF, LI and swiftspike's Scale"
    )


def _ops_from_converted(snn: ConvertedSNN) -> tuple[list[_Op], list[tuple[str, nn.Module]]]:
    """Walk a ConvertedSNN's traced graph (a chain) into ops; SpikeAct -> [IF, Scale(A)], shift -> bias."""
    from torch import fx

    from ..conversion.convert import SpikeAct, SpikingMaxPool

    gm = snn.graph_module
    modules = dict(gm.named_modules())
    ops: list[_Op] = []
    mods: list[tuple[str, nn.Module]] = []
    prev: fx.Node | None = None
    op: _Op | None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            prev = node
            continue
        if node.op == "output":
            if node.args[0] is not prev:
                raise SwiftSpikeError(
                    "the converted network is not a single chain of layers; "
                    "NIR export supports sequential networks only"
                )
            break
        args = [a for a in node.args if isinstance(a, fx.Node)] + [
            a for a in node.kwargs.values() if isinstance(a, fx.Node)
        ]
        if len(args) != 1 or args[0] is not prev or len(prev.users) != 1:
            raise SwiftSpikeError(
                f"node {node.name!r} of the converted network branches or merges (e.g. a residual add); "
                "NIR export supports sequential networks only"
            )
        prev = node
        if node.op == "call_module":
            m = modules[node.target]
            name = str(node.target)
            if isinstance(m, SpikingMaxPool):
                raise SwiftSpikeError(
                    f"layer {name!r} (SpikingMaxPool) has no NIR primitive; use average pooling to export"
                )
            if isinstance(m, SpikeAct):
                if m.mode != "snn":
                    raise SwiftSpikeError(
                        f"layer {name!r} (SpikeAct) is in {m.mode!r} mode; export needs the spiking network"
                    )
                shift = float(m.shift.detach())
                if shift != 0.0:
                    if not ops or ops[-1].kind not in ("affine", "conv"):
                        raise SwiftSpikeError(
                            f"layer {name!r} (SpikeAct) has an input shift but no preceding Linear/Conv to fold it into"
                        )
                    w = ops[-1].p
                    w["bias"] = (np.zeros(w["weight"].shape[0]) if w["bias"] is None else w["bias"]) + shift
                op = _neuron_op(f"{name}.neuron", m.neuron)
                ops.append(op)
                mods.append((op.name, m.neuron))
                ops.append(_Op("scale", f"{name}.amplitude", {"scale": _np(m.amplitude)}))
                mods.append((f"{name}.amplitude", Scale(m.amplitude.detach())))
                continue
            op = _module_op(name, m)
        elif (node.op == "call_function" and node.target is torch.flatten) or (
            node.op == "call_method" and node.target == "flatten"
        ):
            rest = list(node.args[1:])
            start = int(node.kwargs.get("start_dim", rest[0] if rest else 0))
            end = int(node.kwargs.get("end_dim", rest[1] if len(rest) > 1 else -1))
            m = nn.Flatten(start, end)
            name = node.name
            op = _module_op(name, m)
        else:
            raise SwiftSpikeError(
                f"operation {node.name!r} ({node.target}) of the converted network has no NIR primitive"
            )
        if op is not None:
            ops.append(op)
            mods.append((name, m))
    if not ops:
        raise SwiftSpikeError("the converted network has no layers to export")
    T = int(snn.T)
    ops.append(_Op("scale", "readout.mean", {"scale": np.asarray(1.0 / T)}))
    mods.append(("readout.mean", Scale(1.0 / T)))
    ops.append(_Op("i", "readout", {"beta": np.asarray(1.0)}))
    mods.append(("readout", LI(tau=math.inf)))
    return ops, mods


def _infer_shapes(
    ops: list[_Op], mods: list[tuple[str, nn.Module]], input_shape: Sequence[int] | None
) -> tuple[int, ...]:
    """Per-sample input/output shape of every op (dummy forward of each stateless layer on zeros)."""
    if input_shape is None:
        first = ops[0]
        arr = first.p.get("beta", first.p.get("scale"))
        if first.kind == "affine":
            input_shape = (first.p["weight"].shape[1],)
        elif arr is not None and arr.ndim > 0:
            input_shape = arr.shape
        else:
            raise SwiftSpikeError(
                f"cannot tell the network's input shape (first layer {first.name!r}); "
                "pass input_shape=(C, H, W) or (features,) to export_nir"
            )
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s <= 0 for s in shape):
        raise SwiftSpikeError(f"input_shape must be a non-empty tuple of positive sizes, got {tuple(input_shape)}")
    start = shape
    with torch.no_grad():
        for op, (_, m) in zip(ops, mods):
            op.in_shape = shape
            if op.kind in ("lif", "if", "li", "i"):
                op.out_shape = shape
            elif op.kind == "scale":
                try:
                    op.out_shape = tuple(np.broadcast_shapes(shape, op.p["scale"].shape))
                except ValueError:
                    op.out_shape = None
                if op.out_shape != shape:
                    raise SwiftSpikeError(
                        f"layer {op.name!r} (Scale) of shape {op.p['scale'].shape} does not fit its "
                        f"input of shape {shape}"
                    )
            else:
                t = next(iter(m.parameters()), next(iter(m.buffers()), torch.zeros(())))
                try:
                    y = m(torch.zeros((1, *shape), dtype=t.dtype, device=t.device))
                except RuntimeError as e:
                    raise SwiftSpikeError(
                        f"layer {op.name!r} ({type(m).__name__}) cannot take input of shape {shape}: "
                        f"{str(e).splitlines()[0]}"
                    ) from None
                op.out_shape = tuple(y.shape[1:])
            shape = op.out_shape
    return start


def _broadcast(a: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    try:
        return np.broadcast_to(a, shape).astype(np.float64).copy()
    except ValueError:
        raise SwiftSpikeError(f"{what} of shape {a.shape} does not fit the layer's shape {shape}") from None


def _fold_gain(ops: list[_Op], i: int, gain: np.ndarray) -> int:
    """Multiply the input of neuron op ``i`` by ``gain`` (layer-shaped): into the preceding Linear/Conv when it
    can hold it, else through a new Scale op. Returns the neuron's new index."""
    if np.all(gain == 1.0):
        return i
    prev = ops[i - 1] if i > 0 else None
    shape = ops[i].in_shape
    assert shape is not None
    if prev is not None and prev.kind == "affine" and gain.ndim == 1:
        prev.p["weight"] = prev.p["weight"] * gain[:, None]
        if prev.p["bias"] is not None:
            prev.p["bias"] = prev.p["bias"] * gain
        return i
    if prev is not None and prev.kind == "conv":
        per_ch = gain.reshape(gain.shape[0], -1)
        if np.all(per_ch == per_ch[:, :1]):
            g = per_ch[:, 0]
            prev.p["weight"] = prev.p["weight"] * g.reshape(-1, *([1] * (prev.p["weight"].ndim - 1)))
            if prev.p["bias"] is not None:
                prev.p["bias"] = prev.p["bias"] * g
            return i
    if prev is not None and prev.kind == "scale":
        prev.p["scale"] = _broadcast(prev.p["scale"], shape, "scale") * gain
        return i
    ops.insert(i, _Op("scale", f"{ops[i].name}.gain", {"scale": gain}, shape, shape))
    return i + 1


def export_nir(
    net: nn.Module,
    path: PathLike | None = None,
    *,
    dt: float = DEFAULT_DT,
    input_shape: Sequence[int] | None = None,
    warn: bool = True,
):
    r"""Export ``net`` to a ``nir.NIRGraph`` (written to ``path`` when given) and return the graph.

    ``net`` is a swiftspike :class:`~swiftspike.engines.sync.SNN` (or any ``nn.Sequential``) of Linear,
    Conv1d/Conv2d, Flatten, AvgPool2d, :class:`Scale` and LIF/IF/LI layers, or a
    :class:`~swiftspike.conversion.ConvertedSNN`. ``dt`` is the NIR time step ``DT`` in seconds (stored in
    the graph metadata); ``input_shape`` the per-sample input shape (needed when the first layer is not a
    Linear; defaults to ``net.input_shape`` when an imported network carries one). LIF neurons are written
    as :math:`\tau = DT/(1-\beta)`, :math:`R = 1`, :math:`v_\text{leak} = 0` with the gain
    :math:`1/(1-\beta)` folded into the preceding weights; a soft reset is written as ``v_reset = 0`` plus
    node metadata ``{"reset": "subtract"}`` (with a warning, since other importers will reset hard).
    """
    nir = _nir()
    dt = check_positive(dt, "dt")
    from ..conversion.convert import ConvertedSNN

    if isinstance(net, ConvertedSNN):
        ops, mods = _ops_from_converted(net)
    else:
        ops, mods = _ops_from_sequential(net)
    if not ops:
        raise SwiftSpikeError("the network has no layers to export")
    if input_shape is None:
        input_shape = getattr(net, "input_shape", None)
    start = _infer_shapes(ops, mods, input_shape)
    soft_layers = []
    i = 0
    while i < len(ops):  # neuron parameters to NIR form, gains folded into the preceding layer
        op = ops[i]
        if op.kind in ("lif", "if", "li", "i"):
            _check_beta(op)
            shape = op.out_shape
            assert shape is not None
            beta = _broadcast(op.p["beta"], shape, f"tau of layer {op.name!r}")
            op.p["beta"] = beta
            if "v_threshold" in op.p:
                op.p["v_threshold"] = _broadcast(op.p["v_threshold"], shape, f"v_threshold of layer {op.name!r}")
            if op.kind in ("lif", "li"):
                i = _fold_gain(ops, i, 1.0 / (1.0 - beta))
            if op.p.get("soft"):
                soft_layers.append(op.name)
        i += 1
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array(start))}
    names = ["input"]
    for k, op in enumerate(ops):
        node = _to_nir_node(nir, op, dt)
        key = f"{k}_{type(node).__name__.lower()}"
        nodes[key] = node
        names.append(key)
    nodes["output"] = nir.Output(output_type=np.array(ops[-1].out_shape))
    names.append("output")
    edges = list(itertools.pairwise(names))
    from .._version import __version__

    meta = {"dt": float(dt), "producer": "swiftspike", "swiftspike_version": __version__}
    try:
        graph = nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=True)
    except (ValueError, AssertionError, TypeError) as e:  # a shape swiftspike computed disagrees with NIR's
        raise SwiftSpikeError(f"NIR rejected the exported graph: {e}") from None
    if soft_layers and warn:
        warnings.warn(
            f"layers {', '.join(soft_layers)} reset by subtraction, which NIR has no primitive for: "
            "swiftspike writes v_reset=0 with node metadata {'reset': 'subtract'} and reads it back, but other "
            "importers (snnTorch, Norse, hardware toolchains) will simulate a hard reset to 0",
            UserWarning,
            stacklevel=2,
        )
    if path is not None:
        write_nir(graph, Path(path))
    return graph


def _to_nir_node(nir, op: _Op, dt: float):
    p = op.p
    assert op.in_shape is not None
    f = lambda a: np.ascontiguousarray(a, dtype=np.float64)
    if op.kind == "affine":
        if p["bias"] is None:
            return nir.Linear(weight=f(p["weight"]))
        return nir.Affine(weight=f(p["weight"]), bias=f(p["bias"]))
    if op.kind == "conv":
        bias = p["bias"] if p["bias"] is not None else np.zeros(p["weight"].shape[0])
        pad = p["padding"]
        if p["nd"] == 1:
            return nir.Conv1d(
                input_shape=int(op.in_shape[1]),
                weight=f(p["weight"]),
                stride=int(p["stride"][0]),
                padding=pad if isinstance(pad, str) else int(pad[0]),
                dilation=int(p["dilation"][0]),
                groups=p["groups"],
                bias=f(bias),
            )
        return nir.Conv2d(
            input_shape=tuple(int(s) for s in op.in_shape[1:]),
            weight=f(p["weight"]),
            stride=p["stride"],
            padding=pad,
            dilation=p["dilation"],
            groups=p["groups"],
            bias=f(bias),
        )
    if op.kind == "flatten":
        nd = len(op.in_shape) + 1  # dims including the batch
        start = p["start_dim"] % nd
        end = p["end_dim"] % nd
        if start == 0:
            raise SwiftSpikeError(f"layer {op.name!r} (Flatten) flattens the batch dimension; NIR's Flatten cannot")
        return nir.Flatten(
            input_type={"input": np.array(op.in_shape)}, start_dim=start - 1, end_dim=-1 if end == nd - 1 else end - 1
        )
    if op.kind in ("avgpool", "sumpool"):
        cls = nir.AvgPool2d if op.kind == "avgpool" else nir.SumPool2d
        return cls(kernel_size=np.array(p["kernel_size"]), stride=np.array(p["stride"]), padding=np.array(p["padding"]))
    if op.kind == "scale":
        return nir.Scale(scale=f(_broadcast(p["scale"], op.in_shape, f"scale of layer {op.name!r}")))
    beta = p["beta"]
    ones = np.ones_like(beta)
    if op.kind == "i":
        return nir.I(r=ones)
    if op.kind == "li":
        return nir.LI(tau=dt / (1.0 - beta), r=ones, v_leak=np.zeros_like(beta))
    meta = {"reset": "subtract"} if p["soft"] else {}
    v_reset = np.full_like(beta, p["v_reset"])
    if op.kind == "if":
        return nir.IF(r=ones, v_threshold=f(p["v_threshold"]), v_reset=v_reset, metadata=meta)
    return nir.LIF(
        tau=dt / (1.0 - beta),
        r=ones,
        v_leak=np.zeros_like(beta),
        v_threshold=f(p["v_threshold"]),
        v_reset=v_reset,
        metadata=meta,
    )


def write_nir(graph: Any, path: Path) -> None:
    """Write ``graph`` to ``path`` atomically: a temporary file in the target folder, then ``os.replace``
    (a failed write never leaves a partial file behind)."""
    nir = _nir()
    if not path.parent.is_dir():
        raise SwiftSpikeError(f"cannot write NIR file {path}: folder {path.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise SwiftSpikeError(f"cannot write NIR file {path}: {e.strerror or e}") from None
    os.close(fd)
    try:
        nir.write(tmp, graph)
        os.replace(tmp, path)
    except OSError as e:
        raise SwiftSpikeError(f"cannot write NIR file {path}: {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# ----------------------------------------------------------------------------------------------------
# import
def read_nir(path: PathLike):
    """Read a NIR file into a ``nir.NIRGraph``; a missing or corrupt file raises :class:`SwiftSpikeError`."""
    nir = _nir()
    p = Path(path)
    if not p.exists():
        raise SwiftSpikeError(f"NIR file {p} does not exist")
    if not p.is_file():
        raise SwiftSpikeError(f"NIR path {p} is not a file")
    try:
        return nir.read(p, type_check=False)
    except (OSError, KeyError, ValueError, TypeError, AssertionError, AttributeError) as e:  # h5py, nir on bad content
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SwiftSpikeError(f"cannot read NIR file {p}: not a valid NIR (HDF5) file ({msg})") from None


def _meta_dt(meta: Any, where: str) -> list[float]:
    if not isinstance(meta, dict) or "dt" not in meta:
        return []
    try:
        a = np.asarray(meta["dt"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise SwiftSpikeError(f"{where} has a time step dt={meta['dt']!r} that is not a number") from None
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise SwiftSpikeError(f"{where} has an invalid time step dt={a.tolist()}")
    return a.tolist()


def _graph_dt(graph, dt: float | None) -> float:
    found: list[tuple[float, str]] = [(v, "the graph") for v in _meta_dt(graph.metadata, "the graph")]
    for name, node in graph.nodes.items():
        found += [(v, f"node {name!r}") for v in _meta_dt(getattr(node, "metadata", None), f"node {name!r}")]
    if found:
        v0, w0 = found[0]
        for v, w in found[1:]:
            if not math.isclose(v, v0, rel_tol=1e-9):
                raise SwiftSpikeError(
                    f"the NIR graph has a non-uniform time step ({w0}: dt={v0:g}, {w}: dt={v:g}); "
                    "swiftspike runs every layer on one time step"
                )
        if dt is not None and not math.isclose(float(dt), v0, rel_tol=1e-9):
            raise SwiftSpikeError(
                f"the NIR graph was written for dt={v0:g} s but dt={float(dt):g} was asked for; "
                "drop dt= to use the graph's own time step"
            )
        return float(v0)
    return check_positive(dt, "dt") if dt is not None else DEFAULT_DT


def _chain(graph) -> list[str]:
    """Node names from input to output of a sequential graph (Input/Output nodes included when present)."""
    nir = _nir()
    nodes, edges = graph.nodes, [(str(a), str(b)) for a, b in graph.edges]
    for a, b in edges:
        for n in (a, b):
            if n not in nodes:
                raise SwiftSpikeError(f"the NIR graph has an edge to or from an unknown node {n!r}")
    for name, node in nodes.items():
        if isinstance(node, nir.NIRGraph):
            raise SwiftSpikeError(
                f"node {name!r} is a nested subgraph (e.g. a recurrent layer); swiftspike imports "
                "sequential graphs only"
            )
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    npred: dict[str, int] = dict.fromkeys(nodes, 0)
    for a, b in edges:
        succ[a].append(b)
        npred[b] += 1
    roots = [n for n in nodes if npred[n] == 0]
    if len(roots) != 1:
        raise SwiftSpikeError(
            f"the NIR graph has {len(roots)} entry nodes ({', '.join(roots) or 'a cycle'}); swiftspike "
            "imports sequential graphs with one input only"
        )
    order, cur = [], roots[0]
    while True:
        order.append(cur)
        if npred[cur] > 1 or len(succ[cur]) > 1:
            raise SwiftSpikeError(
                f"node {cur!r} of the NIR graph branches or merges; swiftspike imports sequential graphs only"
            )
        if not succ[cur]:
            break
        cur = succ[cur][0]
        if cur in order:
            raise SwiftSpikeError(
                f"the NIR graph has a cycle through node {cur!r} (a recurrent connection); swiftspike "
                "imports feed-forward sequential graphs only"
            )
    if len(order) != len(nodes):
        missing = sorted(set(nodes) - set(order))
        raise SwiftSpikeError(f"the NIR graph has nodes not on the input-output chain: {', '.join(missing)}")
    return order


def _arr(node, attr: str) -> np.ndarray:
    return np.asarray(getattr(node, attr), dtype=np.float64)


def _uniform_or(a: np.ndarray) -> np.ndarray:
    """A scalar when all values are equal (swiftspike's usual form), else the array."""
    return np.asarray(a.reshape(-1)[0]) if a.size and np.all(a == a.reshape(-1)[0]) else a


def _set_tensor(m: nn.Module, name: str, value: torch.Tensor) -> None:
    old = getattr(m, name)
    if isinstance(old, nn.Parameter):
        setattr(m, name, nn.Parameter(value, requires_grad=old.requires_grad))
    else:
        setattr(m, name, value)


def _set_beta(m: LIF | LI, beta: np.ndarray, dtype: torch.dtype) -> None:
    r"""Give ``m`` the ``tau`` whose :math:`e^{-dt/\tau}`, computed by the module itself in ``dtype``, equals
    ``beta`` rounded to ``dtype`` (nudging ``tau`` by one float step at a time), so imported networks run
    exactly the decay they were given."""
    beta = _uniform_or(beta)
    target = torch.as_tensor(beta, dtype=torch.float64).to(dtype)
    with np.errstate(divide="ignore"):
        tau64 = np.where(beta >= 1.0, math.inf, -m.dt / np.log(np.minimum(beta, 1.0)))
    tau = torch.as_tensor(tau64, dtype=torch.float64).to(dtype)
    zero, inf = torch.zeros_like(tau), torch.full_like(tau, math.inf)
    for _ in range(64):
        _set_tensor(m, "tau", tau)
        got = m.beta.detach()
        if torch.equal(got, target):
            break
        tau = torch.where(
            got > target, torch.nextafter(tau, zero), torch.where(got < target, torch.nextafter(tau, inf), tau)
        )


def _neuron_shape(node, attr: str) -> tuple[int, ...]:
    return tuple(np.shape(getattr(node, attr)))


@dataclass
class _Built:
    name: str  # NIR node name
    module: nn.Module
    kind: str
    shape: tuple[int, ...] = ()  # neuron / scale parameter shape (for shape checks)
    w64: np.ndarray | None = None  # Linear/Conv weight and bias kept in float64 until every gain is folded in
    b64: np.ndarray | None = None
    s64: np.ndarray | None = None  # the same for a Scale layer
    beta64: np.ndarray | None = None  # neuron decay and threshold, set once the network's dtype is known
    th64: np.ndarray | None = None


def _fold_input(built: list[_Built], name: str, gain: np.ndarray, bias: np.ndarray) -> None:
    """Make the preceding layer deliver ``gain * x + bias`` (layer-shaped arrays) to neuron node ``name``."""
    gain, bias = np.asarray(gain, np.float64), np.asarray(bias, np.float64)
    unit_gain, no_bias = bool(np.all(gain == 1.0)), bool(np.all(bias == 0.0))
    if unit_gain and no_bias:
        return
    prev = built[-1] if built and built[-1].w64 is not None else None
    if prev is not None and prev.w64 is not None:
        out = prev.w64.shape[0]
        g, b = gain, bias
        if prev.kind == "conv":  # per output channel only: every position of a channel shares the kernel
            g2 = np.broadcast_to(g, (out, 1)) if g.ndim == 0 else g.reshape(g.shape[0], -1)
            b2 = np.broadcast_to(b, (out, 1)) if b.ndim == 0 else b.reshape(b.shape[0], -1)
            if g2.shape[0] == out and b2.shape[0] == out and np.all(g2 == g2[:, :1]) and np.all(b2 == b2[:, :1]):
                g, b = g2[:, 0], b2[:, 0]
            else:
                prev = None
        if prev is not None:
            if g.size not in (1, out) or b.size not in (1, out):
                raise SwiftSpikeError(
                    f"the NIR graph has mismatched shapes: node {name!r} has {max(g.size, b.size)} "
                    f"neurons but its input layer has {out} outputs"
                )
            g = np.broadcast_to(g.reshape(-1), (out,))
            b = np.broadcast_to(b.reshape(-1), (out,))
            w = prev.w64
            assert w is not None  # prev was picked for its weight
            prev.w64 = w * g.reshape((-1,) + (1,) * (w.ndim - 1))
            if prev.b64 is not None:
                prev.b64 = prev.b64 * g + b
            elif not no_bias:
                prev.b64 = b.copy()
            return
    if not no_bias:
        raise SwiftSpikeError(
            f"node {name!r} has a leak voltage v_leak != 0 but is not fed by an Affine or Conv node "
            "whose bias could hold it"
        )
    if built and built[-1].kind == "scale" and built[-1].s64 is not None:
        s = built[-1]
        s.s64 = s.s64 * gain
        if np.all(s.s64.astype(np.float32) == 1):  # e.g. an exported gain node undone by this neuron's r*DT/tau
            built.pop()
        return
    built.append(_Built(f"{name}.gain", Scale(torch.from_numpy(_uniform_or(gain))), "scale", s64=gain))


def _finish(b: _Built, dtype: torch.dtype) -> None:
    """Write the float64 parameters kept in ``b`` into its module (``dtype`` already set), rounded once."""
    m = b.module
    if b.w64 is not None:
        assert isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(b.w64))
            if b.b64 is None:
                m.bias = None
            else:
                assert m.bias is not None  # built with a bias
                m.bias.copy_(torch.from_numpy(np.ascontiguousarray(b.b64)))
    if b.s64 is not None:
        assert isinstance(m, Scale)
        m.scale = torch.from_numpy(_uniform_or(b.s64)).to(dtype)
    if b.beta64 is not None:
        assert isinstance(m, (LIF, LI))
        _set_beta(m, b.beta64, dtype)
    if b.th64 is not None:
        _set_tensor(m, "v_threshold", torch.from_numpy(_uniform_or(b.th64)).to(dtype))


def _reset_of(node, name: str, nodetype: str) -> tuple[str, float]:
    meta = getattr(node, "metadata", None) or {}
    kind = meta.get("reset", None) if isinstance(meta, dict) else None
    if isinstance(kind, bytes):
        kind = kind.decode()
    v_reset = np.asarray(node.v_reset, dtype=np.float64)
    if kind in ("subtract", "soft"):
        if np.any(v_reset != 0):
            raise SwiftSpikeError(f"node {name!r} ({nodetype}) asks for a subtractive reset but has v_reset != 0")
        return "soft", 0.0
    if kind not in (None, "zero", "hard", "value"):
        raise SwiftSpikeError(f"node {name!r} ({nodetype}) has unknown reset metadata {kind!r}; expected 'subtract'")
    u = _uniform_or(v_reset)
    if u.ndim:
        raise SwiftSpikeError(
            f"node {name!r} ({nodetype}) has a different v_reset per neuron, which swiftspike's hard reset cannot hold"
        )
    return "hard", float(u)


def _unit_r(node, name: str, dt: float, nodetype: str) -> None:
    r = np.asarray(node.r, dtype=np.float64)
    if not (np.allclose(r, 1.0, rtol=1e-6) or np.allclose(r, 1.0 / dt, rtol=1e-6)):
        raise SwiftSpikeError(
            f"node {name!r} ({nodetype}) has r={_short(r)}; swiftspike reads {nodetype} nodes with "
            f"r = 1 or r = 1/DT = {1.0 / dt:g} (both add the input to the membrane)"
        )


def _short(a: np.ndarray) -> str:
    u = _uniform_or(np.asarray(a))
    return f"{float(u):g}" if u.ndim == 0 else f"<array {a.shape}>"


def _leaky(node, name: str, dt: float, nodetype: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """beta = 1 - DT/tau, input gain r*DT/tau and input bias (1-beta)*v_leak of a LIF/LI node."""
    tau, r, v_leak = _arr(node, "tau"), _arr(node, "r"), _arr(node, "v_leak")
    if not np.all(np.isfinite(r)) or not np.all(np.isfinite(v_leak)) or np.any(np.isnan(tau)):
        raise SwiftSpikeError(f"node {name!r} ({nodetype}) has NaN or infinite parameters")
    if np.any(tau < dt):
        raise SwiftSpikeError(
            f"node {name!r} ({nodetype}) has tau={_short(tau)} s below the time step DT={dt:g} s: "
            "forward Euler would be unstable (give the right dt=)"
        )
    beta = 1.0 - dt / tau
    return beta, r * dt / tau, (1.0 - beta) * v_leak


def _threshold(node, name: str, nodetype: str) -> np.ndarray:
    th = _arr(node, "v_threshold")
    if not np.all(np.isfinite(th)):
        raise SwiftSpikeError(f"node {name!r} ({nodetype}) has NaN or infinite thresholds")
    return th


def _build_node(nir, name: str, node, dt: float, built: list[_Built]) -> None:
    t = type(node).__name__
    if isinstance(node, (nir.Input, nir.Output)):
        return
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        raise SwiftSpikeError(
            f"node {name!r} is a current-based neuron ({t}); swiftspike has no current-based (synaptic) "
            "neuron, so it cannot import it"
        )
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = np.asarray(node.weight, dtype=np.float64)
        if w.ndim != 2:
            raise SwiftSpikeError(
                f"node {name!r} ({t}) has a weight of shape {w.shape}; swiftspike imports 2-D weights only"
            )
        bias = np.asarray(node.bias, dtype=np.float64) if isinstance(node, nir.Affine) else None
        if bias is not None and bias.shape != (w.shape[0],):
            raise SwiftSpikeError(
                f"node {name!r} ({t}) has a bias of shape {bias.shape} for {w.shape[0]} outputs (mismatched shapes)"
            )
        built.append(_Built(name, nn.Linear(w.shape[1], w.shape[0]), "affine", w64=w, b64=bias))
        return
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        nd = 1 if isinstance(node, nir.Conv1d) else 2
        w = np.asarray(node.weight, dtype=np.float64)
        if w.ndim != nd + 2:
            raise SwiftSpikeError(f"node {name!r} ({t}) has a weight of shape {w.shape}; expected {nd + 2} dimensions")
        groups = int(np.asarray(node.groups))
        pad = node.padding
        pad = pad if isinstance(pad, str) else _pair(pad, nd)
        bias = np.asarray(node.bias, dtype=np.float64).reshape(-1)
        if bias.size not in (1, w.shape[0]):
            raise SwiftSpikeError(
                f"node {name!r} ({t}) has {bias.size} biases for {w.shape[0]} output channels (mismatched shapes)"
            )
        b64 = np.broadcast_to(bias, (w.shape[0],)).copy() if np.any(bias != 0) else None  # zeros: bias-free layer
        cls: Any = nn.Conv1d if nd == 1 else nn.Conv2d
        try:
            conv = cls(
                w.shape[1] * groups,
                w.shape[0],
                tuple(w.shape[2:]),
                stride=_pair(node.stride, nd),
                padding=pad,
                dilation=_pair(node.dilation, nd),
                groups=groups,
            )
        except (ValueError, RuntimeError) as e:
            raise SwiftSpikeError(f"node {name!r} ({t}) has invalid convolution settings: {e}") from None
        built.append(_Built(name, conv, "conv", w64=w, b64=b64))
        return
    if isinstance(node, nir.Flatten):
        start, end = int(node.start_dim), int(node.end_dim)
        if start < 0:
            raise SwiftSpikeError(
                f"node {name!r} (Flatten) has start_dim={start}; swiftspike reads non-negative start_dim "
                "(batch dimension excluded)"
            )
        built.append(_Built(name, nn.Flatten(start + 1, end + 1 if end >= 0 else end), "flatten"))
        return
    if isinstance(node, (nir.AvgPool2d, nir.SumPool2d)):
        k, s, p = _pair(node.kernel_size, 2), _pair(node.stride, 2), _pair(node.padding, 2)
        if any(2 * pi > ki for pi, ki in zip(p, k)):
            raise SwiftSpikeError(f"node {name!r} ({t}) has padding {p} larger than half its kernel {k}")
        pool = nn.AvgPool2d(k, s, p, divisor_override=1 if isinstance(node, nir.SumPool2d) else None)  # type: ignore[arg-type]
        built.append(_Built(name, pool, "pool"))
        return
    if isinstance(node, nir.Scale):
        sc = _arr(node, "scale")
        built.append(_Built(name, Scale(torch.from_numpy(_uniform_or(sc))), "scale", sc.shape, s64=sc))
        return
    if isinstance(node, nir.LIF):
        beta, gain, bias = _leaky(node, name, dt, t)
        th = _threshold(node, name, t)
        reset, v_reset = _reset_of(node, name, t)
        _fold_input(built, name, gain, bias)
        built.append(
            _Built(
                name,
                LIF(tau=1.0, v_threshold=1.0, v_reset=v_reset, reset=reset),
                "neuron",
                _neuron_shape(node, "tau"),
                beta64=beta,
                th64=th,
            )
        )
        return
    if isinstance(node, nir.IF):
        _unit_r(node, name, dt, t)
        th = _threshold(node, name, t)
        reset, v_reset = _reset_of(node, name, t)
        built.append(
            _Built(name, IF(v_threshold=1.0, v_reset=v_reset, reset=reset), "neuron", _neuron_shape(node, "r"), th64=th)
        )
        return
    if isinstance(node, nir.LI):
        beta, gain, bias = _leaky(node, name, dt, t)
        _fold_input(built, name, gain, bias)
        built.append(_Built(name, LI(tau=1.0), "neuron", _neuron_shape(node, "tau"), beta64=beta))
        return
    if isinstance(node, nir.I):
        _unit_r(node, name, dt, t)
        built.append(_Built(name, LI(tau=math.inf), "neuron", _neuron_shape(node, "r")))
        return
    raise SwiftSpikeError(f"node {name!r} has the unsupported NIR type {t}; swiftspike imports {_SUPPORTED}")


def _input_shape(nir, graph, order: list[str], built: list[_Built]) -> tuple[int, ...] | None:
    """The per-sample input shape: the Input node's type, else what the first layer implies."""
    first = graph.nodes[order[0]]
    if isinstance(first, nir.Input):
        t = first.input_type.get("input") if isinstance(first.input_type, dict) else None
        if t is not None and np.size(t) > 0:
            return tuple(int(s) for s in np.asarray(t).reshape(-1))
    if not built:
        return None
    m = built[0].module
    if isinstance(m, nn.Linear):
        return (m.in_features,)
    node = graph.nodes.get(built[0].name)
    if isinstance(m, (nn.Conv1d, nn.Conv2d)) and node is not None and getattr(node, "input_shape", None) is not None:
        return (m.in_channels, *_pair(node.input_shape, 1 if isinstance(m, nn.Conv1d) else 2))
    if built[0].kind in ("neuron", "scale") and built[0].shape:
        return built[0].shape
    return None


def _check_shapes(built: list[_Built], shape: tuple[int, ...], dtype: torch.dtype) -> None:
    """Run zeros through every layer and check that each neuron's parameter arrays match its input."""
    with torch.no_grad():
        for b in built:
            if b.kind in ("neuron", "scale"):
                if int(np.prod(b.shape)) != 1 and tuple(b.shape) != tuple(shape):
                    raise SwiftSpikeError(
                        f"the NIR graph has mismatched shapes: node {b.name!r} has parameters of shape "
                        f"{tuple(b.shape)} but receives input of shape {tuple(shape)}"
                    )
                continue
            try:
                shape = tuple(b.module(torch.zeros((1, *shape), dtype=dtype)).shape[1:])
            except RuntimeError as e:
                raise SwiftSpikeError(
                    f"the NIR graph has mismatched shapes: node {b.name!r} "
                    f"({type(b.module).__name__}) cannot take input of shape {tuple(shape)} "
                    f"({str(e).splitlines()[0]})"
                ) from None


def import_nir(
    graph_or_path: Any, *, dt: float | None = None, batch_first: bool = False, dtype: torch.dtype = torch.float32
) -> SNN:
    r"""Build a swiftspike :class:`~swiftspike.engines.sync.SNN` from a NIR graph or ``.nir`` file.

    ``dt`` is the time step ``DT`` in seconds used to discretise the graph's neurons; by default the one
    stored in the graph's metadata (``{"dt": ...}``), else :data:`DEFAULT_DT`. Asking for a ``dt`` that
    differs from the stored one, or a graph whose nodes carry different time steps, is an error. LIF/LI
    nodes become swiftspike LIF/LI with :math:`\beta = 1 - DT/\tau` and the input gain
    :math:`R\,DT/\tau` and bias :math:`(1-\beta) v_\text{leak}` folded into the preceding Affine/Conv node
    (or a :class:`Scale` layer); parameters are computed in float64 and rounded once to ``dtype``, and each
    ``tau`` is chosen so that the module's own :math:`\beta` is the graph's rounded to ``dtype``. The
    returned network carries ``input_shape`` (per sample, or ``None``) and ``dt``. Only sequential graphs are
    supported; every problem raises one :class:`SwiftSpikeError`.
    """
    nir = _nir()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise SwiftSpikeError(f"dtype must be a floating-point torch dtype, got {dtype}")
    if isinstance(graph_or_path, (str, os.PathLike)):
        graph = read_nir(graph_or_path)
    elif isinstance(graph_or_path, nir.NIRGraph):
        graph = graph_or_path
    elif isinstance(graph_or_path, nir.NIRNode):
        graph = nir.NIRGraph(nodes={"node": graph_or_path}, edges=[], type_check=False)
    else:
        raise SwiftSpikeError(
            f"import_nir needs a nir.NIRGraph or a path to a .nir file, got {type(graph_or_path).__name__}"
        )
    if not isinstance(graph.nodes, dict) or not graph.nodes:
        raise SwiftSpikeError("the NIR graph has no nodes")
    DT = _graph_dt(graph, dt)
    order = _chain(graph)
    built: list[_Built] = []
    for name in order:
        _build_node(nir, name, graph.nodes[name], DT, built)
    if not built:
        raise SwiftSpikeError("the NIR graph has no layers (only input and output nodes)")
    for b in built:
        b.module.to(dtype)
        _finish(b, dtype)
    shape = _input_shape(nir, graph, order, built)
    if shape is not None:
        _check_shapes(built, shape, dtype)
    net = SNN(*[b.module for b in built], batch_first=batch_first)
    setattr(net, "input_shape", shape)  # noqa: B010 (plain attributes on an nn.Module)
    setattr(net, "dt", DT)  # noqa: B010
    return net


# ----------------------------------------------------------------------------------------------------
# a JSON description of a sequential SNN of the layers above (for checkpoints of imported networks)
def layer_spec(net: nn.Module) -> list[dict[str, Any]]:
    """A JSON-able description of every layer of ``net`` (types, sizes, settings and parameter shapes; no
    weights): :func:`build_layers` rebuilds a network whose ``state_dict`` has the same keys and shapes."""
    out: list[dict[str, Any]] = []
    for name, m in _layers_of(net):
        d: dict[str, Any]
        if isinstance(m, nn.Linear):
            d = {"type": "Linear", "in": m.in_features, "out": m.out_features, "bias": m.bias is not None}
        elif isinstance(m, (nn.Conv1d, nn.Conv2d)):
            d = {
                "type": type(m).__name__,
                "in": m.in_channels,
                "out": m.out_channels,
                "kernel": list(m.kernel_size),
                "stride": list(m.stride),
                "padding": m.padding if isinstance(m.padding, str) else list(m.padding),
                "dilation": list(m.dilation),
                "groups": m.groups,
                "bias": m.bias is not None,
            }
        elif isinstance(m, nn.Flatten):
            d = {"type": "Flatten", "start_dim": m.start_dim, "end_dim": m.end_dim}
        elif isinstance(m, nn.AvgPool2d):
            d = {
                "type": "AvgPool2d",
                "kernel": list(_pair(m.kernel_size, 2)),
                "stride": list(_pair(m.stride if m.stride is not None else m.kernel_size, 2)),
                "padding": list(_pair(m.padding, 2)),
                "divisor_override": m.divisor_override,
            }
        elif isinstance(m, Scale):
            d = {"type": "Scale", "shape": list(m.scale.shape)}
        elif isinstance(m, LIF) and type(m) in (LIF, IF):
            r = m.reset_mechanism
            d = {
                "type": type(m).__name__,
                "reset": r.name,
                "v_reset": float(getattr(r, "v_reset", 0.0)),
                "refractory_steps": m.refractory_steps,
                "dt": m.dt,
                "tau_shape": list(m.tau.shape),
                "v_threshold_shape": list(m.v_threshold.shape),
            }
        elif isinstance(m, LI):
            d = {"type": "LI", "dt": m.dt, "tau_shape": list(m.tau.shape)}
        else:
            raise SwiftSpikeError(f"layer {name!r} ({type(m).__name__}) cannot be described by layer_spec")
        out.append(d)
    return out


def build_layers(spec: Sequence[dict[str, Any]], *, batch_first: bool = False) -> SNN:
    """Rebuild the network described by :func:`layer_spec` (parameters at placeholder values; load a
    ``state_dict`` next)."""
    layers: list[nn.Module] = []
    try:
        for d in spec:
            t = d["type"]
            if t == "Linear":
                m: nn.Module = nn.Linear(d["in"], d["out"], bias=d["bias"])
            elif t in ("Conv1d", "Conv2d"):
                cls = nn.Conv1d if t == "Conv1d" else nn.Conv2d
                pad = d["padding"] if isinstance(d["padding"], str) else tuple(d["padding"])
                m = cls(
                    d["in"],
                    d["out"],
                    tuple(d["kernel"]),
                    stride=tuple(d["stride"]),
                    padding=pad,
                    dilation=tuple(d["dilation"]),
                    groups=d["groups"],
                    bias=d["bias"],
                )
            elif t == "Flatten":
                m = nn.Flatten(d["start_dim"], d["end_dim"])
            elif t == "AvgPool2d":
                m = nn.AvgPool2d(
                    tuple(d["kernel"]),
                    tuple(d["stride"]),
                    tuple(d["padding"]),
                    divisor_override=d.get("divisor_override"),
                )
            elif t == "Scale":
                m = Scale(torch.ones(d["shape"]))
            elif t in ("LIF", "IF"):
                kw = {
                    "v_reset": d["v_reset"],
                    "reset": d["reset"],
                    "refractory_steps": d["refractory_steps"],
                    "dt": d["dt"],
                }
                m = LIF(tau=2.0, **kw) if t == "LIF" else IF(**kw)
                _set_tensor(m, "tau", torch.full(d["tau_shape"], float(m.tau)))
                _set_tensor(m, "v_threshold", torch.ones(d["v_threshold_shape"]))
            elif t == "LI":
                m = LI(tau=2.0, dt=d["dt"])
                _set_tensor(m, "tau", torch.full(d["tau_shape"], 2.0))
            else:
                raise SwiftSpikeError(f"unknown layer type {t!r} in the layer spec")
            layers.append(m)
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, SwiftSpikeError):
            raise
        raise SwiftSpikeError(f"bad layer spec: {e}") from None
    return SNN(*layers, batch_first=batch_first)
