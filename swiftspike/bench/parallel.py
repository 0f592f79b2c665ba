"""``swiftspike bench parallel``: training cost of parallel and sequential spiking neurons over ``T``.

One layer of ``features`` neurons gets input ``[T, batch, features]``; we time a forward + backward
pass (sum of the outputs as the loss) of

* swiftspike's ``dsn`` (parallel chunked scan), ``psn`` (``T x T`` weight), ``sliding-psn`` (``k = 4``)
  and ``lif`` (sequential, with reset), and
* SpikingJelly's ``PSN`` and ``SlidingPSN`` (``spikingjelly-psn``, ``spikingjelly-sliding-psn``), the
  peers' own code, when SpikingJelly is installed.

Before timing, each swiftspike method and its SpikingJelly counterpart (same computation) get the same
weights and the same input in float64 and must give identical spikes and equal input, weight and
threshold gradients (checked once per run at a small ``T``: the code path does not depend on ``T``).

Each ``T`` runs in a fresh child process with ``threads`` torch threads; every method is warmed up,
then the timed calls are interleaved round-robin (:func:`~swiftspike.bench.timing.time_interleaved`)
and the median wall time is reported, with the median CPU time of the same calls (less sensitive to
other jobs on a shared machine). Peak memory is the largest amount of memory the torch allocator
holds during one forward + backward beyond what it held before (input and parameters excluded), read
from the profiler's allocation events on CPU and from ``max_memory_allocated`` on CUDA.

A method is skipped at a size, with the reason, when ``T > max_T``, when its estimated memory exceeds
``mem_cap_gb``, when its time predicted from the previous size (it grows as ``T``, ``T^2`` or ``T^3``,
see :data:`GROWTH`) exceeds ``time_cap_s``, or when its first (warm-up) call took longer than that.
Speed and memory are reported as ratios ``method / dsn`` measured in the same run.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SWIFTSPIKE_METHODS = ("dsn", "psn", "sliding-psn", "lif")
PEER_METHODS = ("spikingjelly-psn", "spikingjelly-sliding-psn")
METHODS = SWIFTSPIKE_METHODS + PEER_METHODS
DEFAULT_T = (256, 1024, 4096, 16384)
#: swiftspike method and the SpikingJelly method that computes the same thing
SAME_COMPUTATION = {"spikingjelly-psn": "psn", "spikingjelly-sliding-psn": "sliding-psn"}
#: time ~ T**p, to predict the next size from the last: PSN multiplies a T x T matrix; SpikingJelly's
#: SlidingPSN builds its T x T matrix row by row with autograd, and the backward copies the whole matrix
#: gradient per row (measured between ~T^3 and ~T^5 on a 2-core CPU, page faults included: 0.3-2.6 s
#: at T = 1024, 22 s at 2048, 240 s at 4096), so it is predicted conservatively
GROWTH = {"dsn": 1, "psn": 2, "sliding-psn": 1, "lif": 1, "spikingjelly-psn": 2, "spikingjelly-sliding-psn": 4}
KERNEL = 4
#: sequence length of the float64 agreement check
CHECK_T = 64


def _build(method: str, T: int, features: int):
    """A fresh layer (float32, CPU) and the function that resets its state between calls."""
    if method in PEER_METHODS:
        from spikingjelly.activation_based import functional
        from spikingjelly.activation_based.neuron import PSN as SJPSN
        from spikingjelly.activation_based.neuron import SlidingPSN as SJSlidingPSN

        layer = SJPSN(T) if method == "spikingjelly-psn" else SJSlidingPSN(KERNEL, step_mode="m")
        return layer, functional.reset_net
    from ..neurons.dsn import DSN
    from ..neurons.modules import LIF, reset
    from ..neurons.psn import PSN, SlidingPSN

    layer = {
        "dsn": lambda: DSN(channels=features),
        "psn": lambda: PSN(T),
        "sliding-psn": lambda: SlidingPSN(k=KERNEL),
        "lif": lambda: LIF(tau=2.0),
    }[method]()
    return layer, reset


def _tie(ours, peer) -> None:
    """Give the SpikingJelly layer swiftspike's weights: theirs is ``Theta(W x + bias)``, ours
    ``Theta(W x - b)``, so ``bias = -b``."""
    import torch

    with torch.no_grad():
        peer.weight.copy_(ours.weight)
        peer.bias.copy_(-ours.bias.reshape(peer.bias.shape))


def estimate_bytes(method: str, T: int, batch: int, features: int) -> int:
    """Rough peak memory of one forward+backward (float32) used to skip sizes that cannot fit."""
    act = 4 * T * batch * features
    if method in ("psn", "spikingjelly-psn"):
        return 4 * 4 * T * T + 6 * act  # weight, its grad, matmul temporaries
    if method == "spikingjelly-sliding-psn":
        return 4 * 4 * T * T + 6 * act  # the T x T matrix built from the k weights, its grad, copies
    if method == "sliding-psn":
        return 18 * act
    return 8 * act


def _agreement(peer: str, features: int, batch: int, seed: int) -> dict[str, Any]:
    """Same weights, same float64 input: spikes and gradients of the peer vs its swiftspike counterpart."""
    import torch

    ours_name = SAME_COMPUTATION[peer]
    torch.manual_seed(seed)
    ours, reset_ours = _build(ours_name, CHECK_T, features)
    theirs, reset_theirs = _build(peer, CHECK_T, features)
    ours, theirs = ours.double(), theirs.double()
    with torch.no_grad():  # thresholds inside the input range, so both spikes and silence occur
        ours.bias.fill_(0.3)
    _tie(ours, theirs)
    x0 = torch.randn(CHECK_T, batch, features, dtype=torch.float64) + 0.5
    w = torch.randn(CHECK_T, batch, features, dtype=torch.float64)
    out = []
    for layer, reset in ((ours, reset_ours), (theirs, reset_theirs)):
        reset(layer)
        x = x0.clone().requires_grad_()
        s = layer(x)
        (s * w).sum().backward()
        out.append((s.detach(), x.grad, layer.weight.grad, layer.bias.grad))
    (s1, gx1, gw1, gb1), (s2, gx2, gw2, gb2) = out
    gb2 = -gb2.reshape(gb1.shape)

    def rel(a, b):
        return float((a - b).norm() / b.norm().clamp_min(1e-300))

    res: dict[str, Any] = {
        "pair": [ours_name, peer],
        "T": CHECK_T,
        "dtype": "float64",
        "spikes_total": int(s1.sum()),
        "spikes_differ": int((s1 != s2).sum()),
        "grad_rel_err": {"input": rel(gx2, gx1), "weight": rel(gw2, gw1), "threshold": rel(gb2, gb1)},
    }
    res["ok"] = (
        res["spikes_differ"] == 0 and 0 < res["spikes_total"] < s1.numel() and max(res["grad_rel_err"].values()) < 1e-9
    )
    return res


class _quiet_stderr:
    """Send file descriptor 2 to /dev/null inside the block (C++ log lines included)."""

    def __enter__(self):
        import sys

        sys.stderr.flush()
        self.saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)
        return False


def _peak_bytes(fn: Callable[[], None], device) -> int | None:
    """Largest amount allocated by torch during ``fn()`` beyond what was allocated before."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    import warnings

    from torch.profiler import ProfilerActivity, profile

    with warnings.catch_warnings(), _quiet_stderr():  # the profiler logs start/stop lines on stderr
        warnings.simplefilter("ignore")
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            fn()
    try:
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    except AttributeError:  # profiler internals changed: report no number rather than a wrong one
        return None
    cur = peak = 0
    for e in sorted(events, key=lambda e: e.start_ns()):
        cur += e.nbytes()
        peak = max(peak, cur)
    return peak


