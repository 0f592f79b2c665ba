"""``swiftspike bench convert``: ANN-to-SNN calibration time and accuracy against SpikingJelly's ann2snn.

Both libraries convert the same trained ANN with the same calibration batch, in the same process. The
ANN uses plain ``nn.ReLU`` activations: SpikingJelly's rate-coding recipe replaces ``nn.ReLU`` modules
only (a zoo model's ``ClippedReLU`` would stay analog there), so the bench trains the zoo model with its
ceilings removed, or takes a checkpoint (a checkpoint with ``ClippedReLU`` skips the peer, with the reason).

* swiftspike: :func:`swiftspike.conversion.convert` with each calibration method at each ``T`` of
  ``calib_times`` (only ``distribution-aware`` depends on ``T``: it fits each layer on the spike trains
  of the converted layers before it);
* SpikingJelly 2.0: ``ann2snn.Converter(ann2snn.RateCodingRecipe(dataloader=[calib], mode=m))
  .convert(ann)`` with ``m = 'max'`` and the robust-normalisation mode ``'99.9%'`` (trace, Conv-BN fusion,
  ``VoltageHook`` calibration, ``nn.ReLU`` -> scaled ``IFNode`` with soft reset).

Timing: the wall time of the whole conversion call (a copy of the ANN, tracing, BatchNorm folding,
calibration: what a user waits for), every contestant interleaved round-robin, median of ``repeats``,
reported in seconds and as a ratio to SpikingJelly's ``max`` measured in the same run. Before timing,
swiftspike's ``max`` thresholds are checked against SpikingJelly's ``max`` scales (both are the largest
ReLU activation of each layer on the same batch). Accuracy at each ``T``: swiftspike's converted net runs
``snn(x, T=T)``; SpikingJelly's runs step by step as its ann2snn example does (``functional.reset_net``,
the sum of ``T`` single-step outputs, argmax).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._version import __version__
from ..conversion.ann import ClippedReLU, ann_accuracy, build_ann, train_ann
from ..conversion.calibrate import METHODS
from ..conversion.convert import convert
from ..conversion.finetune import snn_accuracy
from ..errors import SwiftSpikeError, check_positive_int, choose
from ..training.trainer import seed_everything
from .timing import time_interleaved

PEER_MODES = ("max", "99.9%")
SJ = "spikingjelly"
SS = "swiftspike"


def plain_relu(model: nn.Module) -> nn.Module:
    """``model`` (in place) with every :class:`ClippedReLU` replaced by ``nn.ReLU``."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ClippedReLU):
                setattr(parent, name, nn.ReLU())
    return model


def _spikingjelly() -> tuple[Any | None, str | None]:
    try:
        from spikingjelly.activation_based import ann2snn, functional
    except Exception as e:  # not installed, or an incompatible version
        return None, f"spikingjelly is not importable ({type(e).__name__}: {e})"
    if not hasattr(ann2snn, "RateCodingRecipe"):
        return None, "this spikingjelly has no ann2snn.RateCodingRecipe (SpikingJelly 2.0 is needed)"
    return (ann2snn, functional), None


def _sj_convert(ann2snn: Any, ann: nn.Module, calib: torch.Tensor, mode: str) -> nn.Module:
    with contextlib.redirect_stderr(io.StringIO()):  # its calibration loop draws a tqdm bar
        return ann2snn.Converter(ann2snn.RateCodingRecipe(dataloader=[calib], mode=mode)).convert(copy.deepcopy(ann))


def _sj_scales(net: nn.Module) -> list[float]:
    """Per-layer threshold scales of a converted SpikingJelly net (the ``scaler1`` of each spiking block)."""
    return [float(m.scale) for n, m in net.named_modules() if n.endswith("scaler1") and hasattr(m, "scale")]


