"""Metrics shared by every capability: accuracy, spikes, latency, synaptic ops, energy (and NeuroBench's)."""

from .energy import ENERGY_TABLES, EnergyTable, energy, energy_ratio, get_energy_table
from .opmodels import (
    LEARNING_OPERATIONS,
    OPERATIONS,
    analytical_energy,
    analytical_ops,
    analytical_synops,
    count_synops,
    event_synops,
    input_rate,
    layer_flops,
    neuron_updates,
    operation_costs,
    record_op_counts,
)
from .record import LayerSpikes, NeuronActivity, RunRecord, SynOps
from .report import Report, ReportBuilder, correct_per_step, decision_latency, first_spike_step, running_scores
from .synops import dense_macs, event_ops, fanout_ops, is_binary, is_synaptic

__all__ = [
    "ENERGY_TABLES",
    "LEARNING_OPERATIONS",
    "OPERATIONS",
    "EnergyTable",
    "LayerSpikes",
    "NeuronActivity",
    "Report",
    "ReportBuilder",
    "RunRecord",
    "SynOps",
    "analytical_energy",
    "analytical_ops",
    "analytical_synops",
    "correct_per_step",
    "count_synops",
    "decision_latency",
    "dense_macs",
    "energy",
    "energy_ratio",
    "event_ops",
    "event_synops",
    "fanout_ops",
    "first_spike_step",
    "get_energy_table",
    "input_rate",
    "is_binary",
    "is_synaptic",
    "layer_flops",
    "neuron_updates",
    "operation_costs",
    "record_op_counts",
    "running_scores",
]
