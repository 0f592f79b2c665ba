"""The async study's settings: :class:`StudyConfig`, the protocols' defaults (:data:`PROTOCOL_DEFAULTS`),
the names of executions, trainings, losses, readouts and baselines, and the checks of the config's values."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from ...asynch.config import ASYNCTORCH_NEURON, PROTOCOLS, STOP_RULES, AsyncConfig
from ...errors import SwiftSpikeError, check_positive_int, choose
from ..base import DataConfig

EXECUTIONS = ("sync", "random", "momentum", "sync-gate")
TRAININGS = ("sync", "async-random", "async-momentum")
ASYNC_TRAININGS = ("async-random", "async-momentum")
LOSSES = ("count", "rate", "per-step")
READOUTS = ("strict", "argmax")
BASELINES = ("async", "sync-gate")

#: What each protocol sets when the config leaves a field at ``None``.
PROTOCOL_DEFAULTS: dict[str, dict[str, Any]] = {
    "swiftspike": {
        "neuron": {},
        "bias": True,
        "loss": "count",
        "lr": 2e-3,
        "weight_decay": 0.0,
        "refractory_dropout": 0.0,
        "stops": ["quiescence", "first_output"],
        "k": [0],
        "readout": "strict",
        "epochs": 20,
        "T": 8,
        "F": [2],
    },
    "asynctorch": {
        "neuron": dict(ASYNCTORCH_NEURON),
        "bias": False,
        "loss": "rate",
        "lr": 1e-3,
        "weight_decay": 1e-5,
        "refractory_dropout": 0.8,
        "stops": ["quiescence", "frame_first_output"],
        "k": [0, 1, 2],
        "readout": "argmax",
        "epochs": 2,
        "T": None,
        "F": [4, 8, 16, 32, 64, 128],
    },
}

#: Ratios computed per cell (baseline / async-trained; > 1 favours the async-trained model).
RATIO_METRICS = (
    "spikes_per_sample",
    "frame_spikes_to_first_correct",
    "frame_steps_to_first_correct",
    "frame_spikes_to_first_output",
    "frame_steps_to_first_output",
    "steps_to_decision",
    "spikes_to_decision",
)
#: The metrics of the claim: fewer spikes, lower per-frame latency to the first correct output spike.
CLAIM_METRICS = ("spikes_per_sample", "frame_spikes_to_first_correct", "frame_steps_to_first_correct")


@dataclass
class StudyConfig(DataConfig):
    """Every choice of one async study (data fields from :class:`~swiftspike.studies.base.DataConfig`).

    Fields left at ``None`` take the protocol's value (:data:`PROTOCOL_DEFAULTS`); :meth:`resolved` fills
    them in. ``F`` and ``k`` take one value or a list; ``seeds`` defaults to ``[seed]``."""

    protocol: str = "swiftspike"
    seeds: list[int] | None = None
    test_limit: int | None = 300
    T: int | None = None
    hidden: list[int] = field(default_factory=lambda: [64, 64, 64])
    F: Any = None
    k: Any = None
    stops: list[str] | None = None
    epochs: int | None = None
    async_epochs: int | None = None
    batch_size: int = 64
    lr: float | None = None
    weight_decay: float | None = None
    spike_reg: float = 0.0
    v_threshold: float | None = None
    bias: bool | None = None
    finetune: bool = False
    truncate: bool = False
    input_mode: str = "start"
    refractory_dropout: float | None = None
    loss: str | None = None
    early: float = 0.0
    async_spike_reg: float | None = None  # None: spike_reg
    readout: str | None = None
    matched: bool = False
    checkpoint_dir: str | None = None
    acc_tolerance: float = 0.0
    claim_ratio: float = 1.5
    progress: bool = False

    def validate(self) -> StudyConfig:
        self.resolved()
        return self

    def resolved(self) -> StudyConfig:
        """A validated copy with every ``None`` replaced by the protocol's value and lists normalised."""
        choose("protocol", self.protocol, PROTOCOLS)
        d = PROTOCOL_DEFAULTS[self.protocol]
        Fs = _int_list(d["F"] if self.F is None else self.F, "F", positive=True)
        ks = _int_list(d["k"] if self.k is None else self.k, "k", positive=False)
        seeds = _int_list([self.seed] if self.seeds is None else self.seeds, "seeds", positive=False)
        stops = list(d["stops"] if self.stops is None else self.stops)
        if not stops:
            raise SwiftSpikeError("stops must name at least one stop rule")
        for s in stops:
            choose("stop rule", s, STOP_RULES)
        c = replace(
            self,
            F=sorted(set(Fs)),
            k=sorted(set(ks)),
            seeds=list(dict.fromkeys(seeds)),
            stops=stops,
            T=d["T"] if self.T is None else self.T,
            epochs=d["epochs"] if self.epochs is None else self.epochs,
            lr=d["lr"] if self.lr is None else self.lr,
            weight_decay=d["weight_decay"] if self.weight_decay is None else self.weight_decay,
            bias=d["bias"] if self.bias is None else self.bias,
            refractory_dropout=d["refractory_dropout"] if self.refractory_dropout is None else self.refractory_dropout,
            loss=d["loss"] if self.loss is None else self.loss,
            readout=d["readout"] if self.readout is None else self.readout,
        )
        if c.async_epochs is None:
            c.async_epochs = c.epochs
        if c.T is not None:
            check_positive_int(c.T, "T")
        for name in ("epochs", "async_epochs", "batch_size"):
            check_positive_int(getattr(c, name), name)
        if not c.hidden or any(isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in c.hidden):
            raise SwiftSpikeError(f"hidden sizes must be positive integers, got {c.hidden}")
        choose("input_mode", c.input_mode, ("start", "queued"))
        choose("loss", _resolved(c.loss), LOSSES)
        choose("readout", _resolved(c.readout), READOUTS)
        if not (isinstance(c.bias, bool)):
            raise SwiftSpikeError(f"bias must be True or False, got {c.bias!r}")
        AsyncConfig(
            F=c.F[0], k=c.k[0], input_mode=c.input_mode, refractory_dropout=_resolved(c.refractory_dropout)
        ).validate()
        _finite(c.lr, "lr", positive=True)
        _finite(c.weight_decay, "weight_decay")
        _finite(c.spike_reg, "spike_reg")
        _finite(c.early, "early")
        _finite(c.acc_tolerance, "acc_tolerance")
        _finite(c.claim_ratio, "claim_ratio", positive=True)
        if c.v_threshold is not None:
            _finite(c.v_threshold, "v_threshold", positive=True)
        if c.async_spike_reg is not None:
            _finite(c.async_spike_reg, "async_spike_reg")
        if c.loss not in ("count",) and c.truncate:
            raise SwiftSpikeError(f"the {c.loss} loss is not available with truncated training; drop --truncate")
        if c.test_limit is not None and (
            isinstance(c.test_limit, bool) or not isinstance(c.test_limit, int) or c.test_limit <= 0
        ):
            raise SwiftSpikeError(f"test_limit must be a positive integer, got {c.test_limit}")
        return c

    def neuron_kwargs(self) -> dict[str, Any]:
        """LIF keyword arguments of the study's neurons (the protocol's regime, ``v_threshold`` overridden)."""
        nk = dict(PROTOCOL_DEFAULTS[self.protocol]["neuron"])
        if self.v_threshold is not None:
            nk["v_threshold"] = float(self.v_threshold)
        return nk

    def stop_rules(self) -> list[tuple[str, int]]:
        """``(stop, k)`` pairs evaluated: quiescence once, each other rule once per ``k``."""
        return [
            (s, 0) if s == "quiescence" else (s, k)
            for s in _resolved(self.stops)
            for k in ([0] if s == "quiescence" else self.k)
        ]


