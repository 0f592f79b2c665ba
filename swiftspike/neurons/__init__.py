"""Neuron models: pure step functions, surrogate gradients and ``nn.Module`` wrappers."""
from .dsn import DSN, DSNState, dsn_step, expand_integer_spikes, integer_spike, spike_time_metrics
from .functional import (HardReset, LIFParameters, LIFState, NoReset, Reset, SoftReset, li_multistep, lif_masked_step,
                         lif_multistep, lif_step, make_reset)
from .modules import IF, LI, LIF, SpikingModule, reset
from .psn import PSN, LIFNoReset, MaskedPSN, SlidingPSN
from .scan import linear_scan
from .surrogate import ATan, FastSigmoid, Rectangular, Sigmoid, Surrogate, Triangular, get_surrogate

__all__ = [
    "LIFParameters", "LIFState", "Reset", "HardReset", "SoftReset", "NoReset", "make_reset",
    "lif_step", "lif_multistep", "lif_masked_step", "li_multistep",
    "SpikingModule", "LIF", "IF", "LI", "reset",
    "DSN", "DSNState", "dsn_step", "integer_spike", "expand_integer_spikes", "spike_time_metrics",
    "PSN", "MaskedPSN", "SlidingPSN", "LIFNoReset", "linear_scan",
    "Surrogate", "ATan", "FastSigmoid", "Sigmoid", "Rectangular", "Triangular", "get_surrogate",
]
