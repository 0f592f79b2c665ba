r"""Trace an ANN into a spiking network of swiftspike IF/LIF neurons.

:func:`convert` traces ``ann`` with :mod:`torch.fx`, folds every BatchNorm that follows a Conv2d /
Linear into that layer's weights (:func:`fold_bn`), and replaces every ReLU / :class:`ClippedReLU`
(module or ``F.relu`` / ``torch.relu`` call) by a :class:`SpikeAct`: an IF neuron with soft reset
(:class:`swiftspike.neurons.IF`, ``reset='soft'``) whose binary spikes carry the value :math:`A_l`,

.. math:: h_t = v_{t-1} + x_t + b_l, \quad s_t = H(h_t - \theta_l), \quad v_t = h_t - \theta_l s_t,
          \quad o_t = A_l s_t .

On hardware :math:`A_l` is folded into the next layer's weights, so a synaptic event is still an
accumulate. Everything else in the graph is stateless and runs on all time steps at once (time folded
into the batch: ``[T*B, ...]``), so residual adds, flattening and pooling come for free:

* **AvgPool** is linear: it averages the (amplitude-scaled) spikes.
* **MaxPool** becomes :class:`SpikingMaxPool`: at each step a window passes the spikes of the input
  that has received the most so far (running count), so the output rate follows the largest input rate
  (the ANN's max); OR-ing the spikes would over-estimate it. It is a gate, not an AC-free operation.
* **Residual add** sums two spike trains (values in :math:`\{0, A_1, A_2, A_1 + A_2\}`).

Input: direct encoding (the analog image is the input current at every step, so the first layer is
the only one that multiplies). Output: the last layer is non-spiking; its outputs are accumulated by a
:class:`swiftspike.neurons.LI` with ``tau=inf`` and divided by :math:`T` (mean over time).
"""
from __future__ import annotations

import copy
import math
from typing import Optional

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from ..errors import SwiftSpikeError, check_positive_int, check_tensor, choose
from ..metrics.record import RunRecord
from ..neurons.modules import IF, LI, LIF
from ..neurons.surrogate import Rectangular
from .ann import ClippedReLU
from .calibrate import METHODS, LayerCalibration, calibrate_layer

_STATELESS = (nn.Conv2d, nn.Linear, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.MaxPool2d, nn.Flatten, nn.Dropout,
              nn.Identity, nn.BatchNorm1d, nn.BatchNorm2d)


