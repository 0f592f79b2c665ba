"""``swiftspike tune``: multi-objective hyper-parameter search (Optuna), Pareto front as JSON and PNG."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..errors import SwiftSpikeError
from .common import (
    RUNTIME_OPTIONS,
    add_data_flags,
    add_output_flags,
    add_train_flags,
    emit,
    plot_dir,
    positive_int,
    show_text,
)

PARAM_HELP = (
    "override one search dimension (repeatable): NAME=LOW:HIGH[:log|linear] (range), NAME=A,B,C "
    "(choices) or NAME=VALUE (fixed); NAME is one of lr, tau, v_threshold, T, spike_reg, "
    "hidden_layers, hidden_width (defaults: docs/reference/tune.md)"
)


def _check_out_file(path: str | None) -> None:
    if not path:
        return
    p = Path(path)
    if p.is_dir():
        raise SwiftSpikeError(f"--out needs a file, {p} is a directory")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SwiftSpikeError(f"cannot write --out {p}: cannot create {p.parent} ({e.strerror or e})") from None
    if not os.access(p.parent, os.W_OK):
        raise SwiftSpikeError(f"cannot write --out {p}: its directory is not writable")


def cmd_tune(args: argparse.Namespace) -> int:
    from ..studies.tune import TuneConfig, run_tune, search_space

    _check_out_file(args.out)
    plots = plot_dir(args)
    cfg = TuneConfig(
        dataset=args.dataset,
        path=args.path,
        limit=args.limit,
        seed=args.seed,
        data_kwargs={"n_bins": args.bins} if args.bins is not None else {},
        val_fraction=args.val_fraction,
        trials=args.trials,
        objectives=args.objectives,
        space=search_space(args.param or ()),
        epochs=args.epochs,
        batch_size=args.batch_size,
        encoder=args.encoder,
        sampler=args.sampler,
        study_name=args.study_name,
        study_dir=args.study_dir,
        storage=args.storage,
        plot_dir=str(plots) if plots else None,
        progress=not args.quiet,
        device=args.device,
        precision=args.precision,
        compile=args.compile,
        threads=args.threads,
    )
    res = run_tune(cfg)  # Ctrl-C: main() prints the command's interrupt_hint
    emit(args, res.to_dict(), res.table() if show_text(args) else None)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune",
        help="multi-objective hyper-parameter search (Optuna): Pareto front of accuracy vs spikes/energy/latency",
        description="Search lr, tau, v_threshold, T, spike regulariser and hidden sizes of an LIF MLP for several "
        "objectives at once, measured on a validation split held out from the training data. The study "
        "lives in a journal file in --study-dir, so running the same command again after a kill "
        "continues it; with --storage URL and the same --study-name, workers on several machines share "
        "one study. Writes pareto.json and pareto.png.",
    )
    add_data_flags(p)
    add_output_flags(p)
    p.add_argument(
        "--trials",
        type=positive_int,
        default=20,
        help="finished trials the study should hold; a rerun continues up to this number (default 20)",
    )
    p.add_argument(
        "--objectives",
        default="accuracy,spikes",
        help="comma-separated, from: accuracy (maximised), spikes, energy, latency (minimised); "
        "default accuracy,spikes",
    )
    p.add_argument("--param", action="append", metavar="NAME=SPEC", help=PARAM_HELP)
    add_train_flags(p, epochs=3, lr=None, lr_flag=False, epochs_help="training epochs per trial (default 3)")
    p.add_argument("--encoder", default="rate", help="input encoding of static data: rate | poisson | latency | direct")
    p.add_argument(
        "--val-fraction",
        type=float,
        default=0.2,
        help="share of the training data held out to measure the objectives (default 0.2)",
    )
    p.add_argument("--sampler", default="tpe", help="tpe (multi-objective TPE, default) | nsga2 | random")
    p.add_argument("--study-name", help="default: DATASET-OBJECTIVE-OBJECTIVE")
    p.add_argument(
        "--study-dir",
        metavar="DIR",
        help="study folder: journal file, pareto.json, pareto.png (default runs/tune/STUDY-NAME)",
    )
    p.add_argument(
        "--storage",
        metavar="URL",
        help="shared Optuna storage: sqlite:///f.db, postgresql://..., mysql://..., redis://... or a "
        "journal file path (e.g. on NFS); default DIR/study.journal",
    )
    p.set_defaults(
        func=cmd_tune,
        runtime=RUNTIME_OPTIONS,
        interrupt_hint="finished trials are stored: run the same command again to continue",
    )
