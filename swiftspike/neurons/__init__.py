"""Neuron models: pure step functions, surrogate gradients and ``nn.Module`` wrappers."""
from .functional import LIFState, li_multistep, lif_multistep, lif_step
from .modules import IF, LI, LIF, SpikingModule, reset
from .surrogate import ATan, FastSigmoid, Rectangular, Sigmoid, Surrogate, Triangular, get_surrogate

__all__ = [
    "LIFState", "lif_step", "lif_multistep", "li_multistep",
    "SpikingModule", "LIF", "IF", "LI", "reset",
    "Surrogate", "ATan", "FastSigmoid", "Sigmoid", "Rectangular", "Triangular", "get_surrogate",
]