_T = TypeVar("_T")


def _resolved(value: _T | None) -> _T:
    """A :class:`StudyConfig` field that :meth:`StudyConfig.resolved` has filled (every config the study
    runs is resolved; ``None`` here would be a bug)."""
    assert value is not None, "a StudyConfig field is unset; the study runs resolved configs only"
    return value


def _int_list(v: Any, name: str, *, positive: bool) -> list[int]:
    vals = [v] if isinstance(v, int) and not isinstance(v, bool) else v
    try:
        vals = list(vals)
    except TypeError:
        raise SwiftSpikeError(f"{name} must be an integer or a list of integers, got {v!r}") from None
    if not vals:
        raise SwiftSpikeError(f"{name} must name at least one value")
    for x in vals:
        if isinstance(x, bool) or not isinstance(x, int) or (x <= 0 if positive else x < 0):
            raise SwiftSpikeError(f"{name} must hold {'positive integers' if positive else 'integers >= 0'}, got {x!r}")
    return vals


def _finite(v: Any, name: str, *, positive: bool = False) -> None:
    ok = (
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (v > 0 if positive else v >= 0)
    )
    if not ok:
        raise SwiftSpikeError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {v!r}")


def stop_label(stop: str, k: int) -> str:
    """``'quiescence'`` or ``'<stop>,k=<k>'``."""
    return stop if stop == "quiescence" else f"{stop},k={k}"