def fold_bn(layer: nn.Module, bn: nn.Module) -> nn.Module:
    r"""Return a copy of ``layer`` (Conv2d/Linear) with the eval-mode ``bn`` folded in:
    :math:`W' = W \gamma / \sqrt{\sigma^2 + \epsilon}`, :math:`b' = (b - m) \gamma / \sqrt{\sigma^2 + \epsilon} + \beta`."""
    if not isinstance(layer, (nn.Conv2d, nn.Linear)) or not isinstance(bn, (nn.BatchNorm1d, nn.BatchNorm2d)):
        raise SwiftSpikeError("fold_bn needs a Conv2d or Linear layer followed by a BatchNorm layer")
    if bn.running_mean is None or bn.running_var is None:
        raise SwiftSpikeError("fold_bn needs a BatchNorm with running statistics")
    out = copy.deepcopy(layer)
    with torch.no_grad():
        scale = 1.0 / torch.sqrt(bn.running_var + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight
        shift = -bn.running_mean * scale
        if bn.bias is not None:
            shift = shift + bn.bias
        w = out.weight * scale.reshape(-1, *([1] * (out.weight.dim() - 1)))
        b = shift if layer.bias is None else layer.bias * scale + shift
        out.weight = nn.Parameter(w)
        out.bias = nn.Parameter(b)
    return out


class SpikeAct(nn.Module):
    """A converted activation: IF/LIF neuron (soft reset) + spike amplitude ``A`` + input shift ``b``.

    Works on time-folded tensors ``[T*B, ...]`` (``T`` set by the owning :class:`ConvertedSNN`).
    ``mode``: ``'snn'`` (spiking), ``'ann'`` (``clip(x, 0, mu)`` per step, used during calibration).
    """

    def __init__(self, mu: Optional[float], name: str = "") -> None:
        super().__init__()
        self.layer_name = name
        self.register_buffer("mu", torch.tensor(float(mu) if mu is not None else float("nan")))
        self.neuron: LIF = IF(v_threshold=1.0, reset="soft", surrogate=Rectangular(1.0))
        self.amplitude = nn.Parameter(torch.tensor(1.0), requires_grad=False)
        self.shift = nn.Parameter(torch.tensor(0.0), requires_grad=False)
        self.T = 1
        self.mode = "snn"
        self.record_input = False
        self.recorded: Optional[torch.Tensor] = None
        self.record_steps = False  # with record_input: also keep the time-resolved input [T, B, ...]
        self.recorded_steps: Optional[torch.Tensor] = None
        self.spike_count: Optional[torch.Tensor] = None  # spikes per sample (last run)
        self.n_neurons = 0

    def set_calibration(self, cal: LayerCalibration) -> None:
        self.neuron = IF(v_threshold=cal.theta, reset="soft", surrogate=Rectangular(cal.theta))
        with torch.no_grad():
            self.amplitude.fill_(cal.amplitude)
            self.shift.fill_(cal.shift)

    @property
    def calibration(self) -> LayerCalibration:
        return LayerCalibration(*(float(torch.as_tensor(v).detach()) for v in
                                  (self.neuron.v_threshold, self.amplitude, self.shift)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = self.T
        if x.shape[0] % T:
            raise SwiftSpikeError(f"SpikeAct got a folded batch of {x.shape[0]} not divisible by T={T}")
        xt = x.reshape(T, x.shape[0] // T, *x.shape[1:])
        if self.record_input:
            self.recorded = xt.mean(0).detach()
            self.recorded_steps = xt.detach() if self.record_steps else None
        if self.mode == "ann":
            return x.clamp(0, float(self.mu))
        self.neuron.reset_state()
        s = self.neuron(xt + self.shift)
        self.neuron.reset_state()
        self.n_neurons = int(s[0, 0].numel())
        self.spike_count = s.detach().sum(dim=(0, *range(2, s.dim())))
        return (s * self.amplitude).reshape(x.shape)

    def extra_repr(self) -> str:
        c = self.calibration
        return f"theta={c.theta:.4g}, amplitude={c.amplitude:.4g}, shift={c.shift:.4g}, mu={float(self.mu):.4g}"


class SpikingMaxPool(nn.Module):
    r"""Max pooling of spike trains, gated by the running input count: at step :math:`t` each window passes
    the value of the input with the largest cumulative sum :math:`\sum_{k \le t} x_k` (first one on ties),
    so the output rate tracks the *largest input rate* (the ANN's max) instead of OR-ing spikes."""

    def __init__(self, pool: nn.MaxPool2d) -> None:
        super().__init__()
        self.pool = pool
        self.T = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = self.T
        p = self.pool
        xt = x.reshape(T, x.shape[0] // T, *x.shape[1:])
        cum = xt.cumsum(0).reshape(x.shape)
        _, idx = F.max_pool2d(cum, p.kernel_size, p.stride, p.padding, p.dilation, p.ceil_mode, return_indices=True)
        out = x.reshape(*x.shape[:2], -1).gather(2, idx.reshape(*idx.shape[:2], -1))
        return out.reshape(idx.shape)


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, ClippedReLU) or super().is_leaf_module(m, qualname)


def _trace(ann: nn.Module) -> fx.GraphModule:
    ann = copy.deepcopy(ann).eval()
    try:
        graph = _Tracer().trace(ann)
    except Exception as e:  # data-dependent control flow etc.
        raise SwiftSpikeError(f"cannot trace the ANN with torch.fx ({type(e).__name__}: {e})") from None
    gm = fx.GraphModule(ann, graph)
    modules = dict(gm.named_modules())
    # 1) fold BatchNorm into the preceding Conv2d / Linear
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(modules[node.target], (nn.BatchNorm1d, nn.BatchNorm2d)):
            continue
        prev = node.args[0]
        if (isinstance(prev, fx.Node) and prev.op == "call_module"
                and isinstance(modules[prev.target], (nn.Conv2d, nn.Linear)) and len(prev.users) == 1):
            fused = fold_bn(modules[prev.target], modules[node.target])
            _set_module(gm, prev.target, fused)
            modules[prev.target] = fused
            node.replace_all_uses_with(prev)
            gm.graph.erase_node(node)
    # 2) max pooling of spike trains (see SpikingMaxPool)
    for node in list(gm.graph.nodes):
        if node.op == "call_module" and isinstance(modules[node.target], nn.MaxPool2d):
            new = SpikingMaxPool(modules[node.target])
            _set_module(gm, node.target, new)
            modules[node.target] = new
    # 3) replace activations by SpikeAct
    n_act = 0
    for node in list(gm.graph.nodes):
        mu = None
        is_act = False
        if node.op == "call_module":
            m = modules[node.target]
            if isinstance(m, ClippedReLU):
                is_act, mu = True, float(m.mu.detach())
            elif isinstance(m, nn.ReLU):
                is_act = True
            elif not isinstance(m, _STATELESS) and not isinstance(m, (SpikeAct, SpikingMaxPool)):
                raise SwiftSpikeError(f"cannot convert layer {node.target!r} of type {type(m).__name__}; supported: "
                                      "Conv2d, Linear, ReLU, ClippedReLU, AvgPool2d, MaxPool2d, BatchNorm, Flatten, add")
        elif node.op == "call_function" and node.target in (F.relu, torch.relu):
            is_act = True
        elif node.op == "call_method" and node.target == "relu":
            is_act = True
        if not is_act:
            continue
        name = f"spike{n_act}"
        n_act += 1
        gm.add_submodule(name, SpikeAct(mu, name))
        with gm.graph.inserting_after(node):
            new = gm.graph.call_module(name, (node.args[0],))
        node.replace_all_uses_with(new)
        gm.graph.erase_node(node)
    if n_act == 0:
        raise SwiftSpikeError("the ANN has no ReLU / ClippedReLU activation to turn into spiking neurons")
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm


def _set_module(gm: nn.Module, target: str, new: nn.Module) -> None:
    parent_name, _, attr = target.rpartition(".")
    parent = gm.get_submodule(parent_name) if parent_name else gm
    setattr(parent, attr, new)


class ConvertedSNN(nn.Module):
    """The converted network. ``forward(x)``: ``x`` static ``[B, ...]`` (direct encoding, repeated over
    ``T`` steps) or, with ``time_major=True``, ``[T, B, ...]``; returns the time-averaged output ``[B, C]``
    (or every step's running average ``[T, B, C]`` with ``per_step=True``)."""

    def __init__(self, graph: fx.GraphModule, T: int, method: str = "") -> None:
        super().__init__()
        self.graph_module = graph
        self.T = check_positive_int(T, "T")
        self.method = method
        self.readout = LI(tau=math.inf)

    @property
    def spike_layers(self) -> list[SpikeAct]:
        return [m for m in self.graph_module.modules() if isinstance(m, SpikeAct)]

    def set_mode(self, mode: str) -> None:
        for a in self.spike_layers:
            a.mode = choose("mode", mode, ("snn", "ann"))

    def forward(self, x: torch.Tensor, T: Optional[int] = None, time_major: bool = False,
                per_step: bool = False) -> torch.Tensor:
        check_tensor(x, "input", min_ndim=2)
        if time_major:
            T = x.shape[0]
            check_positive_int(T, "T")
            xt = x
        else:
            T = self.T if T is None else check_positive_int(T, "T")
            xt = x.unsqueeze(0).expand(T, *x.shape)
        B = xt.shape[1]
        for m in self.graph_module.modules():
            if isinstance(m, (SpikeAct, SpikingMaxPool)):
                m.T = T
        y = self.graph_module(xt.reshape(T * B, *xt.shape[2:]))
        y = y.reshape(T, B, *y.shape[1:])
        self.readout.reset_state()
        acc = self.readout(y)  # v_t = sum_{k<=t} y_k  (LI with tau = inf)
        self.readout.reset_state()
        if per_step:
            steps = torch.arange(1, T + 1, dtype=acc.dtype, device=acc.device).reshape(T, *([1] * (acc.dim() - 1)))
            return acc / steps
        return acc[-1] / T

    def run(self, x: torch.Tensor, T: Optional[int] = None) -> RunRecord:
        r"""Run ``T`` steps (default ``self.T``) on static ``x`` ``[B, ...]`` (direct encoding) and return a
        :class:`~swiftspike.metrics.record.RunRecord`:

        * ``output``: the readout's input at every step ``[T, B, C]``, ``output_spiking=False`` (its running
          mean is ``forward(x, T, per_step=True)``, its mean over ``T`` is ``forward(x, T)``);
        * ``layers``: spikes of every :class:`SpikeAct` layer per step;
        * ``synops``: the analytical operation counts
          (:func:`~swiftspike.metrics.opmodels.analytical_synops`) of every Conv/Linear layer: the first
          (in module order) sees the static analog image, :math:`F_1` MACs once; every later one
          :math:`\zeta_l F_l` ACs at its measured input rate (non-zero inputs, amplitudes and pooled
          values included).
        """
        from ..metrics.opmodels import analytical_synops, layer_flops
        from ..metrics.record import LayerSpikes
        from ..metrics.synops import is_synaptic

        T = self.T if T is None else check_positive_int(T, "T")
        seen: dict[str, tuple[torch.Tensor, int, int]] = {}
        spikes: list[LayerSpikes] = []
        readout_in: list[torch.Tensor] = []

        def synaptic_hook(mod: nn.Module, inp: tuple, out: torch.Tensor, name: str) -> None:
            xi = inp[0].detach()
            events = (xi != 0).reshape(T, -1, xi[0].numel()).sum((0, 2))  # non-zero inputs per sample
            seen[name] = (events, int(xi[0].numel()), layer_flops(mod, out))

        def spike_hook(mod: nn.Module, inp: tuple, s: torch.Tensor, name: str) -> None:
            spikes.append(LayerSpikes(name, s.flatten(2).sum(-1), int(s[0, 0].numel())))

        synaptic = [(n, m) for n, m in self.graph_module.named_modules() if is_synaptic(m)]
        hooks = [m.register_forward_hook(lambda mod, i, o, n=n: synaptic_hook(mod, i, o, n)) for n, m in synaptic]
        hooks += [a.neuron.register_forward_hook(lambda mod, i, s, n=a.layer_name: spike_hook(mod, i, s, n))
                  for a in self.spike_layers]
        hooks.append(self.readout.register_forward_pre_hook(lambda mod, i: readout_in.append(i[0])))
        try:
            self.forward(x, T=T)
        finally:
            for h in hooks:
                h.remove()
        ops = [analytical_synops(n, *seen[n], static_analog=i == 0) for i, (n, _) in enumerate(synaptic) if n in seen]
        return RunRecord(output=readout_in[-1], layers=spikes, synops=ops, output_spiking=False)


def convert(ann: nn.Module, calib_x: torch.Tensor, *, T: int = 2, method: str = "distribution-aware",
            percentile: float = 99.9, sequential: bool = True, max_samples: int = 200_000,
            temporal_max_T: int = 8) -> ConvertedSNN:
    """Convert ``ann`` to a :class:`ConvertedSNN` that runs for ``T`` steps, calibrating every spiking
    layer with ``method`` (one of :data:`~swiftspike.conversion.calibrate.METHODS`) on ``calib_x``
    (a batch of training inputs, ``[B, ...]``).

    With ``sequential=True`` (distribution-aware only), layer ``l`` is fitted on the time-averaged input
    current it receives *in the SNN* with layers ``< l`` already converted, against the clipped ANN
    activation as target, so errors of earlier layers are compensated; for ``T <= temporal_max_T`` the
    fit uses the real IF spike counts on that input's time course (spike timing matters most at small
    T; above it the constant-current staircase is used, which saves memory). ANN ReLUs without a ceiling get
    :math:`\\mu` = the largest calibration activation.
    """
    choose("calibration method", method, METHODS)
    check_positive_int(T, "T")
    check_tensor(calib_x, "calibration batch", min_ndim=2)
    if not isinstance(ann, nn.Module):
        raise SwiftSpikeError(f"convert needs an nn.Module ANN, got {type(ann).__name__}")
    gm = _trace(ann)
    snn = ConvertedSNN(gm, T, method)
    acts = snn.spike_layers
    # pass 1: ANN pre-activations (all layers in ANN mode, T = 1)
    snn.set_mode("ann")
    for a in acts:
        a.record_input = True
    with torch.no_grad():
        snn(calib_x, T=1)
    ann_pre = [a.recorded for a in acts]
    for a, x in zip(acts, ann_pre):
        if math.isnan(float(a.mu)):
            a.mu.fill_(max(float(x.max()), 1e-6))
    g = torch.Generator().manual_seed(0)

    def sub(t: torch.Tensor, idx: Optional[torch.Tensor]) -> torch.Tensor:
        t = t.reshape(-1)
        return t if idx is None else t[idx]

    for i, a in enumerate(acts):
        n = ann_pre[i].numel()
        idx = torch.randperm(n, generator=g)[:max_samples] if n > max_samples else None
        mu = float(a.mu)
        if method == "distribution-aware" and sequential and i > 0:
            a.record_steps = T <= temporal_max_T
            with torch.no_grad():
                snn(calib_x, T=T)  # layers < i spike, layers >= i are still ANN
            x_in = a.recorded
            steps = None
            if a.record_steps:
                steps = a.recorded_steps.reshape(T, -1)
                steps = steps if idx is None else steps[:, idx]
            cal = calibrate_layer(method, sub(x_in, idx), mu, T, percentile,
                                  target=sub(ann_pre[i], idx).clamp(0, mu), x_steps=steps)
            a.record_steps, a.recorded_steps = False, None
        else:
            cal = calibrate_layer(method, sub(ann_pre[i], idx), mu, T, percentile)
        a.set_calibration(cal)
        a.mode = "snn"
    for a in acts:
        a.record_input = False
        a.recorded = None
    snn.eval()
    return snn


def make_trainable(snn: ConvertedSNN, leak: bool = True, tau: float = 100.0) -> ConvertedSNN:
    """Prepare ``snn`` for surrogate-gradient fine-tuning (in place): thresholds trainable, and with
    ``leak`` every IF becomes a LIF with trainable ``tau`` (start ``tau``, :math:`\\beta = e^{-1/\\tau}`);
    amplitudes and shifts become trainable; rectangular surrogate of width :math:`\\theta_l`."""
    for a in snn.spike_layers:
        th = float(a.neuron.v_threshold)
        if leak:
            a.neuron = LIF(tau=tau, v_threshold=th, reset="soft", surrogate=Rectangular(th),
                           learn_tau=True, learn_threshold=True)
        else:
            a.neuron = IF(v_threshold=th, reset="soft", surrogate=Rectangular(th), learn_threshold=True)
        a.amplitude.requires_grad_(True)
        a.shift.requires_grad_(True)
    return snn
