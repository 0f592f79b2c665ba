r"""Compute-energy estimate of a converted SNN against its ANN.

For every Conv2d / Linear layer :math:`l` the dense FLOPs (MACs per sample) are
:math:`F_l = \text{out elements} \cdot C_{in}/\text{groups} \cdot k_h k_w` (conv) or
:math:`n_{in} n_{out}` (linear). With :math:`\zeta_l` = the spike rate *into* layer :math:`l` (non-zero
input events per input neuron over the whole :math:`T`-step window, measured):

.. math:: E_{ANN} = \sum_l F_l\, E_{MAC}, \qquad
          E_{SNN} = F_1\, E_{MAC} + \sum_{l \ge 2} \zeta_l\, F_l\, E_{AC}.

The first layer sees the analog image (direct encoding); that input is the same at every step, so
its MACs are computed once. Costs come from :data:`swiftspike.metrics.energy.ENERGY_TABLES`.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import check_positive_int
from ..metrics.energy import energy, energy_ratio, get_energy_table
from ..metrics.report import Report
from .convert import ConvertedSNN


def dense_flops(layer: nn.Module, x: torch.Tensor, y: torch.Tensor) -> int:
    """MACs per sample of ``layer`` mapping ``x`` to ``y`` (batch-first tensors)."""
    if isinstance(layer, nn.Conv2d):
        kh, kw = layer.kernel_size
        return int(y[0].numel() * (layer.in_channels // layer.groups) * kh * kw)
    if isinstance(layer, nn.Linear):
        return int(layer.in_features * layer.out_features)
    return 0


def measure(snn: ConvertedSNN, x: torch.Tensor, y: torch.Tensor, T: int, table: str = "45nm-fp32",
            batch_size: int = 256) -> dict[str, Any]:
    """Run ``snn`` for ``T`` steps on ``x`` and return accuracy, per-layer spike rates, FLOPs, energies."""
    check_positive_int(T, "T")
    tab = get_energy_table(table)
    layers = [(n, m) for n, m in snn.graph_module.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    flops = {n: 0 for n, _ in layers}
    events = {n: 0.0 for n, _ in layers}  # non-zero inputs summed over T, per sample (summed over batch)
    n_in = {n: 0 for n, _ in layers}
    hooks = []
    for name, m in layers:
        def hook(mod, inp, out, name=name):
            xi = inp[0]
            flops[name] = dense_flops(mod, xi, out)
            n_in[name] = int(xi[0].numel())
            events[name] += float((xi != 0).sum())  # summed over T and the batch; per sample below
        hooks.append(m.register_forward_hook(hook))
    spikes = {a.layer_name: 0.0 for a in snn.spike_layers}
    correct, n = 0, 0
    acc_steps = torch.zeros(T)
    try:
        snn.eval()
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                xb, yb = x[i:i + batch_size], y[i:i + batch_size]
                out = snn(xb, T=T, per_step=True)
                acc_steps += (out.argmax(-1) == yb).float().sum(1)
                correct += (out[-1].argmax(-1) == yb).sum().item()
                for a in snn.spike_layers:
                    spikes[a.layer_name] += float(a.spike_count.sum())
                n += len(xb)
    finally:
        for h in hooks:
            h.remove()
    rate_in = {name: events[name] / max(1, n) / max(1, n_in[name]) for name, _ in layers}
    names = [nm for nm, _ in layers]
    e_ann = energy(sum(flops.values()), 0, tab)
    first = names[0]
    acs = sum(rate_in[nm] * flops[nm] for nm in names[1:])
    e_snn = energy(flops[first], acs, tab)
    n_neurons = {a.layer_name: a.n_neurons for a in snn.spike_layers}
    spike_rate = {k: spikes[k] / n / max(1, n_neurons[k]) for k in spikes}  # spikes per neuron over T
    return {
        "accuracy": correct / max(1, n), "T": T, "n_samples": n,
        "accuracy_per_step": (acc_steps / max(1, n)).tolist(),
        "spikes_per_sample": sum(spikes.values()) / max(1, n),
        "spikes_per_layer": {k: v / max(1, n) for k, v in spikes.items()},
        "spike_rate_per_layer": spike_rate,
        "n_neurons": sum(n_neurons.values()),
        "flops_per_layer": flops, "input_rate_per_layer": rate_in,
        "macs": float(flops[first]), "acs": float(acs),
        "energy_j": e_snn, "ann_energy_j": e_ann, "energy_ratio_vs_ann": energy_ratio(e_ann, e_snn),
        "energy_table": tab.name,
    }


def to_report(m: dict[str, Any]) -> Report:
    """Wrap a :func:`measure` result into a :class:`swiftspike.metrics.report.Report`."""
    return Report(
        accuracy=m["accuracy"], n_samples=m["n_samples"], time_steps=m["T"],
        spikes_per_sample=m["spikes_per_sample"], spikes_per_layer=m["spikes_per_layer"],
        spike_density=m["spikes_per_sample"] / max(1, m["n_neurons"] * m["T"]), latency_steps=float(m["T"]),
        first_spike_step=None, synops=m["macs"] + m["acs"], acs=m["acs"], macs=m["macs"], energy_j=m["energy_j"],
        ann_energy_j=m["ann_energy_j"], energy_ratio_vs_ann=m["energy_ratio_vs_ann"], energy_table=m["energy_table"],
        accuracy_per_step=m["accuracy_per_step"],
        extra={"spike_rate_per_layer": m["spike_rate_per_layer"], "flops_per_layer": m["flops_per_layer"],
               "input_rate_per_layer": m["input_rate_per_layer"]},
    )
