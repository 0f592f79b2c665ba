"""The one record every executor returns, and the pieces it is made of.

:func:`~swiftspike.engines.sync.run_sync`, the asynchronous engine, converted SNNs and the Diehl &
Cook network all return a :class:`RunRecord`; :mod:`swiftspike.metrics` alone turns records into
accuracy, latency to decision, spikes, synaptic operations and energy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch


@dataclass
class LayerSpikes:
    """Spikes of one neuron layer: ``per_step`` is ``[T, B]`` spike counts (may keep the autograd graph,
    for spike regularisers); ``n_neurons`` per sample; ``spikes`` the full ``[T, B, ...]`` train when
    recorded."""

    name: str
    per_step: torch.Tensor
    n_neurons: int
    spikes: Optional[torch.Tensor] = None


@dataclass
class SynOps:
    """Per-sample synaptic operations of one synaptic layer, summed over time: accumulates ``acs`` and
    multiply-accumulates ``macs`` (``[B]`` each), and ``dense_macs``, one ANN pass of the layer per sample."""

    name: str
    acs: torch.Tensor
    macs: torch.Tensor
    dense_macs: float


@dataclass
class RunRecord:
    """What one run of a network observed.

    * ``output``: ``[T, B, C]`` output per time step (spikes of a spiking readout, or the value of an
      analog readout, see ``output_spiking``);
    * ``layers``: spikes per neuron layer; ``synops``: operations per synaptic layer;
    * ``stats``: further per-sample ``[B]`` observables of an executor (e.g. the asynchronous engine's
      forward steps, spikes and steps to decision);
    * ``frame_steps``: ``[T, B]`` forward steps per frame (event-driven executors);
    * ``step_outputs`` / ``step_mask``: the running output ``[S, B, C]`` after every forward step and the
      ``[S, B]`` mask of samples that took it (asynchronous engine with ``record_step_outputs``).
    """

    output: torch.Tensor
    layers: list[LayerSpikes] = field(default_factory=list)
    synops: list[SynOps] = field(default_factory=list)
    output_spiking: bool = True
    stats: dict[str, torch.Tensor] = field(default_factory=dict)
    frame_steps: Optional[torch.Tensor] = None
    step_outputs: Optional[torch.Tensor] = None
    step_mask: Optional[torch.Tensor] = None
