"""Metrics shared by every capability: accuracy, spikes, latency, synaptic ops, energy (and NeuroBench's)."""
from .energy import ENERGY_TABLES, EnergyTable, energy, energy_ratio, get_energy_table
from .opmodels import (LEARNING_OPERATIONS, OPERATIONS, analytical_energy, count_synops, analytical_ops, analytical_synops,
                       event_synops, input_rate, layer_flops, neuron_updates, operation_costs, record_op_counts)
from .record import LayerSpikes, NeuronActivity, RunRecord, SynOps
from .report import Report, ReportBuilder, correct_per_step, decision_latency, first_spike_step, running_scores
from .synops import dense_macs, event_ops, fanout_ops, is_binary, is_synaptic

__all__ = [
    "ENERGY_TABLES", "EnergyTable", "energy", "energy_ratio", "get_energy_table",
    "Report", "ReportBuilder", "correct_per_step", "decision_latency", "first_spike_step", "running_scores",
    "LayerSpikes", "NeuronActivity", "RunRecord", "SynOps",
    "count_synops", "dense_macs", "event_ops", "fanout_ops", "is_binary", "is_synaptic",
    "OPERATIONS", "LEARNING_OPERATIONS", "event_synops", "analytical_synops", "layer_flops", "analytical_ops", "input_rate",
    "neuron_updates", "operation_costs", "analytical_energy", "record_op_counts",
]