def _sj_accuracy(
    functional: Any, net: nn.Module, x: torch.Tensor, y: torch.Tensor, T_max: int, batch_size: int = 256
) -> list[float]:
    """Accuracy after each of ``T_max`` steps, run as SpikingJelly's ann2snn example does."""
    correct = torch.zeros(T_max)
    net.eval()
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            functional.reset_net(net)
            out = None
            for t in range(T_max):
                step = net(xb)
                out = step if out is None else out + step
                correct[t] += float((out.argmax(1) == yb).sum())
            functional.reset_net(net)
    return (correct / max(1, len(x))).tolist()


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info: dict[str, Any] = {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count()}
    if hasattr(os, "getloadavg"):
        info["load_average_at_start"] = [round(v, 2) for v in os.getloadavg()]
    return info


def _versions(sj: Any | None) -> dict[str, str | None]:
    v: dict[str, str | None] = {"python": sys.version.split()[0], "torch": torch.__version__, SS: __version__, SJ: None}
    if sj is not None:
        try:
            from importlib.metadata import version

            v[SJ] = version("spikingjelly")
        except Exception:
            v[SJ] = "unknown"
    return v


def run(
    data: Any,
    *,
    model: str = "conv",
    ann: nn.Module | None = None,
    epochs: int = 8,
    calib_samples: int = 256,
    times: Sequence[int] = (1, 2, 4, 8),
    calib_times: Sequence[int] = (2, 8),
    methods: Sequence[str] = METHODS,
    peer_modes: Sequence[str] = PEER_MODES,
    percentile: float = 99.9,
    repeats: int = 5,
    threads: int | None = 1,
    test_limit: int | None = None,
    seed: int = 0,
    log: Callable[..., None] = lambda *a: None,
) -> dict[str, Any]:
    """Run the benchmark on ``data`` (a static :class:`~swiftspike.data.Dataset`); returns a JSON-ready dict.

    ``ann``: the network to convert (default: the zoo ``model`` with plain ReLUs, trained ``epochs`` epochs,
    seeded). ``calib_times``: the ``T`` at which calibration is timed; ``times``: the ``T`` at which
    accuracy is measured. ``threads``: torch threads while the bench runs (``None``: leave as is)."""
    for m in methods:
        choose("calibration method", m, METHODS)
    for t in list(times) + list(calib_times):
        check_positive_int(t, "T")
    check_positive_int(calib_samples, "calibration samples")
    check_positive_int(repeats, "repeats")
    for m in peer_modes:
        if m not in PEER_MODES:
            raise SwiftSpikeError(f"unknown SpikingJelly mode {m!r}; choose from: {', '.join(PEER_MODES)}")
    if getattr(data, "temporal", False):
        raise SwiftSpikeError(f"conversion needs a static dataset, {data.name!r} is temporal")
    old_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(check_positive_int(threads, "threads"))
    try:
        return _run(
            data,
            model,
            ann,
            epochs,
            calib_samples,
            tuple(times),
            tuple(calib_times),
            tuple(methods),
            tuple(peer_modes),
            percentile,
            repeats,
            test_limit,
            seed,
            log,
        )
    finally:
        torch.set_num_threads(old_threads)


def _run(
    data,
    model,
    ann,
    epochs,
    calib_samples,
    times,
    calib_times,
    methods,
    peer_modes,
    percentile,
    repeats,
    test_limit,
    seed,
    log,
) -> dict[str, Any]:
    seed_everything(seed)
    xte, yte = data.x_test[:test_limit], data.y_test[:test_limit]
    ann, source = _ann(data, model, ann, epochs, seed)
    ann_acc = ann_accuracy(ann, xte, yte)
    log(f"ANN: test accuracy {100 * ann_acc:.2f} % ({source})")
    g = torch.Generator().manual_seed(seed)
    calib = data.x_train[torch.randperm(len(data.x_train), generator=g)[:calib_samples]]
    b = _Bench(ann, calib, xte, yte, times, calib_times, percentile, log)
    sj, reason = _peer(ann)
    check = {} if sj is None else _agreement(b, sj[0])  # before timing
    timed = _time_conversions(b, sj, methods, peer_modes, repeats)
    rows = ([] if sj is None else _peer_rows(b, sj, peer_modes, timed)) + _our_rows(b, methods, timed)
    return {
        "benchmark": "convert",
        "dataset": getattr(data, "name", "?"),
        "model": model,
        "ann": source,
        "ann_accuracy": ann_acc,
        "calib_samples": len(calib),
        "test_samples": len(xte),
        "times": list(times),
        "calib_times": list(calib_times),
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        "device": "cpu",
        "versions": _versions(sj),
        "machine": _machine(),
        "peers": {SJ: {"available": sj is not None, "reason": reason}},
        "check": check,
        "rows": rows,
    }


