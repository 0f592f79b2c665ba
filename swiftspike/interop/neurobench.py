"""Run a swiftspike network inside NeuroBench's ``Benchmark`` harness (optional extra ``neurobench``).

NeuroBench finds activation layers by type (ReLU, Sigmoid, and whatever a model wrapper adds) and reads
membrane potentials only from snnTorch neurons (its ``NeuronHook`` checks for ``snntorch.SpikingNeuron``
and an attribute ``mem``), so a plain ``TorchModel`` around a swiftspike network reports 0 membrane
updates. :class:`SwiftSpikeModel` is a ``NeuroBenchModel`` that

* registers swiftspike's neuron layers (:class:`~swiftspike.neurons.SpikingModule`) as activation layers;
* hooks each of them with :class:`SwiftSpikeNeuronHook`, which records the membrane before and after
  every call (LIF, IF, LI and LIF without reset; DSN/PSN have no single membrane and count 0);
* runs the network with :func:`~swiftspike.engines.sync.run_sync` on NeuroBench's batch-first
  ``[B, T, ...]`` input, with those neuron layers stepped one step per call so that every step is seen
  (same values as the multi-step path), and returns the output batch-first ``[B, T, C]``, ready for
  NeuroBench's postprocessors (``ChooseMaxCount``).

Nothing in NeuroBench is patched: the behaviour lives in the wrapper and its hooks.
swiftspike's own numbers under NeuroBench's names come from
``ReportBuilder(model=net)`` over ``run_sync(..., record_neurobench=True)`` records (``Report.neurobench``).

Imports: ``neurobench`` 2.3.0 installed with ``--no-deps``; the modules used here import ``snntorch``
and ``tqdm`` (nothing else beyond torch and numpy: not torchaudio, numba, llvmlite or tonic).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
from torch import nn

from ..engines.sync import run_sync
from ..errors import SwiftSpikeError
from ..metrics.neurobench import has_membrane, membrane
from ..neurons.modules import SpikingModule, reset

__all__ = ["neurobench_model"]  # and SwiftSpikeModel, SwiftSpikeNeuronHook (module __getattr__)


@cache
def _classes() -> tuple[type, type]:
    try:
        from neurobench.hooks.layer import LayerHook
        from neurobench.hooks.neuron import NeuronHook
        from neurobench.models import NeuroBenchModel
    except ImportError as e:
        raise SwiftSpikeError(
            f"the NeuroBench adapter needs the optional extra 'neurobench' (pip install neurobench --no-deps; "
            f"it imports snntorch and tqdm): {e}"
        ) from None

    class _NeuronHook(NeuronHook):
        """NeuroBench's neuron hook for a swiftspike neuron layer: outputs, inputs and the membrane before
        and after every call (the first 'before' of a batch is the zero rest state)."""

        def __init__(self, layer: nn.Module, name: Any = None) -> None:
            super().__init__(layer, name)
            self.spiking = bool(getattr(layer, "emits_spikes", False))

        def pre_hook_fn(self, layer: nn.Module, input: tuple) -> None:
            self.activation_inputs.append(input)
            if has_membrane(layer):
                v = membrane(layer)
                self.pre_fire_mem_potential.append(torch.zeros_like(input[0]) if v is None else v.detach().clone())

        def hook_fn(self, layer: nn.Module, input: tuple, output: torch.Tensor) -> None:
            self.activation_outputs.append(output)
            v = membrane(layer) if has_membrane(layer) else None
            if v is not None:
                self.post_fire_mem_potential.append(v.detach().clone())

    class _Model(NeuroBenchModel):
        """A swiftspike network (``nn.Sequential`` / :class:`~swiftspike.SNN`) as a ``NeuroBenchModel``."""

        def __init__(self, net: nn.Module) -> None:
            super().__init__()
            if not isinstance(net, nn.Module):
                raise SwiftSpikeError(f"SwiftSpikeModel needs an nn.Module network, got {type(net).__name__}")
            self.net = net
            self.net.eval()
            self.add_activation_module(SpikingModule)

        def __call__(self, batch: torch.Tensor) -> torch.Tensor:
            """``batch`` ``[B, T, ...]`` -> output ``[B, T, C]`` (state reset before the batch)."""
            stepped = [m for m in self.net.modules() if isinstance(m, SpikingModule) and has_membrane(m)]
            modes = [m.step_mode for m in stepped]
            reset(self.net)
            try:
                for m in stepped:
                    m.step_mode = "s"
                with torch.no_grad():
                    out = run_sync(self.net, batch, batch_first=True)
            finally:
                for m, mode in zip(stepped, modes):
                    m.step_mode = mode
                reset(self.net)
            return out.transpose(0, 1)

        def __net__(self) -> nn.Module:
            return self.net

        def register_hooks(self) -> None:
            for layer in self.activation_layers():
                hook = _NeuronHook if isinstance(layer["layer"], SpikingModule) else NeuronHook
                self.activation_hooks.append(hook(layer["layer"], layer["layer_name"]))
            for layer in self.connection_layers():
                self.connection_hooks.append(LayerHook(layer))

    _Model.__name__ = _Model.__qualname__ = "SwiftSpikeModel"
    _NeuronHook.__name__ = _NeuronHook.__qualname__ = "SwiftSpikeNeuronHook"
    return _Model, _NeuronHook


def neurobench_model(net: nn.Module):
    """Wrap ``net`` for NeuroBench: ``Benchmark(neurobench_model(net), loader, [], [ChooseMaxCount()], metrics)``."""
    return _classes()[0](net)


def __getattr__(name: str) -> Any:  # the classes exist only once neurobench can be imported
    if name == "SwiftSpikeModel":
        return _classes()[0]
    if name == "SwiftSpikeNeuronHook":
        return _classes()[1]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
