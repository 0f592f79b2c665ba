"""Metrics shared by every capability: accuracy, spikes, latency, synaptic ops, energy."""
from .energy import ENERGY_TABLES, EnergyTable, energy, energy_ratio, get_energy_table
from .record import LayerSpikes, RunRecord
from .report import Report, ReportBuilder, correct_per_step, decision_latency, first_spike_step, running_scores
from .record import SynOps
from .synops import count_synops, dense_macs, event_ops, fanout_ops, is_binary, is_synaptic

__all__ = [
    "ENERGY_TABLES", "EnergyTable", "energy", "energy_ratio", "get_energy_table",
    "Report", "ReportBuilder", "correct_per_step", "decision_latency", "first_spike_step", "running_scores",
    "LayerSpikes", "RunRecord", "SynOps", "count_synops", "dense_macs", "event_ops", "fanout_ops", "is_binary", "is_synaptic",
]