def _measure_T(
    T: int,
    methods: tuple,
    batch: int,
    features: int,
    repeats: int,
    device: str,
    seed: int,
    threads: int,
    time_cap_s: float,
) -> dict[str, Any]:
    """All ``methods`` at one ``T`` in this process: warm-up, peak memory, interleaved timing."""
    import torch

    from .timing import time_interleaved

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    dev = torch.device(device)
    layers = {}
    for m in methods:
        layer, reset = _build(m, T, features)
        layers[m] = (layer.to(dev), reset)
    for peer, ours in SAME_COMPUTATION.items():
        if peer in layers and ours in layers:
            _tie(layers[ours][0], layers[peer][0])
    x = (torch.randn(T, batch, features, device=dev) + 0.5).requires_grad_()
    cpu: dict[str, list[float]] = {m: [] for m in methods}

    def make_step(m: str) -> Callable[[], None]:
        layer, reset = layers[m]

        def step() -> None:
            c0 = time.process_time()
            reset(layer)
            layer(x).sum().backward()
            x.grad = None
            layer.zero_grad(set_to_none=True)
            cpu[m].append(time.process_time() - c0)

        return step

    steps = {m: make_step(m) for m in methods}
    results: dict[str, dict[str, Any]] = {}
    for m, fn in list(steps.items()):
        first = time_interleaved({m: fn}, repeats=1, warmup=0)[m]  # warm-up, also sizes the job
        if first > time_cap_s:
            results[m] = {"skipped": f"one call took {first:.1f} s > time cap {time_cap_s:g} s", "first_call_s": first}
            del steps[m]
            continue
        results[m] = {"peak_mb": None}
        peak = _peak_bytes(fn, dev)
        if peak is not None:
            results[m]["peak_mb"] = round(peak / 2**20, 2)
    for m in steps:
        cpu[m].clear()
    timed = time_interleaved(steps, repeats=repeats, warmup=0)
    for m, sec in timed.items():
        c = sorted(cpu[m])
        results[m].update({"seconds": sec, "cpu_seconds": c[len(c) // 2], "repeats": repeats})
    return results


def _child(q, fn_name: str, *args) -> None:
    try:
        q.put(("ok", globals()[fn_name](*args)))
    except Exception as e:  # report, never hang the parent
        q.put(("error", f"{type(e).__name__}: {e}"))


#: glibc settings that keep freed memory in the heap (no fresh zeroed pages for every large tensor)
KEEP_HEAP_ENV = {
    "MALLOC_MMAP_THRESHOLD_": str(2**32),
    "MALLOC_TRIM_THRESHOLD_": str(2**36),
    "MALLOC_TOP_PAD_": str(2**30),
}


def in_child(fn_name: str, *args, timeout: float = 3600.0, keep_heap: bool = False) -> Any:
    """Run the module function ``fn_name(*args)`` in a fresh process; returns its result or raises
    ``RuntimeError`` with the child's error. ``keep_heap`` starts the child with :data:`KEEP_HEAP_ENV`
    (glibc reads it at process start)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, fn_name, *args))
    saved = {k: os.environ.get(k) for k in KEEP_HEAP_ENV}
    if keep_heap:
        os.environ.update(KEEP_HEAP_ENV)
    try:
        p.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        status, val = q.get(timeout=timeout)
    except Exception:
        p.kill()
        p.join()
        raise RuntimeError(f"no result within {timeout:.0f} s") from None
    p.join()
    if status != "ok":
        raise RuntimeError(val)
    return val


def machine_info(threads: int) -> dict[str, Any]:
    """Versions, threads and the machine, recorded with every result."""
    import importlib.metadata as md

    import torch

    from .._version import __version__

    def version(pkg: str) -> str | None:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    info: dict[str, Any] = {
        "swiftspike": __version__,
        "torch": torch.__version__,
        "spikingjelly": version("spikingjelly"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "threads": threads,
    }
    if hasattr(os, "getloadavg"):
        info["load_average_start"] = [round(v, 2) for v in os.getloadavg()]
    return info


def _check_args(Ts, methods, batch, features, repeats, device, mem_cap_gb, max_T, threads, time_cap_s) -> None:
    from ..errors import SwiftSpikeError, check_positive, check_positive_int

    for name, v in (("batch", batch), ("features", features), ("repeats", repeats), ("threads", threads)):
        check_positive_int(v, name)
    if not Ts:
        raise SwiftSpikeError("give at least one sequence length T")
    for T in Ts:
        check_positive_int(T, "T")
    if max_T is not None:
        check_positive_int(max_T, "max_T")
    check_positive(mem_cap_gb, "mem_cap_gb")
    check_positive(time_cap_s, "time_cap_s")
    if not methods:
        raise SwiftSpikeError("give at least one method")
    for m in methods:
        if m not in METHODS:
            raise SwiftSpikeError(f"unknown method {m!r}; choose from: {', '.join(METHODS)}")
    if not (device == "cpu" or device.startswith("cuda")):
        raise SwiftSpikeError(f"device must be cpu or cuda[:N], got {device!r}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SwiftSpikeError(f"device {device!r} was selected but no CUDA device is available")


def run(
    Ts=DEFAULT_T,
    methods=METHODS,
    *,
    batch: int = 4,
    features: int = 64,
    repeats: int = 5,
    device: str = "cpu",
    seed: int = 0,
    mem_cap_gb: float = 6.0,
    max_T: int | None = None,
    threads: int = 1,
    time_cap_s: float = 30.0,
    keep_heap: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Time forward+backward and measure peak memory of each method at each ``T`` (see the module
    docstring); returns a JSON-ready dict with ``results[method][T]``, ratios against ``dsn``, the
    agreement checks and the machine. ``progress`` receives one line per measurement."""
    Ts, methods = tuple(sorted({int(T) for T in Ts})), tuple(dict.fromkeys(methods))
    _check_args(Ts, methods, batch, features, repeats, device, mem_cap_gb, max_T, threads, time_cap_s)
    say = progress or (lambda line: None)
    info = machine_info(threads)
    t_start = time.time()
    s = _Settings(methods, batch, features, repeats, device, seed, mem_cap_gb, max_T, threads, time_cap_s, keep_heap)
    plan = _Plan(s, {m: {} for m in methods}, _unavailable_peers(methods))
    checks = _agreement_checks(plan, Ts, say)
    for T in Ts:
        _measure_size(plan, T, say)
    if hasattr(os, "getloadavg"):
        info["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    info["wall_s"] = round(time.time() - t_start, 1)
    return _result(s, Ts, plan.results, checks, info)


@dataclass(frozen=True)
class _Settings:
    """The checked arguments of one :func:`run`."""

    methods: tuple[str, ...]
    batch: int
    features: int
    repeats: int
    device: str
    seed: int
    mem_cap_gb: float
    max_T: int | None
    threads: int
    time_cap_s: float
    keep_heap: bool


@dataclass
class _Plan:
    """What is measured so far (``results[method][str(T)]``) and which methods cannot run (``unavailable``,
    with the reason); :meth:`skip` decides each size before it runs."""

    s: _Settings
    results: dict[str, dict[str, Any]]
    unavailable: dict[str, str]

    def skip(self, m: str, T: int) -> str | None:
        """Why method ``m`` is skipped at ``T`` (``None``: measure it): unavailable, above ``max_T``, over the
        memory cap, or predicted from the previous size to exceed the time cap."""
        s = self.s
        if m in self.unavailable:
            return self.unavailable[m]
        if s.max_T is not None and s.max_T < T:
            return f"T={T} > max T {s.max_T}"
        est = estimate_bytes(m, T, s.batch, s.features)
        if est > s.mem_cap_gb * 2**30:
            return f"estimated {est / 2**30:.1f} GB exceeds the memory cap {s.mem_cap_gb:g} GB"
        done = [(int(t), r) for t, r in self.results[m].items() if "seconds" in r or "first_call_s" in r]
        if done:
            t_prev, r = done[-1]
            pred = r.get("seconds", r.get("first_call_s")) * (T / t_prev) ** GROWTH[m]
            if pred > s.time_cap_s:
                return (
                    f"predicted {pred:.0f} s per call from T={t_prev} (grows as T^{GROWTH[m]}) exceeds the "
                    f"time cap {s.time_cap_s:g} s"
                )
        return None


def _unavailable_peers(methods: tuple[str, ...]) -> dict[str, str]:
    """The SpikingJelly methods, with the reason, when any is asked for and SpikingJelly does not import."""
    unavailable: dict[str, str] = {}
    if any(m in PEER_METHODS for m in methods):
        try:
            import spikingjelly.activation_based.neuron  # noqa: F401
        except Exception as e:
            for m in PEER_METHODS:
                unavailable[m] = f"spikingjelly is not installed ({type(e).__name__})"
    return unavailable


def _agreement_checks(plan: _Plan, Ts: tuple[int, ...], say: Callable[[str], None]) -> list[dict[str, Any]]:
    """Check every asked peer that will run at some size against its swiftspike counterpart (in a child
    process); a peer that disagrees is marked unavailable."""
    s = plan.s
    checks = []
    for peer in PEER_METHODS:
        if peer in s.methods and peer not in plan.unavailable and any(plan.skip(peer, T) is None for T in Ts):
            try:
                chk = in_child("_agreement", peer, min(s.features, 16), 2, s.seed, keep_heap=s.keep_heap)
            except RuntimeError as e:
                chk = {"pair": [SAME_COMPUTATION[peer], peer], "ok": False, "error": str(e)}
            checks.append(chk)
            say(f"  check {chk['pair'][0]} == {peer}: " + ("ok" if chk["ok"] else f"FAILED {chk}"))
            if not chk["ok"]:
                plan.unavailable[peer] = f"outputs differ from swiftspike's {chk['pair'][0]} (see checks)"
    return checks


def _measure_size(plan: _Plan, T: int, say: Callable[[str], None]) -> None:
    """Record every method at ``T``: its skip reason, or its measurement (all in one child process)."""
    s, results = plan.s, plan.results
    todo = []
    for m in s.methods:
        why = plan.skip(m, T)
        if why:
            results[m][str(T)] = {"skipped": why}
        else:
            todo.append(m)
    if todo:
        try:
            got = in_child(
                "_measure_T",
                T,
                tuple(todo),
                s.batch,
                s.features,
                s.repeats,
                s.device,
                s.seed,
                s.threads,
                s.time_cap_s,
                keep_heap=s.keep_heap,
            )
        except RuntimeError as e:
            got = {m: {"skipped": f"measurement failed: {e}"} for m in todo}
        for m in todo:
            results[m][str(T)] = got[m]
    for m in s.methods:
        say(_progress_line(T, m, results[m][str(T)]))


def _progress_line(T: int, m: str, r: dict[str, Any]) -> str:
    if "skipped" in r:
        return f"  T={T:>6} {m:<25} skipped: {r['skipped']}"
    mem = "-" if r.get("peak_mb") is None else f"{r['peak_mb']:.1f} MB"
    ms, cpu_ms = r["seconds"] * 1e3, r["cpu_seconds"] * 1e3
    return f"  T={T:>6} {m:<25} {ms:9.1f} ms (cpu {cpu_ms:.1f} ms), {mem}"


def _ratios(
    results: dict[str, dict[str, Any]], methods: tuple[str, ...], Ts: tuple[int, ...], key: str
) -> dict[str, dict[str, float | None]]:
    """``results[m][T][key] / results['dsn'][T][key]`` per method but ``dsn`` and size (``None`` if missing)."""
    out: dict[str, dict[str, float | None]] = {}
    for m in methods:
        if m == "dsn":
            continue
        out[m] = {}
        for T in Ts:
            a, d = results[m][str(T)], results.get("dsn", {}).get(str(T), {})
            ok = a.get(key) is not None and d.get(key)
            out[m][str(T)] = round(a[key] / d[key], 3) if ok else None
    return out


def _result(
    s: _Settings,
    Ts: tuple[int, ...],
    results: dict[str, dict[str, Any]],
    checks: list[dict[str, Any]],
    info: dict[str, Any],
) -> dict[str, Any]:
    """The JSON-ready result of :func:`run`."""
    return {
        "benchmark": "parallel",
        "device": s.device,
        "batch": s.batch,
        "features": s.features,
        "T": list(Ts),
        "methods": list(s.methods),
        "repeats": s.repeats,
        "threads": s.threads,
        "keep_heap": s.keep_heap,
        "time_cap_s": s.time_cap_s,
        "mem_cap_gb": s.mem_cap_gb,
        "results": results,
        "checks": checks,
        "time_ratio_vs_dsn": _ratios(results, s.methods, Ts, "seconds"),
        "cpu_time_ratio_vs_dsn": _ratios(results, s.methods, Ts, "cpu_seconds"),
        "peak_memory_ratio_vs_dsn": _ratios(results, s.methods, Ts, "peak_mb"),
        "machine": info,
        "note": (
            "time = median forward+backward of one neuron layer, interleaved; ratio = method / dsn "
            "(>1: DSN is faster or needs less memory); peak memory = torch allocations during one "
            "forward+backward beyond those before it"
        ),
    }


def table(res: dict[str, Any]) -> str:
    """The result of :func:`run` as a text table."""
    Ts = res["T"]
    w = 26
    mi = res["machine"]
    lines = [
        f"forward+backward, batch={res['batch']}, features={res['features']}, device={res['device']}, "
        f"threads={res['threads']}, repeats={res['repeats']} interleaved, keep_heap={res['keep_heap']}",
        f"torch {mi['torch']}, spikingjelly {mi['spikingjelly']}, swiftspike {mi['swiftspike']}; {mi['cpu']} "
        f"({mi['cpu_count']} cores), load {mi.get('load_average_start')} -> {mi.get('load_average_end')}",
        f"{'method':<25}" + "".join(f"{'T=' + str(T):>{w}}" for T in Ts),
    ]
    for m in res["methods"]:
        cells = []
        for T in Ts:
            r = res["results"][m][str(T)]
            if "skipped" in r:
                cells.append(f"{'skipped':>{w}}")
            else:
                mem = "-" if r.get("peak_mb") is None else f"{r['peak_mb']:.1f} MB"
                cells.append(f"{r['seconds'] * 1e3:>10.1f} ms {mem:>{w - 14}}")
        lines.append(f"{m:<25}" + "".join(cells))
    for title, key in (
        ("wall-time ratio method / dsn (>1: DSN faster)", "time_ratio_vs_dsn"),
        ("CPU-time ratio method / dsn", "cpu_time_ratio_vs_dsn"),
        ("peak-memory ratio method / dsn (>1: DSN needs less)", "peak_memory_ratio_vs_dsn"),
    ):
        lines.append(title)
        for m, row in res[key].items():
            lines.append(
                f"{m:<25}" + "".join(f"{('-' if row[str(T)] is None else f'{row[str(T)]:.2f}x'):>{w}}" for T in Ts)
            )
    for c in res["checks"]:
        if c.get("ok"):
            lines.append(
                f"check: {c['pair'][1]} == {c['pair'][0]} (same weights, float64, T={c['T']}): identical "
                f"spikes ({c['spikes_total']} of them), gradients within "
                f"{max(c['grad_rel_err'].values()):.1e}"
            )
        else:
            lines.append(f"check FAILED: {c}")
    skipped = [
        f"{m} T={T}: {res['results'][m][str(T)]['skipped']}"
        for m in res["methods"]
        for T in Ts
        if "skipped" in res["results"][m][str(T)]
    ]
    if skipped:
        lines.append("skipped: " + "; ".join(skipped))
    return "\n".join(lines)


def plot(res: dict[str, Any], out) -> list[str]:
    """Time vs ``T`` per method as a PNG in the folder ``out``; returns the file paths."""
    from pathlib import Path

    from ..plots import curves_plot

    curves = {m: [res["results"][m][str(T)].get("seconds", float("nan")) for T in res["T"]] for m in res["methods"]}
    p = curves_plot(
        curves,
        Path(out) / "parallel_time_vs_T.png",
        x=res["T"],
        xlabel="T (steps)",
        ylabel="forward+backward seconds",
        logx=True,
        title="neuron layer training cost vs T",
    )
    return [str(p)]
