"""``swiftspike convert-study``: ANN-to-SNN conversion at 1-32 time steps (the study itself:
:mod:`swiftspike.studies.conversion`; see docs/how-to/conversion-study.md)."""

from __future__ import annotations

import argparse

from ..errors import SwiftSpikeError
from .common import (
    add_data_flags,
    add_energy_flag,
    add_output_flags,
    add_train_flags,
    emit_study,
    int_list,
    log_fn,
    nonempty_int_list,
    output_file,
    positive_float,
    positive_int,
)


def _percentile(s: str) -> float:
    v = positive_float(s)
    if v > 100:
        raise argparse.ArgumentTypeError(f"must be in (0, 100], got {s!r}")
    return v


def cmd_convert_study(args: argparse.Namespace) -> int:
    from ..conversion.calibrate import METHODS
    from ..studies.conversion import ConversionConfig, run_study

    methods = METHODS if args.methods == "all" else tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if not methods:
        raise SwiftSpikeError("--methods names no calibration method")
    cfg = ConversionConfig(
        dataset=args.dataset,
        path=args.path,
        limit=args.limit,
        bins=args.bins,
        seed=args.seed,
        model=args.model,
        ann_checkpoint=args.ann_checkpoint,
        save_ann=args.save_ann,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        times=args.times,
        methods=methods,
        percentile=args.percentile,
        calib_samples=args.calib_samples,
        ft_times=args.ft_times,
        ft_epochs=args.ft_epochs,
        ft_lr=args.ft_lr,
        ft_limit=args.ft_limit,
        test_limit=args.test_limit,
        energy_table=args.energy_table,
        progress=not args.quiet,
        device=args.device,
    )
    emit_study(args, run_study(cfg.validate(), log=log_fn(args)), always_plots=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert-study",
        help="ANN-to-SNN conversion with four calibrations at T=1..32 + fine-tuning",
        description="Train (or load) a clipped-ReLU ANN, convert it with each calibration method at "
        "several T, fine-tune at T in {1,2}; print accuracy, spike rates, energy ratio.",
    )
    add_data_flags(p)
    p.add_argument("--model", default="vgg-small", help="vgg-small | conv | mlp | resnet-tiny")
    p.add_argument(
        "--ann-checkpoint",
        help="load this ANN instead of training one (swiftspike ANN checkpoint, "
        "torch.save-d nn.Module, or state_dict of --model)",
    )
    p.add_argument("--save-ann", type=output_file, help="save the trained ANN here")
    add_train_flags(p, epochs=4, lr=1e-3, epochs_help="ANN training epochs")
    p.add_argument("--times", type=nonempty_int_list, default="1,2,4,8,16,32", help="time steps to convert at")
    p.add_argument("--methods", default="all", help="comma list of max,percentile,uniform-optimal,distribution-aware")
    p.add_argument("--percentile", type=_percentile, default=99.9)
    p.add_argument("--calib-samples", type=positive_int, default=512, help="training samples used for calibration")
    p.add_argument("--ft-times", type=int_list, default="1,2", help="time steps to fine-tune at ('' for none)")
    p.add_argument("--ft-epochs", type=positive_int, default=1)
    p.add_argument("--ft-lr", type=positive_float, default=1e-4)
    p.add_argument("--ft-limit", type=positive_int, help="fine-tune on at most this many training samples")
    p.add_argument("--test-limit", type=positive_int, default=2000, help="evaluate on at most this many test samples")
    add_energy_flag(p)
    add_output_flags(p)
    p.set_defaults(func=cmd_convert_study, runtime=("device", "threads"))
