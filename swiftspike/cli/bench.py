"""``swiftspike bench ...``: every benchmark's options are parsed here (the modules under
:mod:`swiftspike.bench` parse nothing themselves) and handed to its ``run``.

``--device`` and ``--threads`` are the shared runtime options (:func:`swiftspike.cli.common.add_runtime_flags`);
benchmarks default to the CPU and one thread (``set_defaults``) so that their numbers compare across runs."""

from __future__ import annotations

import argparse
import sys

from ..bench import asynch as bench_asynch
from ..bench import parallel as bench_parallel
from ..devices import resolve_device, resolve_threads
from ..errors import SwiftSpikeError
from .common import (
    add_data_flags,
    add_output_flags,
    add_repeats_flag,
    add_seed_flag,
    add_time_steps_flag,
    data_kwargs,
    emit,
    fraction,
    nonneg_int,
    plot_dir,
    positive_float,
    positive_int,
)

#: runtime defaults of the benchmarks (the CLI's own defaults are auto and the thread policy)
BENCH_DEFAULTS = {"device": "cpu", "threads": 1}


def _cmd_lif(args: argparse.Namespace) -> int:
    from ..bench.lif import LIFBenchConfig, run, table

    cfg = LIFBenchConfig(
        sizes=tuple(args.sizes),
        steps=tuple(args.steps),
        batch=args.batch,
        repeats=args.repeats,
        warmup=args.warmup,
        threads=resolve_threads(args.threads),
        peers=tuple(args.peers),
        beta=args.beta,
        tolerance=args.tolerance,
        seed=args.seed,
        device=str(resolve_device(args.device)),
        clock=args.clock,
    )
    res = run(cfg)
    emit(args, res, table(res))
    return 0


def _register_lif(bsub: argparse._SubParsersAction) -> None:
    from ..bench.lif import PEERS, LIFBenchConfig

    d = LIFBenchConfig()
    p = bsub.add_parser(
        "lif",
        help="forward+backward of Linear->LIF vs snnTorch, SpikingJelly and Norse",
        description="Time Linear->LIF (forward + backward) against peer libraries in the same run, "
        "with the same weights and input, after checking that their spikes agree.",
    )
    p.add_argument("--sizes", type=positive_int, nargs="+", default=list(d.sizes), help="layer widths N")
    p.add_argument("--steps", type=positive_int, nargs="+", default=list(d.steps), help="time steps T")
    p.add_argument("--batch", type=positive_int, default=d.batch)
    add_repeats_flag(p, d.repeats)
    p.add_argument("--warmup", type=nonneg_int, default=d.warmup, help="untimed runs per contestant first")
    p.add_argument("--peers", nargs="*", default=list(d.peers), help=f"peer libraries ({' '.join(PEERS)})")
    p.add_argument("--beta", type=fraction, default=d.beta, help="membrane decay per step (0.875: exact in binary)")
    p.add_argument(
        "--tolerance",
        type=fraction,
        default=d.tolerance,
        help="largest fraction of differing spikes still counted as agreement (float rounding)",
    )
    add_seed_flag(p, default=d.seed, help="random seed (weights and inputs)")
    p.add_argument(
        "--clock",
        default=d.clock,
        choices=["wall", "cpu"],
        help="wall time, or this process's CPU time (steadier on a shared machine; one thread, CPU only)",
    )
    add_output_flags(p, plots=False)
    p.set_defaults(func=_cmd_lif, runtime=("device", "threads"), device=d.device, threads=d.threads)


def _cmd_bench_async(args: argparse.Namespace) -> int:
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    res = bench_asynch.run(
        batches=args.batches,
        widths=args.widths,
        F_list=args.F_list,
        T=args.T,
        n_in=args.n_in,
        repeats=args.repeats,
        ref_batch=args.ref_batch,
        budget_s=args.budget_s,
        seed=args.seed,
        threads=resolve_threads(args.threads),
        progress=progress,
    )
    emit(args, res, None if args.json and args.quiet else bench_asynch.table(res))
    return 0


