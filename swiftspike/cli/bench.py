"""``swiftspike bench ...``: each benchmark module registers one sub-command here."""
from __future__ import annotations

import argparse

from ..bench import asynch as bench_asynch
from ..bench import lif as bench_lif
from ..bench import parallel as bench_parallel


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks against peer libraries (timings as ratios)",
                       description="Benchmarks. Timings are reported as ratios against peers measured in the same run.")
    bsub = p.add_subparsers(dest="bench", metavar="BENCH")
    for module in (bench_lif, bench_asynch, bench_parallel):
        module.register(bsub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
