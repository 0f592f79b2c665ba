"""``demo``, ``train``, ``eval`` and ``report``: layer-synchronous baseline commands (the work itself:
:mod:`swiftspike.studies.baseline`)."""

from __future__ import annotations

import argparse
from typing import Any

from ..data.dataset import Dataset
from ..data.datasets import load_dataset
from ..data.encoders import ENCODERS
from ..models import default_spec
from ..studies.baseline import baseline_plots, compare_results, train_and_report
from ..training.trainer import TrainConfig
from .common import (
    RUNTIME_OPTIONS,
    add_checkpoint_flags,
    add_data_flags,
    add_energy_flag,
    add_output_flags,
    add_seed_flag,
    add_spike_reg_flag,
    add_time_steps_flag,
    add_tracking_flags,
    add_train_flags,
    data_kwargs,
    emit,
    is_main,
    plot_dir,
    positive_float,
    positive_int,
    show_text,
)


def _runtime_config(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields of the runtime and tracking options."""
    return dict(
        device=args.device,
        precision=args.precision,
        compile=args.compile,
        threads=args.threads,
        metrics_log=args.metrics_log,
        log_dir=args.log_dir,
        num_workers=args.num_workers,
    )


def _train_and_report(
    args,
    data: Dataset,
    spec: dict[str, Any],
    cfg: TrainConfig,
    encoder_name: str,
    T: int,
    label: str,
    meta: dict[str, Any],
) -> None:
    result, report = train_and_report(
        data,
        spec,
        cfg,
        encoder_name,
        T,
        label=label,
        meta=meta,
        energy_table=args.energy_table,
        plot_dir=plot_dir(args),
        eval_long=getattr(args, "eval_long", None),
        long_mode=getattr(args, "long_mode", "stream"),
    )
    if report is None:
        return
    text = report.table() if show_text(args) else None
    le = result.get("long_eval")
    if text and le:
        text += (
            f"\nat {args.eval_long}x length (T={le['T']}, {le['method']}): accuracy {le['accuracy']:.4f}, "
            f"finite={le['finite']}"
        )
    emit(args, result, text)


def cmd_demo(args: argparse.Namespace) -> int:
    data = load_dataset("digits", seed=args.seed)
    spec = default_spec(data.input_shape, data.n_classes, hidden=[128])
    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        progress=not args.quiet,
        **_runtime_config(args),
    )
    if not args.json and is_main():
        print(f"swiftspike demo: 64-128-10 LIF network, rate-coded digits, T={args.T}, {args.epochs} epochs")
    _train_and_report(args, data, spec, cfg, "rate", args.T, "demo", meta={"dataset": "digits"})
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    flatten = args.arch == "mlp"
    data = load_dataset(
        args.dataset, path=args.path, seed=args.seed, limit=args.limit, flatten=flatten, **data_kwargs(args)
    )
    neuron_kwargs: dict[str, Any] = {
        key: val
        for key, val in (
            ("tau", args.tau),
            ("v_threshold", args.v_threshold),
            ("reset", args.reset),
            ("surrogate", args.surrogate),
        )
        if val is not None
    }
    spec = default_spec(
        data.input_shape,
        data.n_classes,
        arch=args.arch,
        hidden=args.hidden,
        neuron=args.neuron,
        neuron_kwargs=neuron_kwargs,
        readout=args.readout,
        bias=args.bias,
    )
    encoder_name = "sequence" if data.temporal else args.encoder
    T = data.x_train.shape[1] if data.temporal else args.T
    from ..neurons.factory import FIXED_T_NEURONS

    if args.neuron in FIXED_T_NEURONS:  # PSN's T x T weight needs the sequence length
        spec["neuron_kwargs"]["T"] = T
    loss = args.loss or ("membrane" if args.readout == "li" else "count")
    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        loss=loss,
        spike_reg=args.spike_reg,
        seed=args.seed,
        checkpoint=args.checkpoint,
        resume=args.resume,
        resume_missing=args.resume_missing,
        override=args.override,
        progress=not args.quiet,
        **_runtime_config(args),
    )
    meta = {
        "dataset": data.name,
        "path": args.path,
        "seed": args.seed,
        "flatten": flatten,
        "data_kwargs": data_kwargs(args),
    }
    _train_and_report(args, data, spec, cfg, encoder_name, T, args.neuron, meta)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from ..interop.checkpoints import build_from_spec
    from ..training.restore import checkpoint_data, checkpoint_encoder, evaluate_checkpoint, load_model

    if not is_main():  # under torchrun, rank 0 alone evaluates and reports
        return 0
    report = evaluate_checkpoint(
        args.checkpoint,
        encoder=args.encoder,
        T=args.T,
        seed=args.seed,
        device=args.device,
        threads=args.threads,
        precision=args.precision,
        compile=args.compile,
        energy_table=args.energy_table,
        progress_bar=not args.quiet,
        dataset=args.dataset,
        data_path=args.path,
        build=build_from_spec,
    )
    result = report.to_dict()
    plots = plot_dir(args)
    if plots is not None:
        model, ck = load_model(args.checkpoint, args.device, build=build_from_spec)
        data = checkpoint_data(ck, args.dataset, args.path, where=args.checkpoint)
        encoder = checkpoint_encoder(ck, data, encoder=args.encoder, T=args.T)
        result["plots"] = baseline_plots(model, encoder, data, report, plots, "eval")
    emit(args, result, report.table() if show_text(args) else None)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    result, table = compare_results(args.files, plot_dir(args))
    emit(args, result, table if show_text(args) else None)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="train a small SNN on digits (< 2 min) and report accuracy, spikes, latency, energy",
        description="Train a 64-128-10 LIF network on scikit-learn digits and print its report.",
    )
    add_train_flags(p, epochs=20, lr=2e-3, batch_size=32)
    add_time_steps_flag(p, default=16)
    add_seed_flag(p)
    add_energy_flag(p)
    add_tracking_flags(p)
    add_output_flags(p)
    p.set_defaults(func=cmd_demo, runtime=RUNTIME_OPTIONS)

    p = sub.add_parser(
        "train",
        help="train an SNN with surrogate-gradient BPTT",
        description="Train a layer-synchronous SNN and report accuracy, spikes, latency and energy.",
    )
    add_data_flags(p)
    p.add_argument("--arch", default="mlp", choices=["mlp", "conv"])
    p.add_argument(
        "--hidden", type=positive_int, nargs="+", default=[128], help="hidden widths (conv: channels..., fc width)"
    )
    p.add_argument(
        "--neuron",
        default="lif",
        help="neuron layer by name (lif, if, dsn, dsn-binary, psn, masked-psn, sliding-psn, lif-noreset)",
    )
    p.add_argument("--tau", type=positive_float, help="membrane time constant in steps")
    p.add_argument("--v-threshold", dest="v_threshold", type=positive_float, help="firing threshold")
    p.add_argument("--reset", choices=["hard", "soft"])
    p.add_argument("--surrogate", help="atan | fast-sigmoid | sigmoid | rectangular | triangular")
    p.add_argument("--readout", default="spike", choices=["spike", "li"], help="spiking output or analog integrator")
    p.add_argument(
        "--no-bias",
        dest="bias",
        action="store_false",
        help="Linear / Conv layers without biases (a neuron moves only when an event reaches it)",
    )
    p.add_argument("--encoder", default="rate", choices=list(ENCODERS))
    add_time_steps_flag(p, default=16, help="time steps for static data")
    add_train_flags(p, epochs=10, lr=2e-3)
    p.add_argument("--loss", choices=["count", "rate", "membrane"])
    add_spike_reg_flag(p)
    add_checkpoint_flags(p)
    add_tracking_flags(p)
    add_energy_flag(p)
    p.add_argument(
        "--eval-long",
        dest="eval_long",
        type=positive_int,
        metavar="K",
        help="also evaluate at K times the training length (see --long-mode)",
    )
    p.add_argument(
        "--long-mode",
        dest="long_mode",
        default="stream",
        choices=["stream", "stretch"],
        help="stream: K test samples back to back without reset; stretch: every step repeated K times",
    )
    add_output_flags(p)
    p.set_defaults(func=cmd_train, runtime=RUNTIME_OPTIONS)

    p = sub.add_parser(
        "eval",
        help="evaluate a checkpoint written by 'train' or 'import'",
        description="Rebuild the model from the checkpoint's JSON alone and report on the test split "
        "of its dataset, with the encoder noise seeded as after training (so the "
        "accuracy equals the one 'train' printed).",
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint written by 'swiftspike train' or 'import'")
    add_data_flags(
        p,
        default=None,
        dataset_help="override the dataset stored in the checkpoint",
        limit=False,
        bins=False,
        seed=False,
    )
    add_seed_flag(p, default=None, help="seed of the encoder noise (default: the checkpoint's training seed)")
    p.add_argument("--encoder", choices=list(ENCODERS), help="input encoder (default: the checkpoint's)")
    add_time_steps_flag(p, help="time steps (default: the checkpoint's)")
    add_energy_flag(p)
    add_output_flags(p)
    p.set_defaults(func=cmd_eval, runtime=RUNTIME_OPTIONS)

    p = sub.add_parser(
        "report",
        help="tabulate and plot saved JSON results side by side",
        description="Read JSON results (from --out FILE, or saved --json output) and compare them.",
    )
    p.add_argument("files", nargs="+")
    add_output_flags(p)
    p.set_defaults(func=cmd_report)
