"""``swiftspike bench ...``: each benchmark registers one sub-command here."""
from __future__ import annotations

import argparse

from ..bench import asynch as bench_asynch
from ..bench import lif as bench_lif
from ..bench import parallel as bench_parallel
from .common import add_output_flags, emit, plot_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks against peer libraries (timings as ratios)",
                       description="Benchmarks. Timings are reported as ratios against peers measured in the same run.")
    bsub = p.add_subparsers(dest="bench", metavar="BENCH")
    for module in (bench_lif, bench_asynch):
        module.register(bsub)
    _register_parallel(bsub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


# --- bench parallel ---------------------------------------------------------------------------------


def _parallel(args: argparse.Namespace) -> int:
    out = plot_dir(args)  # checked before the long run
    if not (args.quiet or args.json):
        print(f"swiftspike bench parallel: {', '.join(args.methods)} at T in {list(args.T)} "
              "(each T in a fresh process)")
    res = bench_parallel.run(tuple(args.T), tuple(args.methods), batch=args.batch, features=args.features,
                             repeats=args.repeats, device=args.device, seed=args.seed, mem_cap_gb=args.mem_cap_gb,
                             max_T=args.max_T, threads=args.threads, time_cap_s=args.time_cap_s,
                             keep_heap=args.keep_heap, progress=None if args.quiet else print)
    if out is not None:
        res["plots"] = bench_parallel.plot(res, out)
    emit(args, res, None if args.json and args.quiet else bench_parallel.table(res))
    return 0


def _register_parallel(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser("parallel", help="DSN vs PSN, sliding PSN (swiftspike's and SpikingJelly's) and LIF over T",
                        description="Time forward+backward and peak memory of one neuron layer at growing T, "
                                    "against SpikingJelly's PSN and SlidingPSN (same weights, outputs checked).")
    p.add_argument("--T", type=int, nargs="+", default=list(bench_parallel.DEFAULT_T), help="sequence lengths")
    p.add_argument("--methods", nargs="+", default=list(bench_parallel.METHODS),
                   help=" ".join(bench_parallel.METHODS))
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5, help="timed calls per method and size, interleaved")
    p.add_argument("--threads", type=int, default=1, help="torch threads in each measuring process")
    p.add_argument("--device", default="cpu", help="cpu or cuda (only when available; never a silent fallback)")
    p.add_argument("--mem-cap-gb", dest="mem_cap_gb", type=float, default=6.0,
                   help="skip sizes whose estimated memory exceeds this")
    p.add_argument("--time-cap-s", dest="time_cap_s", type=float, default=30.0,
                   help="skip sizes where one call is predicted (from the previous size) or measured to take longer")
    p.add_argument("--max-T", dest="max_T", type=int, help="skip sizes with T above this")
    p.add_argument("--keep-heap", dest="keep_heap", action="store_true",
                   help="run every measuring process with glibc MALLOC_* settings that reuse freed memory "
                        "instead of mapping fresh pages for each large tensor (same for all methods)")
    p.add_argument("--seed", type=int, default=0)
    add_output_flags(p)
    p.set_defaults(func=_parallel)
