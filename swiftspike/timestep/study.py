"""Timestep study and sensitivity analysis for the Diehl & Cook network.

Analytical energy per sample (cost table :data:`COSTS`, joules per operation, 45 nm fp32 figures
from :mod:`swiftspike.metrics.energy`; the energy model of :mod:`swiftspike.metrics.opmodels`,
:func:`~swiftspike.metrics.opmodels.operation_costs` and
:func:`~swiftspike.metrics.opmodels.analytical_energy`)::

    E_infer = synops * e_ac + neuron_updates * (e_mac + e_ac)
    E_train = E_infer + (trace_updates + weight_updates + norm_ops) * e_mac

* synops: event-driven, input spikes x N + exc spikes x 1 + inh spikes x (N - 1) (the analytical
  operation-count model with three fully connected layers: events x fan-out);
* neuron_updates: 2 N per step (exc + inh), one leak multiply-add plus one compare each;
* trace_updates: (F + N) per step (pre/post traces) + N (theta decay);
* weight_updates: N per input spike (depression) + F per exc spike (potentiation);
* norm_ops: F N per weight normalisation (every learning step of a batch, shared by its B samples).

Latency: ``T`` steps of ``dt`` per sample (ms of simulated presentation) and measured wall time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import SwiftSpikeError
from ..metrics.opmodels import analytical_energy, operation_costs
from .diehl_cook import DCParams, DiehlCook, OpCounts

#: the knobs the sensitivity analysis and the enhancement policy act on (name -> DCParams fields)
KNOBS: dict[str, tuple[str, ...]] = {
    "threshold_gap": ("threshold_gap",),
    "theta_plus": ("theta_plus",),
    "leak": ("tau",),
    "refrac": ("refrac",),
    "inhibition": ("w_inh",),
    "learning_rate": ("nu_pre", "nu_post"),
    "input_rate": ("input_rate",),
}


def scale_knobs(p: DCParams, factors: dict[str, float]) -> DCParams:
    """Multiply every field of each knob by its factor (unknown knob names raise)."""
    kw: dict[str, float] = {}
    for knob, f in factors.items():
        if knob not in KNOBS:
            raise SwiftSpikeError(f"unknown knob {knob!r}; choose one of: {', '.join(KNOBS)}")
        for field in KNOBS[knob]:
            kw[field] = getattr(p, field) * float(f)
    return p.updated(**kw) if kw else p


def costs(table: str = "45nm-fp32") -> dict[str, float]:
    """The documented cost table in joules per operation (the kinds TopSpark counts, from
    :func:`swiftspike.metrics.opmodels.operation_costs`)."""
    k = operation_costs(table)
    return {kind: k[kind] for kind in ("synop", "neuron_update", "trace_update", "weight_update", "norm_op")}


COSTS = costs()


def energy_per_sample(c: OpCounts, learn: bool, table: str = "45nm-fp32") -> float:
    """``E_infer`` (or ``E_train`` with ``learn``) per sample of the operations counted in ``c``."""
    e = analytical_energy({"synop": c.synops, "neuron_update": c.neuron_updates}, table)
    if learn:
        e += analytical_energy(
            {"trace_update": c.trace_updates, "weight_update": c.weight_updates, "norm_op": c.norm_ops}, table
        )
    return e / max(c.samples, 1)


@dataclass
class Split:
    """Train / evaluation tensors for one study (flattened, [0, 1])."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_eval: torch.Tensor
    y_eval: torch.Tensor
    n_classes: int = 10


def run_setting(
    split: Split,
    n_neurons: int,
    T: int,
    params: DCParams,
    *,
    batch: int = 16,
    seed: int = 0,
    show: bool = False,
    table: str = "45nm-fp32",
    device: Any = "cpu",
) -> dict[str, Any]:
    """Train a fresh network for ``T`` steps/sample with ``params`` on ``device`` and evaluate it."""
    torch.manual_seed(seed)
    net = DiehlCook(split.x_train.shape[1], n_neurons, params, n_classes=split.n_classes, seed=seed, device=device)
    ct = net.fit(split.x_train, split.y_train, T, batch=batch, show=show)
    pred, ci = net.predict(split.x_eval, T)
    acc = float((pred.to(split.y_eval.device) == split.y_eval).float().mean())
    return {
        "T": T,
        "accuracy": acc,
        "latency_steps": T,
        "latency_ms": T * params.dt,
        "train_wall_ms_per_sample": 1e3 * ct.wall_s / ct.samples,
        "infer_wall_ms_per_sample": 1e3 * ci.wall_s / ci.samples,
        "train_energy_j": energy_per_sample(ct, True, table),
        "infer_energy_j": energy_per_sample(ci, False, table),
        "train_spikes_per_sample": ct.exc_spikes / ct.samples,
        "infer_spikes_per_sample": ci.exc_spikes / ci.samples,
        "input_spikes_per_sample": ci.input_spikes / ci.samples,
        "theta_mean_mv": float(net.theta.mean()),
    }


def timestep_study(
    split: Split, n_neurons: int, Ts: Sequence[int], params: DCParams, policy: Any | None = None, **kw: Any
) -> list[dict[str, Any]]:
    """One row per T (and per ``enhanced`` in {False, True} when a policy is given)."""
    rows = []
    for T in Ts:
        r = run_setting(split, n_neurons, T, params, **kw)
        r["enhanced"] = False
        rows.append(r)
        if policy is not None and T in policy.table and policy.table[T]["factors"]:
            pe = policy.params_for(T, params)
            r2 = run_setting(split, n_neurons, T, pe, **kw)
            r2["enhanced"] = True
            r2["factors"] = dict(policy.table[T]["factors"])
            rows.append(r2)
    return rows


def sensitivity(
    split: Split,
    n_neurons: int,
    T: int,
    params: DCParams,
    *,
    knobs: Sequence[str] = tuple(KNOBS),
    factors: Sequence[float] = (0.5, 2.0),
    base: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """Accuracy change when each knob is scaled by each factor at ``T``; knobs ranked by the
    largest absolute change (``importance``)."""
    base = base or run_setting(split, n_neurons, T, params, **kw)
    out: dict[str, Any] = {"T": T, "base_accuracy": base["accuracy"], "knobs": {}}
    for k in knobs:
        d = {}
        for f in factors:
            r = run_setting(split, n_neurons, T, scale_knobs(params, {k: f}), **kw)
            d[str(f)] = r["accuracy"] - base["accuracy"]
        out["knobs"][k] = {"delta": d, "importance": max(abs(v) for v in d.values())}
    out["ranking"] = sorted(out["knobs"], key=lambda k: -out["knobs"][k]["importance"])
    return out