def _register_async(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "async",
        help="async engine vs dense engine vs naive Python loop (sample-steps/s)",
        description="Forward steps per second of the async engine (events gathered from the "
        "emitting neurons' weight columns) against the same engine with dense "
        "currents and a naive per-step Python loop, over batch, width and F, with "
        "interleaved repeats; checks that all three give identical spikes.",
    )
    add_output_flags(p, plots=False)
    p.add_argument("--batches", type=positive_int, nargs="+", default=[1, 8, 64, 256], metavar="B")
    p.add_argument(
        "--widths",
        type=positive_int,
        nargs="+",
        default=[64, 256, 1024, 4096],
        metavar="W",
        help="hidden layer widths of the n_in-W-W-10 network",
    )
    p.add_argument("--F-list", dest="F_list", type=positive_int, nargs="+", default=[1, 4, 16, 64], metavar="F")
    add_time_steps_flag(p, default=2, help="frames per sample")
    p.add_argument("--n-in", dest="n_in", type=positive_int, default=64, help="input size")
    add_repeats_flag(p, 3)
    p.add_argument("--ref-batch", type=positive_int, default=1, help="samples the naive loop runs")
    p.add_argument(
        "--budget-s",
        dest="budget_s",
        type=positive_float,
        default=30.0,
        help="skip an executor of a configuration whose predicted time exceeds this",
    )
    add_seed_flag(p, default=0, help="random seed (weights and inputs)")
    p.set_defaults(func=_cmd_bench_async)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmarks against peer libraries (timings as ratios)",
        description="Benchmarks. Timings are reported as ratios against peers measured in the same run.",
    )
    bsub = p.add_subparsers(dest="bench", metavar="BENCH")
    _register_lif(bsub)
    _register_async(bsub)
    _register_parallel(bsub)
    _register_convert(bsub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


# --- bench parallel ---------------------------------------------------------------------------------


def _parallel(args: argparse.Namespace) -> int:
    out = plot_dir(args)  # checked before the long run
    if not (args.quiet or args.json):
        print(
            f"swiftspike bench parallel: {', '.join(args.methods)} at T in {list(args.T)} (each T in a fresh process)"
        )
    res = bench_parallel.run(
        tuple(args.T),
        tuple(args.methods),
        batch=args.batch,
        features=args.features,
        repeats=args.repeats,
        device=str(resolve_device(args.device)),
        seed=args.seed,
        mem_cap_gb=args.mem_cap_gb,
        max_T=args.max_T,
        threads=resolve_threads(args.threads),
        time_cap_s=args.time_cap_s,
        keep_heap=args.keep_heap,
        progress=None if args.quiet else print,
    )
    if out is not None:
        res["plots"] = bench_parallel.plot(res, out)
    emit(args, res, None if args.json and args.quiet else bench_parallel.table(res))
    return 0


def _register_parallel(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser(
        "parallel",
        help="DSN vs PSN, sliding PSN (swiftspike's and SpikingJelly's) and LIF over T",
        description="Time forward+backward and peak memory of one neuron layer at growing T, "
        "against SpikingJelly's PSN and SlidingPSN (same weights, outputs checked).",
    )
    add_time_steps_flag(p, default=list(bench_parallel.DEFAULT_T), help="sequence lengths", nargs="+")
    p.add_argument("--methods", nargs="+", default=list(bench_parallel.METHODS), help=" ".join(bench_parallel.METHODS))
    p.add_argument("--batch", type=positive_int, default=4)
    p.add_argument("--features", type=positive_int, default=64)
    add_repeats_flag(p, 5)
    p.add_argument(
        "--mem-cap-gb",
        dest="mem_cap_gb",
        type=positive_float,
        default=6.0,
        help="skip sizes whose estimated memory exceeds this",
    )
    p.add_argument(
        "--time-cap-s",
        dest="time_cap_s",
        type=positive_float,
        default=30.0,
        help="skip sizes where one call is predicted (from the previous size) or measured to take longer",
    )
    p.add_argument("--max-T", dest="max_T", type=positive_int, help="skip sizes with T above this")
    p.add_argument(
        "--keep-heap",
        dest="keep_heap",
        action="store_true",
        help="run every measuring process with glibc MALLOC_* settings that reuse freed memory "
        "instead of mapping fresh pages for each large tensor (same for all methods)",
    )
    add_seed_flag(p, default=0, help="random seed (weights and inputs)")
    add_output_flags(p)
    p.set_defaults(func=_parallel, runtime=("device", "threads"), **BENCH_DEFAULTS)


# --- bench convert ------------------------------------------------------------------------------------------


def _int_list(s: str, what: str) -> list[int]:
    try:
        out = [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise SwiftSpikeError(f"{what} must be comma-separated integers, got {s!r}") from None
    if not out or any(v <= 0 for v in out):
        raise SwiftSpikeError(f"{what} must be positive integers, got {s!r}")
    return out


def _cmd_convert(args: argparse.Namespace) -> int:
    from ..bench import convert as bench_convert
    from ..conversion.ann import load_ann
    from ..conversion.calibrate import METHODS
    from ..data.datasets import load_dataset

    times, calib_times = _int_list(args.times, "--times"), _int_list(args.calib_times, "--calib-times")
    methods = list(METHODS) if args.methods == "all" else [m.strip() for m in args.methods.split(",") if m.strip()]
    modes = [m.strip() for m in args.peer_modes.split(",") if m.strip()]
    data = load_dataset(
        args.dataset, path=args.path, seed=args.seed, limit=args.limit, flatten=False, **data_kwargs(args)
    )
    ann = load_ann(args.ann_checkpoint, args.model, data.input_shape, data.n_classes) if args.ann_checkpoint else None
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    res = bench_convert.run(
        data,
        model=args.model,
        ann=ann,
        epochs=args.epochs,
        calib_samples=args.calib_samples,
        times=times,
        calib_times=calib_times,
        methods=methods,
        peer_modes=modes,
        percentile=args.percentile,
        repeats=args.repeats,
        threads=resolve_threads(args.threads),
        test_limit=args.test_limit,
        seed=args.seed,
        log=log,
    )
    emit(args, res, bench_convert.table(res))
    return 0


def _register_convert(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser(
        "convert",
        help="ANN-to-SNN calibration time and accuracy vs SpikingJelly's ann2snn",
        description="Convert one ANN with every swiftspike calibration method and with SpikingJelly's "
        "ann2snn Converter (modes max, 99.9%) on the same calibration batch: calibration "
        "time (interleaved repeats, median, ratio to SpikingJelly's max) and accuracy "
        "at several T.",
    )
    add_data_flags(p, default="digits")
    p.add_argument(
        "--model",
        default="conv",
        help="zoo model trained here with plain ReLUs (vgg-small, conv, mlp, resnet-tiny; default conv)",
    )
    p.add_argument("--ann-checkpoint", metavar="FILE", help="convert this ANN instead of training one")
    p.add_argument("--epochs", type=positive_int, default=8, help="ANN training epochs (default 8)")
    p.add_argument("--calib-samples", type=positive_int, default=256, help="calibration batch size (default 256)")
    p.add_argument("--times", default="1,2,4,8", help="T at which accuracy is measured (default 1,2,4,8)")
    p.add_argument("--calib-times", default="2,8", help="T at which calibration is timed (default 2,8)")
    p.add_argument("--methods", default="all", help="swiftspike calibration methods, comma-separated (default all)")
    p.add_argument("--peer-modes", default="max,99.9%", help="SpikingJelly RateCodingRecipe modes (default max,99.9%%)")
    p.add_argument("--percentile", type=positive_float, default=99.9, help="swiftspike percentile method's percentile")
    add_repeats_flag(p, 5)
    p.add_argument("--test-limit", type=positive_int, help="evaluate accuracy on at most this many test samples")
    add_output_flags(p, plots=False)
    p.set_defaults(func=_cmd_convert, threads=1)
