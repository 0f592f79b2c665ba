"""Execution engines: layer-synchronous (``sync``) and, later, asynchronous event-driven."""

from ..metrics.record import LayerSpikes, RunRecord
from .sync import SNN, apply_neuron, apply_stateless, run_step, run_sync

__all__ = ["SNN", "LayerSpikes", "RunRecord", "apply_neuron", "apply_stateless", "run_step", "run_sync"]
