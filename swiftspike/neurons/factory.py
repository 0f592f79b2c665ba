"""Neuron layers by name, so a model swaps its neuron with one string."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from ..errors import SwiftSpikeError

NEURONS = ("lif", "if", "li", "dsn", "dsn-binary", "psn", "masked-psn", "sliding-psn", "lif-noreset")

#: neurons with per-channel parameters: build_model passes ``channels=`` to these.
CHANNEL_NEURONS = ("dsn", "dsn-binary")
#: neurons whose parameters depend on a fixed sequence length: they need ``T=``.
FIXED_T_NEURONS = ("psn", "masked-psn")


def _dsn_binary(**kwargs: Any) -> nn.Module:
    from .dsn import DSN

    if "mode" in kwargs:
        raise SwiftSpikeError("neuron 'dsn-binary' fixes mode='binary'; use 'dsn' to choose the mode")
    return DSN(mode="binary", **kwargs)


def make_neuron(name: str, **kwargs: Any) -> nn.Module:
    """Build a neuron layer: ``lif``, ``if``, ``li`` (analog readout), ``dsn`` (dynamic-decay, integer
    spikes), ``dsn-binary``, ``psn`` / ``masked-psn`` (need ``T=``), ``sliding-psn``, ``lif-noreset``."""
    from .dsn import DSN
    from .modules import IF, LI, LIF
    from .psn import PSN, LIFNoReset, MaskedPSN, SlidingPSN

    table: dict[str, Callable[..., nn.Module]] = {
        "lif": LIF,
        "if": IF,
        "li": LI,
        "dsn": DSN,
        "dsn-binary": _dsn_binary,
        "psn": PSN,
        "masked-psn": MaskedPSN,
        "sliding-psn": SlidingPSN,
        "lif-noreset": LIFNoReset,
    }
    if name not in table:
        raise SwiftSpikeError(f"unknown neuron {name!r}; choose one of: {', '.join(NEURONS)}")
    try:
        return table[name](**kwargs)
    except TypeError as e:
        raise SwiftSpikeError(f"bad arguments for neuron {name!r}: {e}") from None
