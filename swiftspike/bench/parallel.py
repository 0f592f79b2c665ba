"""``swiftspike bench parallel``: training cost of parallel vs sequential spiking neurons over T.

For every sequence length ``T`` and method (DSN with the chunked scan, PSN, sliding PSN, sequential
LIF with reset) one layer of ``features`` neurons gets input ``[T, batch, features]`` and we time a
forward + backward pass (median of ``repeats``) and its peak memory. Each (method, T) runs in a fresh
child process so the peak resident memory (``ru_maxrss`` growth on CPU, ``max_memory_allocated`` on
CUDA) belongs to that measurement alone. A size is skipped (and reported as skipped, with the reason)
when its estimated memory exceeds ``--mem-cap-gb`` or ``T > --max-T``. Speed is reported as ratios
``time(method) / time(dsn)`` measured in the same run.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from typing import Any, Optional

METHODS = ("dsn", "psn", "sliding-psn", "lif")
DEFAULT_T = (256, 1024, 4096, 16384)


def _build(method: str, T: int, features: int):
    from ..neurons.dsn import DSN
    from ..neurons.modules import LIF
    from ..neurons.psn import PSN, SlidingPSN

    if method == "dsn":
        return DSN(channels=features)
    if method == "psn":
        return PSN(T)
    if method == "sliding-psn":
        return SlidingPSN(k=4)
    if method == "lif":
        return LIF(tau=2.0)
    raise ValueError(method)


def estimate_bytes(method: str, T: int, batch: int, features: int) -> int:
    """Rough peak memory of one forward+backward (float32) used to skip sizes that cannot fit."""
    act = 4 * T * batch * features
    if method == "psn":
        return 4 * 4 * T * T + 6 * act  # weight, its grad, matmul temporaries
    if method == "dsn":
        return 14 * act
    return 8 * act


def _measure(method: str, T: int, batch: int, features: int, repeats: int, device: str, seed: int,
             threads: int) -> dict[str, Any]:
    import resource

    import torch

    from ..neurons.modules import reset

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    dev = torch.device(device)
    layer = _build(method, T, features).to(dev)
    x = (torch.randn(T, batch, features, device=dev) + 0.5).requires_grad_()

    def step() -> None:
        reset(layer)
        layer(x).sum().backward()
        x.grad = None
        layer.zero_grad(set_to_none=True)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base_cuda = torch.cuda.memory_allocated()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    step()  # warm-up, also measures the size of the job
    sync()
    first = time.perf_counter() - t0
    reps = 1 if first > 2.0 else repeats
    times = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() - base_cuda
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) * 1024  # kB on Linux
    return {"seconds": times[len(times) // 2], "peak_mb": round(peak / 2 ** 20, 2), "repeats": reps}


def _child(q, *args) -> None:
    try:
        q.put(("ok", _measure(*args)))
    except Exception as e:  # report, never hang the parent
        q.put(("error", f"{type(e).__name__}: {e}"))


#: glibc settings that keep freed memory in the heap (no fresh zeroed pages for every large tensor)
KEEP_HEAP_ENV = {"MALLOC_MMAP_THRESHOLD_": str(2 ** 32), "MALLOC_TRIM_THRESHOLD_": str(2 ** 36),
                 "MALLOC_TOP_PAD_": str(2 ** 30)}


def measure_in_child(*args, timeout: float = 600.0, keep_heap: bool = False) -> dict[str, Any]:
    """Run :func:`_measure` in a fresh process (clean peak memory); returns its result or an error.

    ``keep_heap`` starts the child with :data:`KEEP_HEAP_ENV` (glibc reads it at process start)."""
    import os

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, *args))
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
        return {"skipped": f"no result within {timeout:.0f} s"}
    p.join()
    return val if status == "ok" else {"skipped": val}


def run(Ts=DEFAULT_T, methods=METHODS, batch: int = 4, features: int = 64, repeats: int = 3,
        device: str = "cpu", seed: int = 0, mem_cap_gb: float = 6.0, max_T: Optional[int] = None,
        threads: int = 1, progress: bool = True, keep_heap: bool = False) -> dict[str, Any]:
    from ..errors import SwiftSpikeError

    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SwiftSpikeError("--device cuda was selected but no CUDA device is available")
    results: dict[str, dict[str, Any]] = {m: {} for m in methods}
    for T in Ts:
        for m in methods:
            est = estimate_bytes(m, T, batch, features)
            if max_T is not None and T > max_T:
                r = {"skipped": f"T={T} > --max-T {max_T}"}
            elif est > mem_cap_gb * 2 ** 30:
                r = {"skipped": f"estimated {est / 2 ** 30:.1f} GB exceeds --mem-cap-gb {mem_cap_gb:g}"}
            else:
                r = measure_in_child(m, T, batch, features, repeats, device, seed, threads, keep_heap=keep_heap)
            results[m][str(T)] = r
            if progress:
                desc = r.get("skipped") or f"{r['seconds'] * 1e3:.1f} ms, {r['peak_mb']:.1f} MB"
                print(f"  T={T:>6} {m:<12} {desc}", flush=True)
    ratios: dict[str, dict[str, Optional[float]]] = {}
    for m in methods:
        if m == "dsn":
            continue
        ratios[m] = {}
        for T in Ts:
            a, d = results[m][str(T)], results.get("dsn", {}).get(str(T), {})
            ok = "seconds" in a and "seconds" in d
            ratios[m][str(T)] = round(a["seconds"] / d["seconds"], 2) if ok else None
    return {"device": device, "batch": batch, "features": features, "T": list(Ts), "methods": list(methods),
            "threads": threads, "keep_heap": keep_heap, "results": results, "time_ratio_vs_dsn": ratios,
            "note": "time = forward+backward of one neuron layer; ratio = time(method) / time(dsn), >1 means DSN is faster"}


def table(res: dict[str, Any]) -> str:
    Ts = res["T"]
    lines = [f"forward+backward, batch={res['batch']}, features={res['features']}, device={res['device']}, "
             f"keep_heap={res['keep_heap']}",
             f"{'method':<12}" + "".join(f"{'T=' + str(T):>22}" for T in Ts)]
    for m in res["methods"]:
        cells = []
        for T in Ts:
            r = res["results"][m][str(T)]
            cells.append(f"{'skipped':>22}" if "skipped" in r else f"{r['seconds'] * 1e3:>10.1f} ms {r['peak_mb']:>7.1f} MB")
        lines.append(f"{m:<12}" + "".join(cells))
    lines.append("time ratio vs DSN (>1: DSN faster)")
    for m, row in res["time_ratio_vs_dsn"].items():
        lines.append(f"{m:<12}" + "".join(f"{('-' if row[str(T)] is None else f'{row[str(T)]:.2f}x'):>22}" for T in Ts))
    skipped = [f"{m} T={T}: {res['results'][m][str(T)]['skipped']}" for m in res["methods"] for T in Ts
               if "skipped" in res["results"][m][str(T)]]
    if skipped:
        lines.append("skipped: " + "; ".join(skipped))
    return "\n".join(lines)


def _plot(res: dict[str, Any], out) -> list[str]:
    from ..plots import curves_plot

    curves = {}
    for m in res["methods"]:
        ys = [res["results"][m][str(T)].get("seconds", float("nan")) for T in res["T"]]
        curves[m] = ys
    p = curves_plot(curves, out / "parallel_time_vs_T.png", x=res["T"], xlabel="T (steps)",
                    ylabel="forward+backward seconds", logx=True, title="neuron layer training cost vs T")
    return [str(p)]


def cmd(args: argparse.Namespace) -> int:
    from ..cli.common import emit, plot_dir
    from ..errors import SwiftSpikeError, check_positive, check_positive_int

    for name in ("batch", "features", "repeats", "threads"):
        check_positive_int(getattr(args, name), f"--{name}")
    for T in args.T:
        check_positive_int(T, "--T")
    check_positive(args.mem_cap_gb, "--mem-cap-gb")
    if not (args.device == "cpu" or args.device.startswith("cuda")):
        raise SwiftSpikeError(f"--device must be cpu or cuda[:N], got {args.device!r}")
    methods = tuple(args.methods)
    for m in methods:
        if m not in METHODS:
            raise SwiftSpikeError(f"unknown method {m!r}; choose from: {', '.join(METHODS)}")
    if not args.quiet and not args.json:
        print(f"swiftspike bench parallel: {', '.join(methods)} at T in {list(args.T)} (each in a fresh process)")
    res = run(tuple(args.T), methods, batch=args.batch, features=args.features, repeats=args.repeats,
              device=args.device, seed=args.seed, mem_cap_gb=args.mem_cap_gb, max_T=args.max_T,
              threads=args.threads, progress=not args.quiet, keep_heap=args.keep_heap)
    out = plot_dir(args)
    if out is not None:
        res["plots"] = _plot(res, out)
    emit(args, res, None if args.json and args.quiet else table(res))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from ..cli.common import add_output_flags

    p = sub.add_parser("parallel", help="DSN (parallel scan) vs PSN, sliding PSN and sequential LIF over T",
                       description="Time forward+backward and peak memory of one neuron layer at growing T.")
    p.add_argument("--T", type=int, nargs="+", default=list(DEFAULT_T), help="sequence lengths")
    p.add_argument("--methods", nargs="+", default=list(METHODS), help="dsn psn sliding-psn lif")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3, help="timed runs per size (1 when a run takes > 2 s)")
    p.add_argument("--threads", type=int, default=1, help="torch threads in each measuring process")
    p.add_argument("--device", default="cpu", help="cpu or cuda (only when available; never a silent fallback)")
    p.add_argument("--mem-cap-gb", dest="mem_cap_gb", type=float, default=6.0,
                   help="skip sizes whose estimated memory exceeds this")
    p.add_argument("--max-T", dest="max_T", type=int, help="skip sizes with T above this")
    p.add_argument("--keep-heap", dest="keep_heap", action="store_true",
                   help="run every measuring process with glibc MALLOC_* settings that reuse freed memory "
                        "instead of mapping fresh pages for each large tensor (same for all methods)")
    p.add_argument("--seed", type=int, default=0)
    add_output_flags(p)
    p.set_defaults(func=cmd)
