"""``swiftspike bench ...``: each benchmark module registers one sub-command here."""
from __future__ import annotations

import argparse

from ..bench import asynch as bench_asynch
from ..bench import lif as bench_lif
from ..bench import parallel as bench_parallel
from ..errors import SwiftSpikeError
from .common import add_data_flags, add_output_flags, data_kwargs, emit


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="benchmarks against peer libraries (timings as ratios)",
                       description="Benchmarks. Timings are reported as ratios against peers measured in the same run.")
    bsub = p.add_subparsers(dest="bench", metavar="BENCH")
    for module in (bench_lif, bench_asynch, bench_parallel):
        module.register(bsub)
    _register_convert(bsub)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


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
    data = load_dataset(args.dataset, path=args.path, seed=args.seed, limit=args.limit, flatten=False,
                        **data_kwargs(args))
    ann = load_ann(args.ann_checkpoint, args.model, data.input_shape, data.n_classes) if args.ann_checkpoint else None
    log = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    res = bench_convert.run(data, model=args.model, ann=ann, epochs=args.epochs, calib_samples=args.calib_samples,
                            times=times, calib_times=calib_times, methods=methods, peer_modes=modes,
                            percentile=args.percentile, repeats=args.repeats, threads=args.threads,
                            test_limit=args.test_limit, seed=args.seed, log=log)
    emit(args, res, bench_convert.table(res))
    return 0


def _register_convert(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser("convert", help="ANN-to-SNN calibration time and accuracy vs SpikingJelly's ann2snn",
                        description="Convert one ANN with every swiftspike calibration method and with SpikingJelly's "
                                    "ann2snn Converter (modes max, 99.9%) on the same calibration batch: calibration "
                                    "time (interleaved repeats, median, ratio to SpikingJelly's max) and accuracy "
                                    "at several T.")
    add_data_flags(p, default="digits")
    p.add_argument("--model", default="conv", help="zoo model trained here with plain ReLUs (vgg-small, conv, mlp, "
                                                   "resnet-tiny; default conv)")
    p.add_argument("--ann-checkpoint", metavar="FILE", help="convert this ANN instead of training one")
    p.add_argument("--epochs", type=int, default=8, help="ANN training epochs (default 8)")
    p.add_argument("--calib-samples", type=int, default=256, help="calibration batch size (default 256)")
    p.add_argument("--times", default="1,2,4,8", help="T at which accuracy is measured (default 1,2,4,8)")
    p.add_argument("--calib-times", default="2,8", help="T at which calibration is timed (default 2,8)")
    p.add_argument("--methods", default="all", help="swiftspike calibration methods, comma-separated (default all)")
    p.add_argument("--peer-modes", default="max,99.9%", help="SpikingJelly RateCodingRecipe modes (default max,99.9%%)")
    p.add_argument("--percentile", type=float, default=99.9, help="swiftspike percentile method's percentile")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per contestant, interleaved (default 5)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--test-limit", type=int, help="evaluate accuracy on at most this many test samples")
    add_output_flags(p, plots=False)
    p.set_defaults(func=_cmd_convert)
