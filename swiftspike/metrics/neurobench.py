r"""NeuroBench's metrics, computed by swiftspike under NeuroBench's names and definitions.

The definitions follow the source of ``neurobench`` 2.3.0 (``neurobench/metrics/``) exactly; the
:class:`~swiftspike.metrics.report.ReportBuilder` fills ``Report.neurobench`` with these keys (the names
NeuroBench's ``Benchmark.run`` returns), and :mod:`swiftspike.interop.neurobench` runs a swiftspike
network inside NeuroBench's own harness, which gives the same numbers (tested).

======================  ===================================================  ==============================
NeuroBench name         definition (per sample means)                        swiftspike's own, differences
======================  ===================================================  ==============================
``SynapticOperations``  per call of a Linear/Conv layer: inputs binarised    ``acs`` / ``macs``: decided per
  ``Effective_ACs``     (non-zero -> 1), weights binarised, bias dropped:    sample and per value (only 1 is
  ``Effective_MACs``    ops = non-zero inputs x the *non-zero* weights they  an AC, -1 is a MAC); every
  ``Dense``             drive. All of them are ACs when every value of the   synapse counts, zero weights
                        call's input (the whole batch, all steps folded in   too; ``dense`` = one ANN pass
                        with ``run_sync``) is in {-1, 0, 1}, else MACs.      per sample, not one per step.
                        Dense: every input x every weight, at every call,
                        i.e. ``T x dense_macs`` per sample.
``ActivationSparsity``  1 - non-zero outputs / outputs of every activation   ``spike_density`` = spikes /
                        layer (neuron layers, ReLU, Sigmoid) over all        (neurons x T) of spiking layers
                        steps; the mean over batches weighted by batch size  only (integer spikes count their
                                                                             value, analog readouts excluded)
``MembraneUpdates``     per neuron layer with a membrane: every neuron at    none (clock-driven engines
                        the first step, then at each step the neurons with   update every neuron every step)
                        :math:`v_{t-1} - v_t \ne 0`
``ClassificationAccuracy``  arg-max (first index on ties) of the output      ``accuracy``: the true class
                        summed over time (``ChooseMaxCount``)                must strictly beat all others
``ParameterCount``      ``sum(p.numel())`` over parameters                   --
``Footprint``           bytes of parameters + buffers                        --
``ConnectionSparsity``  zero weights / weights of the Linear / Conv leaf     --
                        layers, rounded to 4 decimals
======================  ===================================================  ==============================
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..neurons.modules import LI, LIF, SpikingModule
from ..neurons.psn import LIFNoReset

#: activation modules NeuroBench recognises by default (``neurobench.blocks.activation``)
NB_ACTIVATIONS: tuple[type, ...] = (nn.ReLU, nn.Sigmoid)

#: the connection layers NeuroBench counts weights of (``neurobench.blocks.layer.STATELESS_LAYERS``)
NB_CONNECTIONS: tuple[type, ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def is_activation(m: nn.Module) -> bool:
    """A layer NeuroBench treats as an activation when swiftspike's neurons are registered with it."""
    return isinstance(m, (SpikingModule, *NB_ACTIVATIONS))


# -- synaptic operations -------------------------------------------------------------------------
def weight(m: nn.Module) -> torch.Tensor:
    """The weight tensor of a Linear/Conv layer."""
    w = getattr(m, "weight", None)
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"{type(m).__name__} has no weight tensor")
    return w


def effective_ops(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """NeuroBench's effective operations of synaptic layer ``m`` per row of ``x`` (``[N, ...]``): the
    non-zero inputs times the non-zero weights they drive (the bias is no synaptic operation)."""
    mask = (x != 0).to(torch.float64)
    w = (weight(m) != 0).to(torch.float64)
    with torch.no_grad():
        if isinstance(m, nn.Linear):
            return mask.flatten(1) @ w.sum(0)
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            return m._conv_forward(mask, w, None).flatten(1).sum(1)
    raise TypeError(f"not a synaptic layer: {type(m).__name__}")


def spiking_rows(x: torch.Tensor) -> torch.Tensor:
    """``[N]`` bool per row of ``x``: every value is -1, 0 or 1 (NeuroBench then counts ACs, else MACs)."""
    return ((x == 0) | (x == 1) | (x == -1)).flatten(1).all(1)


# -- membrane updates ------------------------------------------------------------------------------
def has_membrane(m: nn.Module) -> bool:
    """Neuron layers with one membrane per neuron that NeuroBench's membrane updates read: LIF, IF, LI
    and LIF without reset (DSN and PSN layers have none)."""
    return isinstance(m, (LIF, LI, LIFNoReset))


def membrane(m: nn.Module) -> torch.Tensor | None:
    """The membrane of neuron layer ``m`` after its last step (``None`` before the first step)."""
    if isinstance(m, LIF):
        return None if m.state is None else m.state.v
    if isinstance(m, (LI, LIFNoReset)):
        return m.v
    return None


def changed(prev: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """``[B]`` neurons per sample whose membrane changed in one step, :math:`v_{t-1} - v_t \\ne 0`."""
    return ((prev - new) != 0).flatten(1).sum(1)


# -- static metrics ------------------------------------------------------------------------------
def parameter_count(model: nn.Module) -> int:
    """NeuroBench's ``ParameterCount``: elements of all parameters."""
    return sum(p.numel() for p in model.parameters())


def footprint(model: nn.Module) -> int:
    """NeuroBench's ``Footprint``: bytes of all parameters and buffers."""
    return sum(p.numel() * p.element_size() for p in model.parameters()) + sum(
        b.numel() * b.element_size() for b in model.buffers()
    )


def connection_sparsity(model: nn.Module) -> float | None:
    """NeuroBench's ``ConnectionSparsity``: zero weights over all weights of the Linear/Conv leaf layers
    below ``model``, rounded to 4 decimals; ``None`` when there are none (NeuroBench fails there)."""
    zeros = total = 0
    for m in model.modules():
        if m is not model and isinstance(m, NB_CONNECTIONS) and not list(m.children()):
            zeros += int((weight(m) == 0).sum())
            total += weight(m).numel()
    # NeuroBench divides an integer tensor by an int (float32 result) before rounding
    return round((torch.tensor(zeros) / total).item(), 4) if total else None


def static_metrics(model: nn.Module) -> dict[str, Any]:
    """The static NeuroBench metrics of ``model`` under their NeuroBench names."""
    return {
        "Footprint": footprint(model),
        "ConnectionSparsity": connection_sparsity(model),
        "ParameterCount": parameter_count(model),
    }
