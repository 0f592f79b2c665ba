"""Energy cost tables and estimates.

Per-operation energies for a 45 nm CMOS process (Horowitz, ISSCC 2014), the table most SNN papers
use. An *accumulate* (AC) is what a binary spike costs at a synapse (add the weight); a
*multiply-accumulate* (MAC) is what an analog input costs.

=============  ===========  ==========
table          MAC (pJ)     AC (pJ)
=============  ===========  ==========
45nm-fp32      4.6          0.9
45nm-int32     3.2          0.1
=============  ===========  ==========

``E_SNN = MACs * E_MAC + ACs * E_AC`` and the same network run as an ANN costs
``E_ANN = dense_MACs * E_MAC``. ``energy_ratio_vs_ann = E_ANN / E_SNN`` (> 1: the SNN is cheaper).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SwiftSpikeError


@dataclass(frozen=True)
class EnergyTable:
    name: str
    e_mac: float  # joules per multiply-accumulate
    e_ac: float  # joules per accumulate


ENERGY_TABLES = {
    "45nm-fp32": EnergyTable("45nm-fp32", 4.6e-12, 0.9e-12),
    "45nm-int32": EnergyTable("45nm-int32", 3.2e-12, 0.1e-12),
}


def get_energy_table(name: str | EnergyTable) -> EnergyTable:
    """Look up a cost table by name (``45nm-fp32`` or ``45nm-int32``) or pass one through."""
    if isinstance(name, EnergyTable):
        return name
    if name not in ENERGY_TABLES:
        raise SwiftSpikeError(f"unknown energy table {name!r}; choose one of: {', '.join(ENERGY_TABLES)}")
    return ENERGY_TABLES[name]


def energy(macs: float, acs: float, table: str | EnergyTable = "45nm-fp32") -> float:
    """Energy in joules of ``macs`` multiply-accumulates and ``acs`` accumulates."""
    t = get_energy_table(table)
    return float(macs) * t.e_mac + float(acs) * t.e_ac


def energy_ratio(ann_j: float, snn_j: float) -> float:
    """``E_ANN / E_SNN``; ``inf`` when the SNN spent nothing."""
    return float("inf") if snn_j == 0 else ann_j / snn_j
