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
from collections.abc import Callable

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from ..devices import resolve_device
from ..errors import SwiftSpikeError, check_positive_int, check_tensor, choose
from ..metrics.record import RunRecord
from ..neurons.modules import IF, LI, LIF
from ..neurons.surrogate import Rectangular
from .ann import ClippedReLU
from .calibrate import METHODS, LayerCalibration, calibrate_layer

_STATELESS = (
    nn.Conv2d,
    nn.Linear,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.MaxPool2d,
    nn.Flatten,
    nn.Dropout,
    nn.Identity,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
)


def fold_bn(layer: nn.Module, bn: nn.Module) -> nn.Module:
    r"""Return a copy of ``layer`` (Conv2d/Linear) with the eval-mode ``bn`` folded in:
    :math:`W' = W \gamma / \sqrt{\sigma^2 + \epsilon}`,
    :math:`b' = (b - m) \gamma / \sqrt{\sigma^2 + \epsilon} + \beta`."""
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
    ``mode``: ``'snn'`` (spiking), ``'ann'`` (``clip(x, 0, mu)`` per step, used during calibration; a
    ReLU without ceiling, ``mu = nan``, is ``max(x, 0)``). ``observer(self, x)``, when set, sees the
    time-major input ``[T, B, ...]`` before the layer runs (calibration fits the layer there).
    A call is one whole run (the neuron starts at rest) unless the owner opened a run with
    :meth:`begin_run`: then calls continue the same run (chunks of time steps) until :meth:`end_run`.
    """

    mu: torch.Tensor  # a buffer

    def __init__(self, mu: float | None, name: str = "") -> None:
        super().__init__()
        self.layer_name = name
        self.register_buffer("mu", torch.tensor(float(mu) if mu is not None else float("nan")))
        self.neuron: LIF = IF(v_threshold=1.0, reset="soft", surrogate=Rectangular(1.0))
        self.amplitude = nn.Parameter(torch.tensor(1.0), requires_grad=False)
        self.shift = nn.Parameter(torch.tensor(0.0), requires_grad=False)
        self.T = 1
        self.mode = "snn"
        self.observer: Callable[[SpikeAct, torch.Tensor], None] | None = None
        self.spike_count: torch.Tensor | None = None  # spikes per sample (last run)
        self.n_neurons = 0
        self._in_run = False

    def set_calibration(self, cal: LayerCalibration) -> None:
        self.neuron = IF(v_threshold=cal.theta, reset="soft", surrogate=Rectangular(cal.theta)).to(
            self.amplitude.device
        )
        with torch.no_grad():
            self.amplitude.fill_(cal.amplitude)
            self.shift.fill_(cal.shift)

    @property
    def calibration(self) -> LayerCalibration:
        return LayerCalibration(
            *(float(torch.as_tensor(v).detach()) for v in (self.neuron.v_threshold, self.amplitude, self.shift))
        )

    def begin_run(self) -> None:
        """Start a run: neuron at rest, spike count cleared; later calls continue it until :meth:`end_run`."""
        self.neuron.reset_state()
        self.spike_count = None
        self._in_run = True

    def end_run(self) -> None:
        self.neuron.reset_state()
        self._in_run = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = self.T
        if x.shape[0] % T:
            raise SwiftSpikeError(f"SpikeAct got a folded batch of {x.shape[0]} not divisible by T={T}")
        xt = x.reshape(T, x.shape[0] // T, *x.shape[1:])
        if self.observer is not None:
            self.observer(self, xt)
        if self.mode == "ann":
            mu = float(self.mu)
            return x.clamp(min=0) if math.isnan(mu) else x.clamp(0, mu)
        whole = not self._in_run
        if whole:
            self.begin_run()
        try:
            zero_shift = not self.shift.requires_grad and float(self.shift) == 0.0
            s = self.neuron(xt if zero_shift else xt + self.shift)
        finally:
            if whole:
                self.end_run()
        self.n_neurons = int(s[0, 0].numel())
        count = s.detach().sum(dim=(0, *range(2, s.dim())))
        self.spike_count = count if whole or self.spike_count is None else self.spike_count + count
        return (s * self.amplitude).reshape(x.shape)

    def extra_repr(self) -> str:
        c = self.calibration
        return f"theta={c.theta:.4g}, amplitude={c.amplitude:.4g}, shift={c.shift:.4g}, mu={float(self.mu):.4g}"


class SpikingMaxPool(nn.Module):
    r"""Max pooling of spike trains, gated by the running input count: at step :math:`t` each window passes
    the value of the input with the largest cumulative sum :math:`\sum_{k \le t} x_k` (first one on ties),
    so the output rate tracks the *largest input rate* (the ANN's max) instead of OR-ing spikes. The
    running sum carries over between the chunks of one run (:meth:`begin_run` / :meth:`end_run`)."""

    def __init__(self, pool: nn.MaxPool2d) -> None:
        super().__init__()
        self.pool = pool
        self.T = 1
        self._in_run = False
        self._count: torch.Tensor | None = None

    def begin_run(self) -> None:
        self._count = None
        self._in_run = True

    def end_run(self) -> None:
        self._count = None
        self._in_run = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = self.T
        p = self.pool
        xt = x.reshape(T, x.shape[0] // T, *x.shape[1:])
        # running sums in float64: exact for spike trains (sums of a few multiples of A), so they do not depend
        # on how a device's cumsum orders its additions, nor on where a run was cut into chunks
        cum = xt.detach().double()
        if self._in_run and self._count is not None:
            cum = torch.cat((cum[:1] + self._count, cum[1:]))
        cum = cum.cumsum(0)
        if self._in_run:
            self._count = cum[-1]
        cum = cum.reshape(x.shape)
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
        if (
            isinstance(prev, fx.Node)
            and prev.op == "call_module"
            and isinstance(prev.target, str)  # always, for call_module
            and isinstance(modules[prev.target], (nn.Conv2d, nn.Linear))
            and len(prev.users) == 1
        ):
            fused = fold_bn(modules[prev.target], modules[node.target])
            _set_module(gm, prev.target, fused)
            modules[prev.target] = fused
            node.replace_all_uses_with(prev)
            gm.graph.erase_node(node)
    # 2) max pooling of spike trains (see SpikingMaxPool)
    for node in list(gm.graph.nodes):
        if node.op == "call_module" and isinstance(modules[node.target], nn.MaxPool2d):
            pool = SpikingMaxPool(modules[node.target])
            _set_module(gm, node.target, pool)
            modules[node.target] = pool
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
                raise SwiftSpikeError(
                    f"cannot convert layer {node.target!r} of type {type(m).__name__}; supported: "
                    "Conv2d, Linear, ReLU, ClippedReLU, AvgPool2d, MaxPool2d, BatchNorm, Flatten, add"
                )
        elif (node.op == "call_function" and node.target in (F.relu, torch.relu)) or (
            node.op == "call_method" and node.target == "relu"
        ):
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


DEFAULT_CHUNK_BYTES = 1 << 30  # activation memory of one forward chunk (1 GiB)


class _Footprint(fx.Interpreter):
    """Runs the graph like ``GraphModule.__call__`` and adds up the bytes of every node's output."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.nbytes = 0

    def run_node(self, n: fx.Node) -> object:
        out = super().run_node(n)
        if isinstance(out, torch.Tensor):
            self.nbytes += out.numel() * out.element_size()
        return out


class ConvertedSNN(nn.Module):
    """The converted network. ``forward(x)``: ``x`` static ``[B, ...]`` (direct encoding, repeated over
    ``T`` steps) or, with ``time_major=True``, ``[T, B, ...]``; returns the time-averaged output ``[B, C]``
    (or every step's running average ``[T, B, C]`` with ``per_step=True``).

    Time is folded into the batch (``[t*B, ...]``) for the stateless layers. When the activations of all
    ``T`` steps would take more than ``max_chunk_bytes`` (default 1 GiB; ``None`` or ``inf``: no bound), the
    run goes through time in chunks of as many steps as fit, carrying neuron states, max-pool counts and the
    readout from chunk to chunk; the outputs are exactly those of one unchunked pass (forward hooks on inner
    modules see one call per chunk). The footprint per sample and step (the outputs of all graph nodes) is
    measured in the first run with each input shape (for the calibration shape: during :func:`convert`); a
    first run at ``T > 1`` with an unmeasured shape runs step 1 alone to measure it. The input is checked
    for NaN/inf once per run."""

    def __init__(
        self, graph: fx.GraphModule, T: int, method: str = "", max_chunk_bytes: float | None = DEFAULT_CHUNK_BYTES
    ) -> None:
        super().__init__()
        self.graph_module = graph
        self.T = check_positive_int(T, "T")
        self.method = method
        self.readout = LI(tau=math.inf)
        self.max_chunk_bytes = max_chunk_bytes
        self._step_bytes: dict[tuple[int, ...], int] = {}  # activation bytes per sample and step, per input shape

    @property
    def spike_layers(self) -> list[SpikeAct]:
        return [m for m in self.graph_module.modules() if isinstance(m, SpikeAct)]

    def set_mode(self, mode: str) -> None:
        for a in self.spike_layers:
            a.mode = choose("mode", mode, ("snn", "ann"))

    def forward(
        self,
        x: torch.Tensor,
        T: int | None = None,
        time_major: bool = False,
        per_step: bool = False,
        max_chunk_bytes: float | None = None,
    ) -> torch.Tensor:
        check_tensor(x, "input", min_ndim=2)  # once per run, never per chunk or layer
        if time_major:
            T = check_positive_int(x.shape[0], "T")
            B, sample = x.shape[1], tuple(x.shape[2:])
        else:
            T = self.T if T is None else check_positive_int(T, "T")
            B, sample = x.shape[0], tuple(x.shape[1:])
        bound = self.max_chunk_bytes if max_chunk_bytes is None else max_chunk_bytes
        bound = math.inf if bound is None else float(bound)
        bounded = math.isfinite(bound) and T > 1
        step_bytes = self._step_bytes.get(sample)
        chunk = T
        if bounded:  # unknown footprint: run step 1 alone and measure it
            chunk = 1 if step_bytes is None else max(1, min(T, int(bound // (step_bytes * B))))
        stateful = [m for m in self.graph_module.modules() if isinstance(m, (SpikeAct, SpikingMaxPool))]
        for m in stateful:
            m.begin_run()
        self.readout.reset_state()
        outs = []
        try:
            t0 = 0
            while t0 < T:
                n = min(chunk, T - t0)
                xc = x[t0 : t0 + n] if time_major else x.unsqueeze(0).expand(n, *x.shape)
                xc = xc.reshape(n * B, *xc.shape[2:])
                for m in stateful:
                    m.T = n
                if step_bytes is None:  # first run with this input shape (convert's ANN pass, usually)
                    meter = _Footprint(self.graph_module)
                    y = meter.run(xc)
                    step_bytes = self._step_bytes[sample] = max(1, meter.nbytes // max(1, n * B))
                    if bounded:
                        chunk = max(1, min(T, int(bound // (step_bytes * B))))
                else:
                    y = self.graph_module(xc)
                acc = self.readout(y.reshape(n, B, *y.shape[1:]))  # v_t = sum_{k<=t} y_k  (LI with tau = inf)
                outs.append(acc if per_step else acc[-1])
                t0 += n
        finally:
            for m in stateful:
                m.end_run()
            self.readout.reset_state()
        if per_step:
            acc = outs[0] if len(outs) == 1 else torch.cat(outs)
            steps = torch.arange(1, T + 1, dtype=acc.dtype, device=acc.device).reshape(T, *([1] * (acc.dim() - 1)))
            return acc / steps
        return outs[-1] / T

    def run(self, x: torch.Tensor, T: int | None = None) -> RunRecord:
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
        hooks += [
            a.neuron.register_forward_hook(lambda mod, i, s, n=a.layer_name: spike_hook(mod, i, s, n))
            for a in self.spike_layers
        ]
        hooks.append(self.readout.register_forward_pre_hook(lambda mod, i: readout_in.append(i[0])))
        try:
            self.forward(x, T=T)
        finally:
            for h in hooks:
                h.remove()
        ops = [analytical_synops(n, *seen[n], static_analog=i == 0) for i, (n, _) in enumerate(synaptic) if n in seen]
        return RunRecord(output=readout_in[-1], layers=spikes, synops=ops, output_spiking=False)


def convert(
    ann: nn.Module,
    calib_x: torch.Tensor,
    *,
    T: int = 2,
    method: str = "distribution-aware",
    percentile: float = 99.9,
    sequential: bool = True,
    max_samples: int | None = None,
    temporal_max_T: int = 8,
    device: str | torch.device | None = None,
) -> ConvertedSNN:
    """Convert ``ann`` to a :class:`ConvertedSNN` that runs for ``T`` steps, calibrating every spiking
    layer with ``method`` (one of :data:`~swiftspike.conversion.calibrate.METHODS`) on ``calib_x``
    (a batch of training inputs, ``[B, ...]``).

    One ANN pass over ``calib_x`` gives every layer's pre-activations; ``max``, ``percentile`` and
    ``uniform-optimal`` (and distribution-aware with ``sequential=False``) calibrate each layer right there,
    on all of its activations (exact maximum and percentile). With ``sequential=True`` (distribution-aware
    only), layer ``l`` is fitted on the input current it receives *in the SNN* with layers ``< l`` already
    converted, against the clipped ANN activation as target, so errors of earlier layers are compensated:
    one SNN pass at ``T`` steps in which each layer is fitted on its input as it arrives, before it
    spikes. For ``T <= temporal_max_T`` the fit uses the real IF spike counts on that input's time course
    (spike timing matters most at small T); above it the constant-current staircase of its time average.
    ``max_samples``: fit distribution-aware on a random subset of that many values per layer (default: all).
    ANN ReLUs without a ceiling get :math:`\\mu` = the largest calibration activation.
    ``device``: where calibration runs and the returned SNN lives (``auto``, ``cpu``, ``cuda``, ``cuda:N``,
    ``mps``; see :func:`swiftspike.devices.resolve_device`); ``None`` = the device of ``calib_x``. The
    ``ann`` passed in is not moved (it is copied).
    """
    choose("calibration method", method, METHODS)
    check_positive_int(T, "T")
    check_tensor(calib_x, "calibration batch", min_ndim=2)
    if max_samples is not None:
        check_positive_int(max_samples, "max_samples")
    if not isinstance(ann, nn.Module):
        raise SwiftSpikeError(f"convert needs an nn.Module ANN, got {type(ann).__name__}")
    dev = resolve_device(device) if device is not None else calib_x.device
    calib_x = calib_x.to(dev)
    gm = _trace(ann)
    snn = ConvertedSNN(gm, T, method).to(dev)
    acts = snn.spike_layers
    index = {id(a): i for i, a in enumerate(acts)}
    in_snn = method == "distribution-aware" and sequential
    targets: list[torch.Tensor | None] = [None] * len(acts)
    g = torch.Generator(device=calib_x.device).manual_seed(0)

    def fit(a: SpikeAct, x: torch.Tensor, **kw) -> None:
        a.set_calibration(
            calibrate_layer(method, x, float(a.mu), T, percentile, max_samples=max_samples, generator=g, **kw)
        )

    def ann_pass(a: SpikeAct, xt: torch.Tensor) -> None:  # xt: [1, B, ...], the ANN pre-activation
        x = xt[0].detach()
        if math.isnan(float(a.mu)):
            a.mu.fill_(max(float(x.max()), 1e-6))
        i = index[id(a)]
        if in_snn and i > 0:
            targets[i] = x  # fitted in the SNN pass, against this target
        else:
            fit(a, x)

    def snn_pass(a: SpikeAct, xt: torch.Tensor) -> None:  # xt: [T, B, ...], layers before this one spike
        i = index[id(a)]
        if i == 0:
            return
        mu = float(a.mu)
        xt = xt.detach()
        target = targets[i]
        assert target is not None
        fit(a, xt.mean(0), target=target.clamp(0, mu), x_steps=xt if temporal_max_T >= T else None)
        targets[i] = None

    try:
        with torch.no_grad():
            snn.set_mode("ann")
            for a in acts:
                a.observer = ann_pass
            snn(calib_x, T=1)
            if in_snn and len(acts) > 1:
                snn.set_mode("snn")
                for a in acts:
                    a.observer = snn_pass
                snn(calib_x, T=T, max_chunk_bytes=math.inf)  # a layer needs all T steps of its input at once
    finally:
        for a in acts:
            a.observer = None
    snn.set_mode("snn")
    snn.eval()
    return snn.to(dev)


def make_trainable(snn: ConvertedSNN, leak: bool = True, tau: float = 100.0) -> ConvertedSNN:
    """Prepare ``snn`` for surrogate-gradient fine-tuning (in place): thresholds trainable, and with
    ``leak`` every IF becomes a LIF with trainable ``tau`` (start ``tau``, :math:`\\beta = e^{-1/\\tau}`);
    amplitudes and shifts become trainable; rectangular surrogate of width :math:`\\theta_l`."""
    for a in snn.spike_layers:
        th = float(a.neuron.v_threshold)
        if leak:
            a.neuron = LIF(
                tau=tau, v_threshold=th, reset="soft", surrogate=Rectangular(th), learn_tau=True, learn_threshold=True
            )
        else:
            a.neuron = IF(v_threshold=th, reset="soft", surrogate=Rectangular(th), learn_threshold=True)
        a.neuron.to(a.amplitude.device)  # where the converted network lives
        a.amplitude.requires_grad_(True)
        a.shift.requires_grad_(True)
    return snn