@dataclass
class _Bench:
    """What every contestant shares: the ANN, the calibration batch, the test set, the ``T`` of accuracy
    (``times``) and of timing (``calib_times``), the percentile of swiftspike's percentile method."""

    ann: nn.Module
    calib: torch.Tensor
    xte: torch.Tensor
    yte: torch.Tensor
    times: tuple[int, ...]
    calib_times: tuple[int, ...]
    percentile: float
    log: Callable[..., None]


def _ann(data: Any, model: str, ann: nn.Module | None, epochs: int, seed: int) -> tuple[nn.Module, str]:
    """The ANN to convert (given, or the zoo ``model`` with plain ReLUs trained here), in eval mode, and
    where it came from."""
    source = "checkpoint"
    if ann is None:
        source = f"trained here: zoo {model!r} with nn.ReLU, {epochs} epochs, seed {seed}"
        ann = plain_relu(build_ann(model, data.input_shape, data.n_classes))
        train_ann(ann, data.x_train, data.y_train, epochs=epochs, seed=seed, show_progress=False)
    ann.eval()
    return ann, source


def _peer(ann: nn.Module) -> tuple[Any | None, str | None]:
    """SpikingJelly's ``(ann2snn, functional)``, or ``None`` and the reason it cannot take part."""
    sj, reason = _spikingjelly()
    if sj is not None and any(isinstance(m, ClippedReLU) for m in ann.modules()):
        return None, (
            "the ANN has ClippedReLU activations; SpikingJelly's RateCodingRecipe converts "
            "nn.ReLU modules only (use the bench's own ANN or a plain-ReLU checkpoint)"
        )
    return sj, reason


def _agreement(b: _Bench, ann2snn: Any) -> dict[str, Any]:
    """Both ``max`` calibrations are the largest activation of each layer: compare the thresholds."""
    ours = [a.calibration.theta for a in convert(b.ann, b.calib, T=b.calib_times[0], method="max").spike_layers]
    theirs = _sj_scales(_sj_convert(ann2snn, b.ann, b.calib, "max"))
    same = len(ours) == len(theirs)
    rel = max((abs(a - c) / max(abs(c), 1e-12) for a, c in zip(ours, theirs)), default=0.0) if same else None
    check = {
        "swiftspike_max_thresholds": ours,
        "spikingjelly_max_scales": theirs,
        "max_rel_diff": rel,
        "agree": bool(same and rel is not None and rel <= 1e-4),
    }
    b.log(f"max thresholds agree with SpikingJelly's: {check['agree']} (max rel. diff {rel})")
    return check


def _time_conversions(
    b: _Bench, sj: Any | None, methods: tuple[str, ...], peer_modes: tuple[str, ...], repeats: int
) -> dict[str, float]:
    """Median calibration time of every contestant, interleaved; keys ``'<library>|<method>|<T>'`` (the
    peer's ``T`` empty: its conversion does not depend on ``T``)."""

    def peer_call(mode: str) -> Callable[[], object]:
        ann2snn = sj[0] if sj is not None else None
        return lambda: _sj_convert(ann2snn, b.ann, b.calib, mode)

    def our_call(method: str, T: int) -> Callable[[], object]:
        return lambda: convert(b.ann, b.calib, T=T, method=method, percentile=b.percentile)

    fns: dict[str, Callable[[], object]] = {}
    if sj is not None:
        for mode in peer_modes:
            fns[f"{SJ}|{mode}|"] = peer_call(mode)
    for T in b.calib_times:
        for method in methods:
            fns[f"{SS}|{method}|{T}"] = our_call(method, T)
    b.log(f"timing {len(fns)} conversions x {repeats} repeats (interleaved) ...")
    return time_interleaved(fns, repeats=repeats, warmup=1)


