"""The one record every executor returns, and the pieces it is made of.

:func:`~swiftspike.engines.sync.run_sync`, the asynchronous engine, converted SNNs
(:meth:`~swiftspike.conversion.convert.ConvertedSNN.run`) and the Diehl & Cook network all return a
:class:`RunRecord`; :mod:`swiftspike.metrics` alone turns records into accuracy, latency to decision,
spikes, synaptic operations and energy (:class:`~swiftspike.metrics.report.ReportBuilder`), including
NeuroBench's metrics under NeuroBench's names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class LayerSpikes:
    """Spikes of one neuron layer: ``per_step`` is ``[T, B]`` spike counts (may keep the autograd graph,
    for spike regularisers); ``n_neurons`` per sample; ``spikes`` the full ``[T, B, ...]`` train when
    recorded."""

    name: str
    per_step: torch.Tensor
    n_neurons: int
    spikes: torch.Tensor | None = None


@dataclass
class SynOps:
    """Per-sample synaptic operations of one synaptic layer, summed over time.

    * ``acs`` / ``macs`` (``[B]`` each): accumulates and multiply-accumulates under the operation-count
      model named by ``model`` (``'event'``: counted from the events, ``'analytical'``: layer size x
      measured rate; see :mod:`swiftspike.metrics.opmodels`);
    * ``dense_macs``: one ANN pass of the layer per sample (every input times its fan-out);
    * ``events`` / ``n_pre`` (analytical model): non-zero inputs per sample over the run, and the
      number of input elements of one step (the measured rate is ``events / n_pre``);
    * ``effective`` / ``spiking`` (NeuroBench's synaptic operations, filled by the event model when
      asked, ``run_sync(..., record_neurobench=True)``):
      ``[B]`` non-zero inputs times the *non-zero* weights they drive, and ``[B]`` bool, every input
      value of the sample is in {-1, 0, 1} (NeuroBench then counts the layer call's operations as ACs).
    """

    name: str
    acs: torch.Tensor
    macs: torch.Tensor
    dense_macs: float
    model: str = "event"
    events: torch.Tensor | None = None
    n_pre: int = 0
    effective: torch.Tensor | None = None
    spiking: torch.Tensor | None = None


@dataclass
class NeuronActivity:
    """What NeuroBench counts of one activation (neuron) layer, per sample (``[B]`` each).

    ``nonzero``: non-zero outputs summed over the steps (``steps * n_neurons`` outputs in all);
    ``membrane_updates``: NeuroBench's membrane updates, every neuron at the first step plus, at each
    later step ``t``, the neurons with :math:`v_t - v_{t-1} \\neq 0`; ``None`` when the layer has no
    single membrane to read (DSN, PSN, ReLU)."""

    name: str
    n_neurons: int
    steps: int
    nonzero: torch.Tensor
    membrane_updates: torch.Tensor | None = None


@dataclass
class RunRecord:
    """What one run of a network observed.

    * ``output``: ``[T, B, C]`` output per time step (spikes of a spiking readout, or the value of an
      analog readout, see ``output_spiking``);
    * ``layers``: spikes per neuron layer; ``synops``: operations per synaptic layer;
    * ``neurons``: NeuroBench activity per activation layer (``run_sync(..., record_neurobench=True)``);
    * ``stats``: further per-sample ``[B]`` observables of an executor (e.g. the asynchronous engine's
      forward steps, spikes and steps to decision), or per frame and sample ``[T, B]`` for keys named
      ``frame_*`` (the per-frame latencies of the asynchronous engine);
    * ``frame_steps``: ``[T, B]`` forward steps per frame (event-driven executors);
    * ``step_outputs`` / ``step_mask``: the running output ``[S, B, C]`` after every forward step and the
      ``[S, B]`` mask of samples that took it (asynchronous engine with ``record_step_outputs``).
    """

    output: torch.Tensor
    layers: list[LayerSpikes] = field(default_factory=list)
    synops: list[SynOps] = field(default_factory=list)
    output_spiking: bool = True
    stats: dict[str, torch.Tensor] = field(default_factory=dict)
    frame_steps: torch.Tensor | None = None
    step_outputs: torch.Tensor | None = None
    step_mask: torch.Tensor | None = None
    neurons: list[NeuronActivity] = field(default_factory=list)
