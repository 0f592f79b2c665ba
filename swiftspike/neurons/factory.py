"""Neuron layers by name, so a model swaps its neuron with one string."""
from __future__ import annotations

from typing import Any

from torch import nn

from ..errors import SwiftSpikeError

NEURONS = ("lif", "if", "li")


def make_neuron(name: str, **kwargs: Any) -> nn.Module:
    """Build a neuron layer: ``lif``, ``if`` or ``li`` (analog readout)."""
    from .modules import IF, LI, LIF

    table = {"lif": LIF, "if": IF, "li": LI}
    if name not in table:
        raise SwiftSpikeError(f"unknown neuron {name!r}; choose one of: {', '.join(NEURONS)}")
    try:
        return table[name](**kwargs)
    except TypeError as e:
        raise SwiftSpikeError(f"bad arguments for neuron {name!r}: {e}") from None
