r"""The two operation-count models, neuron updates, and the energy of counted operations.

**Counted from events** (``model='event'``, :func:`event_synops`): what the engines record. For a
synaptic layer :math:`l` with input :math:`x_{t,b,i}` (element :math:`i` of sample :math:`b` at step
:math:`t`) and fan-out :math:`f_l(i)` (the synapses element :math:`i` drives; border-aware for
convolutions):

.. math::

    \mathrm{AC}_{l,b} = \sum_t \sum_i [x_{t,b,i} = 1]\, f_l(i), \qquad
    \mathrm{MAC}_{l,b} = \sum_t \sum_i [x_{t,b,i} \notin \{0, 1\}]\, f_l(i), \qquad
    D_l = \sum_i f_l(i),

decided per sample and per input value (zeros are free); :math:`D_l` (``dense_macs``) is one ANN pass.

**Analytical** (``model='analytical'``, :func:`analytical_synops`): layer sizes times measured rates,
as conversion (:func:`swiftspike.conversion.energy.measure`) and TopSpark count. With :math:`F_l` the
dense MACs of one pass per sample, :math:`N_l` the input elements of one step and :math:`E_{l,b}` the
measured non-zero inputs of sample :math:`b` over the run, the input rate is
:math:`\zeta_{l,b} = E_{l,b} / N_l` (:func:`input_rate`) and

.. math::

    \mathrm{AC}_{l,b} = \zeta_{l,b}\, F_l \quad\text{(event input)}, \qquad
    \mathrm{MAC}_{l,b} = F_l \quad\text{(static analog input: the same every step, computed once)}.

Every event is charged the *mean* fan-out :math:`F_l / N_l`: exact for fully connected layers
(:math:`E\,n_\text{out}`; TopSpark's ``input spikes x N + exc spikes x 1 + inh spikes x (N-1)`` is this
model with three layers), an approximation at convolution borders, where the event model is exact.

**Neuron updates** (:func:`neuron_updates`): a clock-driven network updates every neuron of every
spiking layer at every step, :math:`U_b = \sum_l n_l T`.

**Energy** (:func:`analytical_energy`): :math:`E = \sum_k c_k\, e_k` over operation counts :math:`c_k`
with the per-operation costs of :func:`operation_costs` (from an
:class:`~swiftspike.metrics.energy.EnergyTable`): ``synop`` (an accumulate) :math:`e_{AC}`, ``mac``
:math:`e_{MAC}`, ``neuron_update`` (leak multiply-add plus compare) :math:`e_{MAC} + e_{AC}`, and the
learning operations ``trace_update``, ``weight_update``, ``norm_op`` :math:`e_{MAC}` each.
:func:`record_op_counts` reads these counts from a :class:`~swiftspike.metrics.record.RunRecord`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..errors import SwiftSpikeError
from .energy import EnergyTable, get_energy_table
from .neurobench import effective_ops, spiking_rows, weight
from .record import RunRecord, SynOps
from .synops import dense_macs, event_ops

#: the operation kinds an energy estimate counts (keys of :func:`operation_costs`)
OPERATIONS = ("synop", "mac", "neuron_update", "trace_update", "weight_update", "norm_op")

#: learning operations an executor may report per sample in ``RunRecord.stats``
LEARNING_OPERATIONS = ("trace_update", "weight_update", "norm_op")


# -- counted from events ---------------------------------------------------------------------------
@torch.no_grad()
def event_synops(name: str, m: nn.Module, x: torch.Tensor, *, neurobench: bool = False) -> SynOps:
    """The event-counted model for synaptic layer ``m`` and its time-major input ``x`` (``[T, B, ...]``):
    ACs and MACs per sample (see the module docstring) and ``dense_macs``; with ``neurobench`` also
    NeuroBench's effective operations and binary flag per sample (:mod:`swiftspike.metrics.neurobench`)."""
    T, B = x.shape[:2]
    rows = x.flatten(0, 1)
    acs, macs = event_ops(m, rows)
    acs, macs = acs.view(T, B).sum(0), macs.view(T, B).sum(0)
    dense = dense_macs(m, x[0, :1])
    if not neurobench:
        return SynOps(name, acs, macs, dense, "event")
    # with every weight non-zero, NeuroBench's count is the fan-out of the non-zero inputs
    effective = effective_ops(m, rows).view(T, B).sum(0).to(acs.dtype) if bool((weight(m) == 0).any()) else acs + macs
    spiking = spiking_rows(rows).view(T, B).all(0)
    return SynOps(name, acs, macs, dense, "event", effective=effective, spiking=spiking)


# -- analytical ------------------------------------------------------------------------------------
def count_synops(name: str, m: nn.Module, x: torch.Tensor) -> SynOps:
    """Count ops of synaptic layer ``m`` for time-major input ``x`` (``[T, B, ...]``) with the event-counted
    model (:func:`event_synops`)."""
    return event_synops(name, m, x)


