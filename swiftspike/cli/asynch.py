"""``swiftspike async-study``: sync vs unlayered (async) training, evaluated under four executions
(the study itself: :mod:`swiftspike.studies.asynch`)."""
from __future__ import annotations

import argparse

from .common import (add_data_flags, add_output_flags, add_spike_reg_flag, add_time_steps_flag, add_train_flags,
                     emit_study, fraction, nonneg_float, nonneg_int, positive_int)


def cmd_study(args: argparse.Namespace) -> int:
    from ..studies.asynch import StudyConfig, run_study

    cfg = StudyConfig(
        dataset=args.dataset, path=args.path, limit=args.limit, bins=args.bins, seed=args.seed,
        test_limit=args.test_limit or None, T=args.T, hidden=args.hidden or StudyConfig().hidden, F=args.F, k=args.k,
        epochs=args.epochs, async_epochs=args.async_epochs if args.async_epochs is not None else args.epochs,
        batch_size=args.batch_size, lr=args.lr, spike_reg=args.spike_reg, finetune=args.finetune,
        truncate=args.truncate, input_mode=args.input_mode, refractory_dropout=args.refractory_dropout,
        loss=args.loss, early=args.early, async_spike_reg=args.async_spike_reg, progress=not args.quiet,
    )
    emit_study(args, run_study(cfg.validate()))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("async-study", help="train sync / async-random / async-momentum models and compare executions",
                       description="Train one architecture layer-synchronously and with unlayered backprop "
                                   "(random and momentum schedulers), then evaluate each model under sync, random "
                                   "and momentum execution with both stop rules.")
    add_data_flags(p)
    add_output_flags(p)
    add_time_steps_flag(p, default=8, help="frames per sample: static data is rate-coded into T frames, "
                                           "longer sequences are summed into T frames")
    p.add_argument("--hidden", type=positive_int, nargs="+",
                   help="hidden layer widths (default 64 64 64: asynchrony matters from the second layer on)")
    p.add_argument("--F", type=positive_int, default=2,
                   help="forward group size: spikes emitted per sample per forward step")
    p.add_argument("--k", type=nonneg_int, default=0,
                   help="stop rule 'first_output': forward steps after the first output spike")
    add_train_flags(p, epochs=20, lr=2e-3, epochs_help="epochs of layer-synchronous training")
    p.add_argument("--async-epochs", type=positive_int, help="epochs of async training (default: --epochs)")
    add_spike_reg_flag(p, help="spike-count regulariser weight (all trainings)")
    p.add_argument("--test-limit", type=nonneg_int, default=0,
                   help="evaluate on at most this many test samples (0 = all)")
    p.add_argument("--finetune", action="store_true", help="start the async trainings from the sync-trained weights")
    p.add_argument("--truncate", action="store_true", help="truncated per-frame optimisation for the async trainings")
    p.add_argument("--input-mode", default="start", choices=("start", "queued"),
                   help="inputs at frame start, or queued with the network's spikes")
    p.add_argument("--refractory-dropout", type=fraction, default=0.0,
                   help="async training only: probability that a spike does not lock its neuron for the frame")
    p.add_argument("--loss", default="count", choices=("count", "per-step"),
                   help="async trainings: cross-entropy of the final counts, or of the running output after "
                        "every forward step (averaged over steps: learn to be right early)")
    p.add_argument("--early", type=nonneg_float, default=0.0,
                   help="with --loss per-step: weight exp(-early * j/n) on forward step j of n (0 = plain average)")
    p.add_argument("--async-spike-reg", type=nonneg_float,
                   help="spike-count regulariser weight for the async trainings only (default: --spike-reg)")
    p.set_defaults(func=cmd_study)
