"""Neuron models: pure step functions, surrogate gradients and ``nn.Module`` wrappers."""

from .dsn import DSN, DSNState, dsn_step, expand_integer_spikes, integer_spike, spike_time_metrics
from .functional import (
    HardReset,
    LIFParameters,
    LIFState,
    NoReset,
    Reset,
    SoftReset,
    li_multistep,
    lif_masked_step,
    lif_multistep,
    lif_step,
    make_reset,
)
from .modules import IF, LI, LIF, SpikingModule, reset
from .psn import PSN, LIFNoReset, MaskedPSN, SlidingPSN
from .scan import linear_scan
from .surrogate import ATan, FastSigmoid, Rectangular, Sigmoid, Surrogate, Triangular, get_surrogate

__all__ = [
    "DSN",
    "IF",
    "LI",
    "LIF",
    "PSN",
    "ATan",
    "DSNState",
    "FastSigmoid",
    "HardReset",
    "LIFNoReset",
    "LIFParameters",
    "LIFState",
    "MaskedPSN",
    "NoReset",
    "Rectangular",
    "Reset",
    "Sigmoid",
    "SlidingPSN",
    "SoftReset",
    "SpikingModule",
    "Surrogate",
    "Triangular",
    "dsn_step",
    "expand_integer_spikes",
    "get_surrogate",
    "integer_spike",
    "li_multistep",
    "lif_masked_step",
    "lif_multistep",
    "lif_step",
    "linear_scan",
    "make_reset",
    "reset",
    "spike_time_metrics",
]
