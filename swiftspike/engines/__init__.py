"""Execution engines: layer-synchronous (``sync``) and, later, asynchronous event-driven."""
from ..metrics.record import LayerSpikes, RunRecord
from .sync import SNN, apply_neuron, apply_stateless, run_step, run_sync

__all__ = ["SNN", "run_sync", "run_step", "RunRecord", "LayerSpikes", "apply_neuron", "apply_stateless"]
