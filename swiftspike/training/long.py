"""Run a trained model on sequences much longer than it was trained on, and time metrics of DSN layers.

``long_sequence_eval(model, data, encoder_name, T, factor)`` evaluates the test split at ``factor``
times the training length: temporal data is stretched in time (every step repeated ``factor`` times,
:func:`swiftspike.data.sequential.stretch_time`); static data is encoded with ``factor * T`` steps.
It reports the accuracy and whether any output or neuron state became NaN/inf.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..data.datasets import Dataset
from ..data.encoders import make_encoder
from ..data.sequential import stretch_time
from ..engines.sync import RunRecord
from ..errors import check_positive_int
from ..neurons.dsn import DSN
from .trainer import evaluate, sync_runner


def dsn_time_metrics(model: nn.Module, T: int) -> dict[str, Any]:
    """Logical ``T`` and effective ``T * N`` (integer spikes expanded into ``N`` binary slots) of the
    model's DSN layers; empty when it has none."""
    ns = [m.n_max for m in model.modules() if isinstance(m, DSN)]
    if not ns:
        return {}
    n = max(ns)
    return {"logical_T": int(T), "slots_per_step": n, "effective_T": int(T) * n}


def long_sequence_eval(model: nn.Module, data: Dataset, encoder_name: str, T: int, factor: int,
                       batch_size: int = 64, energy_table: str = "45nm-fp32") -> dict[str, Any]:
    """Accuracy and finiteness of ``model`` on the test split at ``factor * T`` steps."""
    check_positive_int(factor, "--eval-stretch")
    finite = {"ok": True}

    def runner(m: nn.Module, x: torch.Tensor) -> RunRecord:
        rec = sync_runner(m, x)
        if not bool(torch.isfinite(rec.output).all()):
            finite["ok"] = False
        for mod in m.modules():
            st = getattr(mod, "state", None)
            h = getattr(st, "h", None) if st is not None else None
            if isinstance(h, torch.Tensor) and not bool(torch.isfinite(h).all()):
                finite["ok"] = False
        return rec

    if data.temporal:
        x = stretch_time(data.x_test, factor)
        enc = make_encoder("sequence", x.shape[1])
        how = f"each of the {T} steps repeated {factor} times"
    else:
        x = data.x_test
        enc = make_encoder(encoder_name, T * factor)
        how = f"{encoder_name} code with {T * factor} steps"
    rep = evaluate(model, enc, x, data.y_test, batch_size=batch_size, runner=runner, energy_table=energy_table)
    out = {"factor": factor, "T": T * factor, "train_T": T, "method": how, "accuracy": rep.accuracy,
           "finite": finite["ok"], "spikes_per_sample": rep.spikes_per_sample}
    out.update({k: v for k, v in dsn_time_metrics(model, T * factor).items() if k != "logical_T"})
    return out
