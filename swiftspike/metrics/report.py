"""One :class:`Report` for every capability, plus the decision/latency metrics behind it.

Latency to decision (``latency_steps``): at each step ``t`` the network's running prediction is the
arg-max of its *cumulative* output: spike counts summed up to ``t``, or for an analog (membrane)
readout the running mean of the membrane up to ``t`` (so the final prediction is the arg-max of the
time-averaged membrane, the quantity the ``membrane`` loss trains). A sample's latency is the first step
(1-based) from which the prediction is the correct class and stays correct to the end; ties with another
class count as undecided. The mean is over samples classified correctly at the end.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from ..errors import SwiftSpikeError
from .energy import energy, energy_ratio, get_energy_table
from .neurobench import static_metrics


def running_scores(output: torch.Tensor, spiking: bool) -> torch.Tensor:
    r"""Cumulative class evidence ``[T, B, C]`` from an output ``[T, B, C]``: running spike counts, or the
    running mean of an analog readout, :math:`\bar u_t = \frac1t \sum_{t' \le t} u_{t'}`."""
    if spiking:
        return output.cumsum(0)
    steps = torch.arange(1, output.shape[0] + 1, dtype=output.dtype, device=output.device)
    return output.cumsum(0) / steps.view(-1, *([1] * (output.dim() - 1)))


def correct_per_step(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``[T, B]`` bool: class ``y`` strictly beats every other class at step ``t``."""
    target = scores.gather(2, y.view(1, -1, 1).expand(scores.shape[0], -1, 1)).squeeze(2)
    others = scores.clone()
    others.scatter_(2, y.view(1, -1, 1).expand(scores.shape[0], -1, 1), -math.inf)
    return target > others.max(2).values


