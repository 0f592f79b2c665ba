"""``swiftspike convert-study``: ANN-to-SNN conversion at 1-32 time steps (see docs/conversion.md)."""
from __future__ import annotations

import argparse

from ..errors import SwiftSpikeError
from .common import add_data_flags, add_output_flags, data_kwargs, emit, plot_dir


def _ints(s: str) -> list[int]:
    try:
        out = [int(v) for v in s.split(",") if v.strip()]
    except ValueError:
        raise SwiftSpikeError(f"expected comma-separated integers, got {s!r}") from None
    if not out or any(v <= 0 for v in out):
        raise SwiftSpikeError(f"time steps must be positive integers, got {s!r}")
    return out


def cmd_convert_study(args: argparse.Namespace) -> int:
    from ..conversion.calibrate import METHODS
    from ..conversion.ann import load_ann, save_ann
    from ..studies.conversion import run_study, table_text
    from ..data.datasets import load_dataset

    data = load_dataset(args.dataset, path=args.path, seed=args.seed, limit=args.limit, flatten=False,
                        **data_kwargs(args))
    ann = None
    if args.ann_checkpoint:
        ann = load_ann(args.ann_checkpoint, args.model, data.input_shape, data.n_classes)
    methods = METHODS if args.methods == "all" else [m.strip() for m in args.methods.split(",")]
    log = (lambda *a, **k: None) if args.quiet else (lambda *a: print(*a, flush=True))
    saved = []

    def save(net) -> None:
        saved.append(str(save_ann(args.save_ann, net, args.model, data.input_shape, data.n_classes)))
        log(f"ANN saved to {saved[-1]}")
    res = run_study(data, model=args.model, ann=ann, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                    times=_ints(args.times), methods=methods, ft_times=_ints(args.ft_times) if args.ft_times else [],
                    ft_epochs=args.ft_epochs, ft_lr=args.ft_lr, ft_limit=args.ft_limit,
                    calib_samples=args.calib_samples, percentile=args.percentile, test_limit=args.test_limit,
                    energy_table=args.energy_table, seed=args.seed, show_progress=not args.quiet, log=log,
                    on_ann_trained=save if args.save_ann else None)
    plots = []
    d = plot_dir(args)
    if d is not None:
        from ..plots import curves_plot

        curves = {m: [r[str(t)]["accuracy"] for t in res["times"]] for m, r in res["methods"].items()}
        curves["ANN"] = [res["ann_accuracy"]] * len(res["times"])
        plots.append(str(curves_plot(curves, d / "convert_accuracy_vs_T.png", x=res["times"], logx=True,
                                     title=f"{res['dataset']} {res['model']}: accuracy vs T")))
        ratios = {m: [r[str(t)]["energy_ratio_vs_ann"] for t in res["times"]] for m, r in res["methods"].items()}
        plots.append(str(curves_plot(ratios, d / "convert_energy_ratio_vs_T.png", x=res["times"], logx=True,
                                     ylabel="E_ANN / E_SNN", title="energy ratio vs T")))
    res["plots"] = plots
    if saved:
        res["saved_ann"] = saved[-1]
    emit(args, res, None if args.quiet else table_text(res))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert-study", help="ANN-to-SNN conversion with four calibrations at T=1..32 + fine-tuning",
                       description="Train (or load) a clipped-ReLU ANN, convert it with each calibration method at "
                                   "several T, fine-tune at T in {1,2}; print accuracy, spike rates, energy ratio.")
    add_data_flags(p)
    p.set_defaults(dataset="digits")
    p.add_argument("--model", default="vgg-small", help="vgg-small | conv | mlp | resnet-tiny")
    p.add_argument("--ann-checkpoint", help="load this ANN instead of training one (swiftspike ANN checkpoint, "
                                            "torch.save-d nn.Module, or state_dict of --model)")
    p.add_argument("--save-ann", help="save the trained ANN here")
    p.add_argument("--epochs", type=int, default=4, help="ANN training epochs")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--times", default="1,2,4,8,16,32", help="time steps to convert at")
    p.add_argument("--methods", default="all", help="comma list of max,percentile,uniform-optimal,distribution-aware")
    p.add_argument("--percentile", type=float, default=99.9)
    p.add_argument("--calib-samples", type=int, default=512, help="training samples used for calibration")
    p.add_argument("--ft-times", default="1,2", help="time steps to fine-tune at ('' for none)")
    p.add_argument("--ft-epochs", type=int, default=1)
    p.add_argument("--ft-lr", type=float, default=1e-4)
    p.add_argument("--ft-limit", type=int, help="fine-tune on at most this many training samples")
    p.add_argument("--test-limit", type=int, default=2000, help="evaluate on at most this many test samples")
    p.add_argument("--energy-table", default="45nm-fp32", help="45nm-fp32 | 45nm-int32")
    add_output_flags(p)
    p.set_defaults(func=cmd_convert_study)
