r"""Compute-energy estimate of a converted SNN against its ANN (the analytical operation-count model).

For every Conv2d / Linear layer :math:`l` the dense FLOPs (MACs per sample) are
:math:`F_l = \text{out elements} \cdot C_{in}/\text{groups} \cdot k_h k_w` (conv) or
:math:`n_{in} n_{out}` (linear). With :math:`\zeta_l` = the spike rate *into* layer :math:`l` (non-zero
input events per input neuron over the whole :math:`T`-step window, measured):

.. math:: E_{ANN} = \sum_l F_l\, E_{MAC}, \qquad
          E_{SNN} = F_1\, E_{MAC} + \sum_{l \ge 2} \zeta_l\, F_l\, E_{AC}.

The first layer sees the analog image (direct encoding); that input is the same at every step, so
its MACs are computed once. This is the analytical model of :mod:`swiftspike.metrics.opmodels`
(:func:`~swiftspike.metrics.opmodels.layer_flops`, :func:`~swiftspike.metrics.opmodels.input_rate`,
:func:`~swiftspike.metrics.opmodels.analytical_ops`); the network runs through
:meth:`ConvertedSNN.run`, whose :class:`~swiftspike.metrics.record.RunRecord` carries the measured
events. Costs come from :data:`swiftspike.metrics.energy.ENERGY_TABLES`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import check_positive_int
from ..metrics.energy import energy, energy_ratio, get_energy_table
from ..metrics.opmodels import analytical_ops, input_rate, layer_flops
from ..metrics.report import Report, ReportBuilder
from ..neurons.functional import li_multistep
from .convert import ConvertedSNN


def dense_flops(layer: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """MACs per sample of ``layer`` mapping ``x`` to ``y`` (batch-first tensors); Conv2d and Linear
    (:func:`~swiftspike.metrics.opmodels.layer_flops`)."""
    return layer_flops(layer, y) if isinstance(layer, (nn.Conv2d, nn.Linear)) else 0


def running_readout(y: torch.Tensor) -> torch.Tensor:
    """The running mean ``[T, B, C]`` of per-step readout values ``y``, accumulated step by step exactly as
    the converted network's readout does (so it equals ``snn(x, T, per_step=True)``)."""
    acc = li_multistep(y, torch.zeros_like(y[0]), 1.0)
    steps = torch.arange(1, y.shape[0] + 1, dtype=acc.dtype, device=acc.device)
    return acc / steps.reshape(-1, *([1] * (acc.dim() - 1)))


def measure(
    snn: ConvertedSNN, x: torch.Tensor, y: torch.Tensor, T: int, table: str = "45nm-fp32", batch_size: int = 256
) -> dict[str, Any]:
    """Run ``snn`` for ``T`` steps on ``x`` and return accuracy, per-layer spike rates, FLOPs, energies.

    Accuracy is the arg-max of the time-averaged readout (after every step for ``accuracy_per_step``)."""
    check_positive_int(T, "T")
    tab = get_energy_table(table)
    builder = ReportBuilder(tab.name)
    events: dict[str, float] = {}  # non-zero inputs summed over T and all samples, per synaptic layer
    n_in: dict[str, int] = {}
    flops: dict[str, int] = {}
    correct, n = 0, 0
    acc_steps = torch.zeros(T, device=x.device)
    snn.eval()
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            rec = snn.run(xb, T)
            builder.add(rec, yb)
            out = running_readout(rec.output)
            acc_steps += (out.argmax(-1) == yb).float().sum(1)
            correct += int((out[-1].argmax(-1) == yb).sum())
            for so in rec.synops:
                assert so.events is not None  # analytical records carry their measured events
                events[so.name] = events.get(so.name, 0.0) + float(so.events.sum())
                n_in[so.name], flops[so.name] = so.n_pre, int(so.dense_macs)
            n += len(xb)
    names = list(flops)
    rate_in = {nm: float(input_rate(events[nm], n, n_in[nm])) for nm in names}
    e_ann = energy(sum(flops.values()), 0, tab)
    first = names[0]
    acs = sum(float(analytical_ops(rate_in[nm], flops[nm])) for nm in names[1:])
    e_snn = energy(flops[first], acs, tab)
    order = [a.layer_name for a in snn.spike_layers]  # report layers in module order
    spikes = {k: builder.layer_spikes[k] for k in order if k in builder.layer_spikes}
    n_neurons = {k: builder.layer_neurons[k] for k in spikes}
    spike_rate = {k: spikes[k] / n / max(1, n_neurons[k]) for k in spikes}  # spikes per neuron over T
    return {
        "accuracy": correct / max(1, n),
        "T": T,
        "n_samples": n,
        "accuracy_per_step": (acc_steps / max(1, n)).tolist(),
        "spikes_per_sample": sum(spikes.values()) / max(1, n),
        "spikes_per_layer": {k: v / max(1, n) for k, v in spikes.items()},
        "spike_rate_per_layer": spike_rate,
        "n_neurons": sum(n_neurons.values()),
        "flops_per_layer": flops,
        "input_rate_per_layer": rate_in,
        "macs": float(flops[first]),
        "acs": float(acs),
        "energy_j": e_snn,
        "ann_energy_j": e_ann,
        "energy_ratio_vs_ann": energy_ratio(e_ann, e_snn),
        "energy_table": tab.name,
    }


def to_report(m: dict[str, Any]) -> Report:
    """Wrap a :func:`measure` result into a :class:`swiftspike.metrics.report.Report`."""
    return Report(
        accuracy=m["accuracy"],
        n_samples=m["n_samples"],
        time_steps=m["T"],
        spikes_per_sample=m["spikes_per_sample"],
        spikes_per_layer=m["spikes_per_layer"],
        spike_density=m["spikes_per_sample"] / max(1, m["n_neurons"] * m["T"]),
        latency_steps=float(m["T"]),
        first_spike_step=None,
        synops=m["macs"] + m["acs"],
        acs=m["acs"],
        macs=m["macs"],
        energy_j=m["energy_j"],
        ann_energy_j=m["ann_energy_j"],
        energy_ratio_vs_ann=m["energy_ratio_vs_ann"],
        energy_table=m["energy_table"],
        accuracy_per_step=m["accuracy_per_step"],
        extra={
            "spike_rate_per_layer": m["spike_rate_per_layer"],
            "flops_per_layer": m["flops_per_layer"],
            "input_rate_per_layer": m["input_rate_per_layer"],
        },
        op_model="analytical",
    )