def _peer_rows(b: _Bench, sj: Any, peer_modes: tuple[str, ...], timed: dict[str, float]) -> list[dict[str, Any]]:
    """One row per SpikingJelly mode: calibration time, its ratio to ``max``, accuracy at each ``T``."""
    base = timed.get(f"{SJ}|max|")
    rows = []
    for mode in peer_modes:
        per_step = _sj_accuracy(sj[1], _sj_convert(sj[0], b.ann, b.calib, mode), b.xte, b.yte, max(b.times))
        s = timed[f"{SJ}|{mode}|"]
        rows.append(
            {
                "library": SJ,
                "method": mode,
                "calib_seconds": {str(T): s for T in b.calib_times},
                "ratio_vs_spikingjelly_max": {str(T): (s / base if base else None) for T in b.calib_times},
                "accuracy": {str(T): per_step[T - 1] for T in b.times},
            }
        )
    return rows


def _our_rows(b: _Bench, methods: tuple[str, ...], timed: dict[str, float]) -> list[dict[str, Any]]:
    """One row per swiftspike method: calibration time at each timed ``T``, its ratio to SpikingJelly's
    ``max``, accuracy of the net converted at each ``T``."""
    base = timed.get(f"{SJ}|max|")
    rows = []
    for method in methods:
        secs = {str(T): timed[f"{SS}|{method}|{T}"] for T in b.calib_times}
        acc: dict[str, float] = {}
        for T in b.times:
            snn = convert(b.ann, b.calib, T=T, method=method, percentile=b.percentile)
            acc[str(T)] = snn_accuracy(snn, b.xte, b.yte, T)
        rows.append(
            {
                "library": SS,
                "method": method if method != "percentile" else f"percentile ({b.percentile:g})",
                "calib_seconds": secs,
                "ratio_vs_spikingjelly_max": {k: (v / base if base else None) for k, v in secs.items()},
                "accuracy": acc,
            }
        )
        b.log(f"  {method}: accuracy " + ", ".join(f"T={k} {100 * v:.2f} %" for k, v in acc.items()))
    return rows


def table(res: dict[str, Any]) -> str:
    """The result as a text table: calibration time (and ratio to SpikingJelly's max) and accuracy per T."""
    cts, ts = res["calib_times"], res["times"]
    head = (
        f"{'library':<13}{'method':<20}"
        + "".join(f"{'calib T=' + str(t) + ' ms':>15}{'x SJ max':>9}" for t in cts)
        + "".join(f"{'acc T=' + str(t):>10}" for t in ts)
    )
    title = (
        f"{res['dataset']} / {res['model']}: ANN {100 * res['ann_accuracy']:.2f} %, {res['calib_samples']} "
        f"calibration samples, {res['test_samples']} test samples, {res['threads']} thread(s), median of "
        f"{res['repeats']} interleaved repeats"
    )
    lines = [title, head]
    for r in res["rows"]:
        cells = ""
        for t in cts:
            s, q = r["calib_seconds"][str(t)], r["ratio_vs_spikingjelly_max"][str(t)]
            cells += f"{1e3 * s:>15.1f}" + (f"{q:>8.2f}x" if q is not None else f"{'n/a':>9}")
        cells += "".join(f"{100 * r['accuracy'][str(t)]:>9.2f}%" for t in ts)
        lines.append(f"{r['library']:<13}{r['method']:<20}{cells}")
    peer = res["peers"][SJ]
    if not peer["available"]:
        lines.append(f"spikingjelly skipped: {peer['reason']}")
    elif res["check"]:
        c = res["check"]
        if c["max_rel_diff"] is None:
            lines.append("check: the two converted networks have different numbers of spiking layers")
        else:
            verdict = "equal" if c["agree"] else "DIFFER FROM"
            lines.append(
                f"check: swiftspike 'max' thresholds {verdict} SpikingJelly's 'max' scales "
                f"(max rel. diff {c['max_rel_diff']:.2g})"
            )
    v = res["versions"]
    lines.append(
        f"versions: swiftspike {v[SS]}, spikingjelly {v[SJ]}, torch {v['torch']}, python {v['python']}; "
        f"machine: {res['machine']['cpu']} ({res['machine']['cpu_count']} CPUs)"
    )
    return "\n".join(lines)