def decision_latency(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-sample step (1-based) from which the prediction is correct for good; ``T+1`` if never."""
    ok = correct_per_step(scores, y)  # [T, B]
    T = ok.shape[0]
    # stays correct from t on  <=>  reversed cumulative product of ok is 1
    stays = ok.flip(0).to(torch.int64).cumprod(0).flip(0).bool()
    n_final = stays.sum(0)  # number of trailing correct steps
    return (T - n_final + 1).to(torch.float32)


def first_spike_step(output: torch.Tensor) -> torch.Tensor:
    """Per-sample first step (1-based) at which any output neuron spiked; ``nan`` if none did."""
    any_spike = (output.flatten(2) != 0).any(2)  # [T, B]
    idx = torch.where(any_spike.any(0), any_spike.float().argmax(0).float() + 1, torch.tensor(float("nan")))
    return idx


@dataclass
class Report:
    """Accuracy, spikes, latency, synaptic ops and energy of one evaluation (per sample means)."""

    accuracy: float
    n_samples: int
    time_steps: int
    spikes_per_sample: float
    spikes_per_layer: dict[str, float]
    spike_density: float
    latency_steps: float
    first_spike_step: float | None
    synops: float
    acs: float
    macs: float
    energy_j: float
    ann_energy_j: float
    energy_ratio_vs_ann: float
    energy_table: str
    accuracy_per_step: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: operation-count model of ``synops``/``acs``/``macs``: 'event', 'analytical', 'mixed' or 'none'
    op_model: str = "event"
    #: finite means of the executor's per-sample ``RunRecord.stats`` (e.g. the async engine's steps)
    stats: dict[str, float] = field(default_factory=dict)
    #: NeuroBench's metrics under NeuroBench's names (see :mod:`swiftspike.metrics.neurobench`)
    neurobench: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=float)

    def table(self) -> str:
        """Human-readable summary."""
        fs = (
            "n/a"
            if self.first_spike_step is None or math.isnan(self.first_spike_step)
            else f"{self.first_spike_step:.2f}"
        )
        rows = [
            ("accuracy", f"{100 * self.accuracy:.2f} %  ({self.n_samples} samples, T={self.time_steps})"),
            ("spikes / sample", f"{self.spikes_per_sample:.1f}  (density {self.spike_density:.4f})"),
            *[(f"  layer {k}", f"{v:.1f}") for k, v in self.spikes_per_layer.items()],
            ("latency to decision", f"{self.latency_steps:.2f} steps (first output spike: {fs})"),
            ("synaptic ops / sample", f"{self.synops:.3g}  (AC {self.acs:.3g}, MAC {self.macs:.3g})"),
            ("energy / sample", f"{self.energy_j:.3g} J  [{self.energy_table}]"),
            ("ANN energy / sample", f"{self.ann_energy_j:.3g} J  (E_ANN / E_SNN = {self.energy_ratio_vs_ann:.2f})"),
            *[(f"  {k}", f"{v:.4g}") for k, v in self.stats.items()],
            *[(f"NeuroBench {k}", _fmt(v)) for k, v in self.neurobench.items()],
        ]
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def _json_safe(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def _fmt(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt(x)}" for k, x in v.items())
    return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


class ReportBuilder:
    """Accumulates :class:`~swiftspike.metrics.record.RunRecord` batches into a :class:`Report`.

    ``model`` (optional) adds NeuroBench's static metrics (parameter count, footprint, connection
    sparsity) to ``Report.neurobench``; its workload metrics come from the records: synaptic operations
    from event-counted ``SynOps``, activation sparsity and membrane updates from ``RunRecord.neurons``."""

    def __init__(self, energy_table: str = "45nm-fp32", model: torch.nn.Module | None = None) -> None:
        self.table = get_energy_table(energy_table).name
        self.model = model
        self.n = 0
        self.correct = 0
        self.T: int | None = None
        self.layer_spikes: dict[str, float] = {}
        self.layer_neurons: dict[str, int] = {}
        self.latency_sum = 0.0
        self.first_spike_sum = 0.0
        self.first_spike_n = 0
        self.acs = 0.0
        self.macs = 0.0
        self.dense = 0.0
        self.correct_per_step: torch.Tensor | None = None
        self.op_models: set[str] = set()
        self.stats: dict[str, list[torch.Tensor]] = {}
        self.nb = _NeuroBenchCounts()

    def add(self, rec, y: torch.Tensor) -> None:
        out = rec.output.detach()
        if out.dim() != 3:
            out = out.flatten(2)
        T, B = out.shape[:2]
        if self.T is None:
            self.T = T
        elif self.T != T:
            raise SwiftSpikeError(f"all batches of one report need the same T ({self.T} != {T})")
        scores = running_scores(out, rec.output_spiking)
        ok = correct_per_step(scores, y)
        final_ok = ok[-1]
        self.n += B
        self.correct += int(final_ok.sum())
        cps = ok.sum(1).double()
        self.correct_per_step = cps if self.correct_per_step is None else self.correct_per_step + cps
        lat = decision_latency(scores, y)
        self.latency_sum += float(lat[final_ok].sum())
        if rec.output_spiking:
            fs = first_spike_step(out)
            good = ~torch.isnan(fs)
            self.first_spike_sum += float(fs[good].sum())
            self.first_spike_n += int(good.sum())
        for ls in rec.layers:
            self.layer_spikes[ls.name] = self.layer_spikes.get(ls.name, 0.0) + float(ls.per_step.detach().sum())
            self.layer_neurons[ls.name] = ls.n_neurons
        for so in rec.synops:
            self.acs += float(so.acs.sum())
            self.macs += float(so.macs.sum())
            self.dense += so.dense_macs * B
            self.op_models.add(so.model)
        for k, v in rec.stats.items():
            self.stats.setdefault(k, []).append(v.detach().reshape(-1).double().cpu())
        self.nb.add(rec, out, y)

    def build(self, **extra: Any) -> Report:
        if self.n == 0:
            raise SwiftSpikeError("no samples were evaluated")
        n, T = self.n, self.T or 1
        per_layer = {k: v / n for k, v in self.layer_spikes.items()}
        spikes = sum(per_layer.values())
        neurons = sum(self.layer_neurons.values())
        e_snn = energy(self.macs / n, self.acs / n, self.table)
        e_ann = energy(self.dense / n, 0.0, self.table)
        n_correct = max(self.correct, 1)
        return Report(
            accuracy=self.correct / n,
            n_samples=n,
            time_steps=T,
            spikes_per_sample=spikes,
            spikes_per_layer=per_layer,
            spike_density=spikes / (neurons * T) if neurons else 0.0,
            latency_steps=self.latency_sum / n_correct if self.correct else float("nan"),
            first_spike_step=self.first_spike_sum / self.first_spike_n if self.first_spike_n else None,
            synops=(self.acs + self.macs) / n,
            acs=self.acs / n,
            macs=self.macs / n,
            energy_j=e_snn,
            ann_energy_j=e_ann,
            energy_ratio_vs_ann=energy_ratio(e_ann, e_snn),
            energy_table=self.table,
            accuracy_per_step=[float(v) / n for v in self.correct_per_step]
            if self.correct_per_step is not None
            else [],
            extra=dict(extra),
            op_model=(
                next(iter(self.op_models)) if len(self.op_models) == 1 else "mixed" if self.op_models else "none"
            ),
            stats={k: _finite_mean(torch.cat(v)) for k, v in self.stats.items()},
            neurobench={**(static_metrics(self.model) if self.model is not None else {}), **self.nb.build()},
        )


def _finite_mean(v: torch.Tensor) -> float:
    ok = torch.isfinite(v)
    return float(v[ok].mean()) if bool(ok.any()) else math.nan


class _NeuroBenchCounts:
    """NeuroBench's workload metrics accumulated over records (definitions in
    :mod:`swiftspike.metrics.neurobench`); a metric is left out when some record does not carry it."""

    def __init__(self) -> None:
        self.n = 0
        self.correct = 0
        self.ac = self.mac = self.dense = 0.0
        self.has_synops = True
        self.sparsity_sum = 0.0  # sum over batches of batch sparsity x batch size
        self.has_neurons = True
        self.membrane = 0.0

    def add(self, rec, out: torch.Tensor, y: torch.Tensor) -> None:
        T, B = out.shape[:2]
        self.n += B
        self.correct += int((out.sum(0).argmax(-1) == y).sum())  # ChooseMaxCount: first index on ties
        if rec.synops and all(so.effective is not None and so.spiking is not None for so in rec.synops):
            for so in rec.synops:
                ops = float(so.effective.double().sum())
                if bool(so.spiking.all()):  # one decision per layer call: the whole batch, all steps
                    self.ac += ops
                else:
                    self.mac += ops
                self.dense += so.dense_macs * T * B
        else:
            self.has_synops = False
        if rec.neurons:
            nonzero = sum(float(a.nonzero.sum()) for a in rec.neurons)
            total = sum(a.steps * a.n_neurons for a in rec.neurons) * B
            self.sparsity_sum += ((total - nonzero) / total if total else 0.0) * B
            self.membrane += sum(
                float(a.membrane_updates.double().sum()) for a in rec.neurons if a.membrane_updates is not None
            )
        else:
            self.has_neurons = False

    def build(self) -> dict[str, Any]:
        if self.n == 0:
            return {}
        n = self.n
        d: dict[str, Any] = {"ClassificationAccuracy": self.correct / n}
        if self.has_neurons:
            d["ActivationSparsity"] = self.sparsity_sum / n
            d["MembraneUpdates"] = self.membrane / n
        if self.has_synops:
            d["SynapticOperations"] = {
                "Effective_MACs": self.mac / n,
                "Effective_ACs": self.ac / n,
                "Dense": self.dense / n,
            }
        return d