def layer_flops(layer: nn.Module, y: torch.Tensor) -> int:
    r""":math:`F_l` of the analytical model, from the layer's size: MACs of one dense pass per sample for a
    layer whose (batch-first) output is ``y``; conv :math:`F_l = \text{out elements} \cdot
    C_{in}/\text{groups} \cdot \prod k` (padding taps included), linear :math:`n_{in} n_{out}`, else 0."""
    if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
        k = 1
        for s in layer.kernel_size:
            k *= int(s)
        return int(y[0].numel() * (layer.in_channels // layer.groups) * k)
    if isinstance(layer, nn.Linear):
        return int(layer.in_features * layer.out_features)
    return 0


def input_rate(events: float | torch.Tensor, n_samples: int, n_pre: int) -> float | torch.Tensor:
    r""":math:`\zeta = E / (n_\text{samples} N)`: non-zero inputs per input element over the run."""
    return events / max(1, n_samples) / max(1, n_pre)


def analytical_ops(rate: float | torch.Tensor, dense: float) -> float | torch.Tensor:
    r"""Operations of a layer whose input rate is :math:`\zeta`: :math:`\zeta F`."""
    return rate * dense


def analytical_synops(
    name: str, events: torch.Tensor, n_pre: int, dense: float, *, static_analog: bool = False
) -> SynOps:
    """The analytical model for one synaptic layer: ``events`` ``[B]`` non-zero inputs per sample over the
    run, ``n_pre`` input elements per step, ``dense`` = :math:`F_l`. Event input gives
    :math:`\\zeta F_l` ACs per sample; ``static_analog`` input (the same analog value every step) gives
    :math:`F_l` MACs, computed once."""
    if n_pre <= 0:
        raise SwiftSpikeError(f"layer {name!r} needs at least one input element, got n_pre={n_pre}")
    ev = events.detach().to(torch.float64)
    ops = ev / n_pre * float(dense)  # analytical_ops(input_rate(ev, 1, n_pre), dense)
    zero = torch.zeros_like(ev)
    acs, macs = (zero, torch.full_like(ev, float(dense))) if static_analog else (ops, zero)
    return SynOps(name, acs, macs, float(dense), "analytical", events=ev, n_pre=int(n_pre))


# -- neuron updates and energy ---------------------------------------------------------------------
def neuron_updates(rec: RunRecord) -> torch.Tensor:
    r"""``[B]`` clock-driven neuron updates per sample: every neuron of every recorded spiking layer at
    every step, :math:`\sum_l n_l T_l`."""
    B = rec.output.shape[1]
    total = sum(float(ls.n_neurons * ls.per_step.shape[0]) for ls in rec.layers)
    return torch.full((B,), total, dtype=torch.float64, device=rec.output.device)


def operation_costs(table: str | EnergyTable = "45nm-fp32") -> dict[str, float]:
    """Joules per operation of each kind in :data:`OPERATIONS` (see the module docstring)."""
    t = get_energy_table(table)
    return {
        "synop": t.e_ac,
        "mac": t.e_mac,
        "neuron_update": t.e_mac + t.e_ac,
        "trace_update": t.e_mac,
        "weight_update": t.e_mac,
        "norm_op": t.e_mac,
    }


def analytical_energy(counts: Mapping[str, float], table: str | EnergyTable = "45nm-fp32") -> float:
    r"""Energy in joules of operation ``counts`` (kind -> number), :math:`\sum_k c_k e_k`, summed in the
    order of ``counts``."""
    cost = operation_costs(table)
    bad = set(counts) - set(cost)
    if bad:
        raise SwiftSpikeError(
            f"unknown operation kind(s) {', '.join(sorted(bad))}; choose from: {', '.join(OPERATIONS)}"
        )
    e = 0.0
    for kind, n in counts.items():
        e += float(n) * cost[kind]
    return e


def record_op_counts(rec: RunRecord, *, learning: bool = True) -> dict[str, torch.Tensor]:
    """Per-sample ``[B]`` operation counts of a record by kind: ``synop`` (all ACs), ``mac``,
    ``neuron_update`` (:func:`neuron_updates`) and, with ``learning``, the learning operations an
    executor stored in ``rec.stats`` under the names of :data:`LEARNING_OPERATIONS`."""
    B = rec.output.shape[1]
    zero = torch.zeros(B, dtype=torch.float64, device=rec.output.device)
    counts = {
        "synop": sum((so.acs.detach().to(torch.float64) for so in rec.synops), zero),
        "mac": sum((so.macs.detach().to(torch.float64) for so in rec.synops), zero),
        "neuron_update": neuron_updates(rec),
    }
    if learning:
        for k in LEARNING_OPERATIONS:
            if k in rec.stats:
                counts[k] = rec.stats[k].detach().to(torch.float64)
    return counts
