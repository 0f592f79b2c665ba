"""Layer-synchronous engine.

A network is an ``nn.Sequential`` of *stateless* layers (Linear, Conv, Flatten, pooling, ...) and
*neuron* layers (:class:`~swiftspike.neurons.SpikingModule`). Input is time-major ``[T, B, ...]``.
Stateless layers are applied once over all time steps (time folded into the batch); only the neuron
recurrence runs sequentially. Every layer waits for the whole previous layer: this is the layer
synchronisation that the asynchronous engine removes.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import SwiftSpikeError, check_time_major, compiling, to_time_major
from ..metrics.neurobench import changed, has_membrane, is_activation, membrane
from ..metrics.opmodels import event_synops
from ..metrics.record import LayerSpikes, NeuronActivity, RunRecord
from ..metrics.synops import is_synaptic
from ..neurons.modules import SpikingModule


def _layers(net: nn.Module):
    if isinstance(net, nn.Sequential):
        return list(net.named_children())
    if isinstance(net, SpikingModule):
        return [("0", net)]
    raise SwiftSpikeError(f"run_sync expects an nn.Sequential of layers, got {type(net).__name__}")


def apply_stateless(m: nn.Module, h: torch.Tensor) -> torch.Tensor:
    """Apply a stateless layer to every time step at once (time folded into the batch)."""
    T, B = h.shape[:2]
    try:
        y = m(h.flatten(0, 1))
    except RuntimeError as e:  # shape mismatch deep inside torch -> one clear line
        raise SwiftSpikeError(
            f"layer {type(m).__name__} cannot take per-step input of shape {tuple(h.shape[2:])}: {e}"
        ) from None
    return y.reshape(T, B, *y.shape[1:])


def apply_neuron(m: SpikingModule, h: torch.Tensor) -> torch.Tensor:
    """Run a neuron layer over all steps (looping when it is in single-step mode)."""
    if m.step_mode == "s":
        return torch.stack([m(h[t]) for t in range(h.shape[0])])
    return m(h)


def run_neuron_recorded(m: SpikingModule, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run neuron layer ``m`` over ``h`` (``[T, B, ...]``) one step at a time, reading its membrane after
    every step; returns the output and NeuroBench's membrane updates per sample ``[B]`` (every neuron at
    the first step, then the neurons whose membrane changed). Same values as :func:`apply_neuron`."""
    mode = m.step_mode
    m.step_mode = "s"
    try:
        outs = []
        prev = None
        updates = torch.zeros(h.shape[1], dtype=torch.float64, device=h.device)
        for t in range(h.shape[0]):
            outs.append(m(h[t]))
            v = membrane(m)
            assert v is not None, "a neuron layer with a membrane has one after a step"
            if prev is None:
                updates += v[0].numel()
            else:
                updates += changed(prev, v)
            prev = v
    finally:
        m.step_mode = mode
    return torch.stack(outs), updates


def _activity(name: str, m: nn.Module, h: torch.Tensor, updates: torch.Tensor | None) -> NeuronActivity:
    nz = (h.detach() != 0).flatten(2).sum(-1).sum(0)
    return NeuronActivity(f"{name}:{type(m).__name__}", h[0, 0].numel(), h.shape[0], nz, updates)


def check_same_device(net: nn.Module, x: torch.Tensor) -> None:
    """One clear error when ``net``'s first parameter (or buffer) and the input ``x`` are on different
    devices (torch would fail deep inside a layer, with a message about shapes or kernels)."""
    if compiling():
        return
    for t in net.parameters():
        if t.device != x.device:
            raise SwiftSpikeError(
                f"the network is on {t.device} but its input is on {x.device}; move the input "
                f"with x.to('{t.device}') or the network with net.to(...)"
            )
        return


def run_sync(
    net: nn.Module,
    x: torch.Tensor,
    *,
    record: bool = False,
    batch_first: bool = False,
    record_spikes: bool = False,
    record_neurobench: bool = False,
):
    """Run ``net`` over ``x`` (``[T, B, ...]``, or ``[B, T, ...]`` with ``batch_first``).

    Returns the output tensor ``[T, B, ...]``, or a :class:`RunRecord` when ``record`` (or
    ``record_spikes``, which also keeps every layer's spike train) is set. ``record_neurobench`` also
    records what NeuroBench's workload metrics need: ``RunRecord.neurons`` (non-zero outputs of every
    activation layer, membrane updates of LIF/IF/LI layers, which then run one step at a time; same
    values) and NeuroBench's effective operations in every ``SynOps``.
    Neuron state persists between calls; use :func:`swiftspike.reset` between samples. The run follows the
    device of ``x`` (the network must be there too: one clear error otherwise), and so does the record.
    """
    x = check_time_major(to_time_major(x, batch_first), "input")
    check_same_device(net, x)
    record = record or record_spikes or record_neurobench
    layers = _layers(net)
    rec = RunRecord(output=x)
    h = x
    last_spiking = True
    for name, m in layers:
        if isinstance(m, SpikingModule):
            if record_neurobench:
                updates = None
                if has_membrane(m):
                    h, updates = run_neuron_recorded(m, h)
                else:
                    h = apply_neuron(m, h)
                rec.neurons.append(_activity(name, m, h, updates))
            else:
                h = apply_neuron(m, h)
            last_spiking = m.emits_spikes
            if record and m.emits_spikes:
                per_step = h.flatten(2).sum(-1)  # keeps the graph for spike regularisers
                rec.layers.append(
                    LayerSpikes(
                        f"{name}:{type(m).__name__}", per_step, h[0, 0].numel(), h.detach() if record_spikes else None
                    )
                )
        else:
            if record and is_synaptic(m):
                rec.synops.append(event_synops(name, m, h.detach(), neurobench=record_neurobench))
            h = apply_stateless(m, h)
            if record_neurobench and is_activation(m):
                rec.neurons.append(_activity(name, m, h, None))
            last_spiking = last_spiking and not is_synaptic(m)
    if not record:
        return h
    rec.output = h
    rec.output_spiking = last_spiking
    return rec


def run_step(net: nn.Module, x_t: torch.Tensor) -> torch.Tensor:
    """Advance ``net`` by one time step on ``x_t`` (``[B, ...]``); neuron layers must be in
    single-step mode (``step_mode='s'``)."""
    h = x_t
    for _, m in _layers(net):
        if isinstance(m, SpikingModule) and m.step_mode != "s":
            raise SwiftSpikeError("run_step needs every neuron layer in step_mode='s'")
        h = m(h)
    return h


class SNN(nn.Sequential):
    """``nn.Sequential`` whose forward runs the layer-synchronous engine.

    ``batch_first=True`` accepts ``[B, T, ...]`` input (output stays time-major ``[T, B, ...]``).
    """

    def __init__(self, *layers: nn.Module, batch_first: bool = False) -> None:
        super().__init__(*layers)
        self.batch_first = batch_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return run_sync(self, x, batch_first=self.batch_first)
