"""``swiftspike async-study``: sync vs unlayered (async) training over a sweep of F and seeds, evaluated
against both baselines (the study itself: :mod:`swiftspike.studies.asynch`)."""

from __future__ import annotations

import argparse

from .common import (
    add_data_flags,
    add_output_flags,
    add_spike_reg_flag,
    add_time_steps_flag,
    add_train_flags,
    emit_study,
    fraction,
    log_fn,
    nonneg_float,
    nonneg_int,
    output_dir,
    positive_float,
    positive_int,
)


def cmd_study(args: argparse.Namespace) -> int:
    from ..studies.asynch import StudyConfig, run_study

    cfg = StudyConfig(
        dataset=args.dataset,
        path=args.path,
        limit=args.limit,
        bins=args.bins,
        seed=args.seed,
        seeds=args.seeds,
        protocol=args.protocol,
        test_limit=args.test_limit or None,
        T=args.T,
        hidden=args.hidden or StudyConfig().hidden,
        F=args.F,
        k=args.k,
        stops=args.stops,
        epochs=args.epochs,
        async_epochs=args.async_epochs if args.async_epochs is not None else args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        spike_reg=args.spike_reg,
        v_threshold=args.threshold,
        bias=args.bias,
        finetune=args.finetune,
        truncate=args.truncate,
        input_mode=args.input_mode,
        refractory_dropout=args.refractory_dropout,
        loss=args.loss,
        early=args.early,
        async_spike_reg=args.async_spike_reg,
        readout=args.readout,
        matched=args.matched,
        checkpoint_dir=args.checkpoint_dir,
        acc_tolerance=args.acc_tolerance / 100,
        progress=not args.quiet,
    )
    emit_study(args, run_study(cfg.validate(), log=log_fn(args)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "async-study",
        help="train sync / async-random / async-momentum models over F and seeds, compare against both baselines",
        description="Train one architecture layer-synchronously and with unlayered backprop (random "
        "and momentum schedulers) at every F, evaluate against the sync-trained model run "
        "asynchronously and under the sync gate, and print the grid, its maxima and the "
        "verdict on the published claim. --protocol asynctorch sets every option of the "
        "published code; options given explicitly override the protocol's values.",
    )
    add_data_flags(p)
    add_output_flags(p)
    p.add_argument(
        "--protocol",
        default="swiftspike",
        choices=("swiftspike", "asynctorch"),
        help="swiftspike (default: LIF tau 5, threshold 1, biases, count loss, lr 2e-3, F 2, strict "
        "refractoriness) or asynctorch (wiped membrane, threshold 0.3, bias-free, rate loss, Adam 1e-3 "
        "+ weight decay 1e-5, refractory dropout 0.8 at inference too, redrawn random priorities, "
        "per-frame stop with k 0 1 2, F 4 8 16 32 64 128, 2 epochs)",
    )
    p.add_argument(
        "--seeds",
        type=nonneg_int,
        nargs="+",
        help="run every seed (data split, initialisation, noise); default: --seed alone",
    )
    add_time_steps_flag(
        p,
        help="frames per sample: static data is rate-coded into T frames, longer sequences are "
        "summed into T frames (default: 8; asynctorch: the data's own frames)",
    )
    p.add_argument(
        "--hidden",
        type=positive_int,
        nargs="+",
        help="hidden layer widths (default 64 64 64: asynchrony matters from the second layer on)",
    )
    p.add_argument(
        "--F",
        type=positive_int,
        nargs="+",
        help="forward group sizes (spikes emitted per sample per forward step), each trained and evaluated",
    )
    p.add_argument(
        "--k",
        type=nonneg_int,
        nargs="+",
        help="stop rules: forward steps after the first output spike (default: 0; asynctorch: 0 1 2)",
    )
    p.add_argument(
        "--stops",
        nargs="+",
        choices=("quiescence", "first_output", "frame_first_output"),
        help="stop rules evaluated (default: quiescence first_output; asynctorch: quiescence frame_first_output)",
    )
    add_train_flags(
        p,
        epochs=None,
        lr=None,  # None: the protocol's value
        epochs_help="epochs of layer-synchronous training (default 20; asynctorch 2)",
    )
    p.add_argument("--async-epochs", type=positive_int, help="epochs of async training (default: --epochs)")
    p.add_argument("--weight-decay", type=nonneg_float, help="Adam weight decay (default 0; asynctorch 1e-5)")
    add_spike_reg_flag(p, help="spike-count regulariser weight (all trainings)")
    p.add_argument("--threshold", type=positive_float, help="neuron threshold (default: the protocol's, 1 or 0.3)")
    p.add_argument(
        "--bias",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="synaptic layers with biases (default: yes; asynctorch: no)",
    )
    p.add_argument(
        "--test-limit", type=nonneg_int, default=0, help="evaluate on at most this many test samples (0 = all)"
    )
    p.add_argument("--finetune", action="store_true", help="start the async trainings from the sync-trained weights")
    p.add_argument("--truncate", action="store_true", help="truncated per-frame optimisation for the async trainings")
    p.add_argument(
        "--input-mode",
        default="start",
        choices=("start", "queued"),
        help="inputs at frame start, or queued with the network's spikes",
    )
    p.add_argument(
        "--refractory-dropout",
        type=fraction,
        help="probability that a spike does not lock its neuron for the frame (default 0, in async "
        "training only; asynctorch: 0.8, at inference too)",
    )
    p.add_argument(
        "--loss",
        choices=("count", "rate", "per-step"),
        help="count: CE of the summed output counts; rate: mean over frames of each frame's CE (both for "
        "every training); per-step: async trainings learn from the running output after every "
        "forward step (default: count; asynctorch: rate)",
    )
    p.add_argument(
        "--early",
        type=nonneg_float,
        default=0.0,
        help="with --loss per-step: weight exp(-early * j/n) on forward step j of n (0 = plain average)",
    )
    p.add_argument(
        "--async-spike-reg",
        type=nonneg_float,
        help="spike-count regulariser weight for the async trainings only (default: --spike-reg)",
    )
    p.add_argument(
        "--readout",
        choices=("strict", "argmax"),
        help="a sample is correct when its target's output count is strictly the largest, or is the "
        "argmax (ties to the lowest class) (default: strict; asynctorch: argmax)",
    )
    p.add_argument(
        "--matched",
        action="store_true",
        help="also compare against the epoch of the sync training whose accuracy is closest to each "
        "async-trained model's (keeps and evaluates the sync model after every epoch)",
    )
    p.add_argument(
        "--checkpoint-dir",
        type=output_dir,
        help="keep every training (resumed on the next run) and every evaluation here",
    )
    p.add_argument(
        "--acc-tolerance",
        type=nonneg_float,
        default=0.0,
        help="accuracy points the async-trained model may lose and still count as 'equal accuracy'",
    )
    p.set_defaults(func=cmd_study)
