"""``swiftspike topspark``: timestep study, sensitivity, enhancement policy and trade-off selection
for an unsupervised Diehl & Cook STDP network, plus early exit for a surrogate-trained SNN
(the study itself: :mod:`swiftspike.studies.topspark`)."""

from __future__ import annotations

import argparse

from .common import (
    add_data_flags,
    add_output_flags,
    add_time_steps_flag,
    emit_study,
    fraction,
    log_fn,
    nonempty_int_list,
    nonneg_float,
    output_file,
    positive_float,
    positive_int,
)


def cmd_topspark(args: argparse.Namespace) -> int:
    from ..studies.topspark import TopSparkConfig, run_study

    cfg = TopSparkConfig(
        dataset=args.dataset,
        path=args.path,
        seed=args.seed,
        neurons=args.neurons,
        rule=args.rule,
        n_train=args.n_train,
        n_val=args.n_val,
        n_test=args.n_test,
        T0=args.T0,
        Ts=args.T,
        train_batch=args.train_batch,
        theta_plus=args.theta_plus,
        input_rate=args.input_rate,
        sens_Ts=args.sens_T,
        sensitivity=not args.no_sensitivity,
        max_knobs=args.max_knobs,
        energy_weight=args.energy_weight,
        save_policy=args.policy,
        load_policy=args.load_policy,
        min_accuracy=args.min_accuracy,
        max_latency=args.max_latency,
        max_energy=args.max_energy,
        energy_kind=args.energy_kind,
        early_exit=args.early_exit,
        early_exit_only=args.early_exit_only,
        ee_T=args.ee_T,
        ee_epochs=args.ee_epochs,
        progress=not args.quiet,
        device=args.device,
    )
    emit_study(args, run_study(cfg.validate(), log=log_fn(args)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("topspark", help="timestep reduction study for STDP (Diehl & Cook) networks")
    add_data_flags(p, default="fashion-mnist", dataset_help="mnist5k | fashion-mnist | digits", limit=False, bins=False)
    p.add_argument("--neurons", type=positive_int, default=400, help="excitatory neurons N (100, 400, 900, ...)")
    p.add_argument("--rule", default="pair", help="STDP rule: pair | soft")
    p.add_argument("--n-train", type=positive_int, default=1000, help="STDP training samples (one pass)")
    p.add_argument("--n-val", type=positive_int, default=300, help="validation samples (sensitivity, policy fit)")
    p.add_argument("--n-test", type=positive_int, default=500, help="test samples for the final table")
    p.add_argument("--T0", type=positive_int, default=350, help="baseline presentation steps (dt = 1 ms)")
    add_time_steps_flag(p, default="100,50,35,20", help="reduced timesteps", many=True)
    p.add_argument(
        "--train-batch", type=positive_int, default=16, help="samples learned in parallel (1 = exact online)"
    )
    p.add_argument(
        "--theta-plus",
        type=nonneg_float,
        default=0.2,
        help="baseline theta increment (mV; the paper's 0.05 needs ~60k samples)",
    )
    p.add_argument("--input-rate", type=positive_float, default=128.0, help="max input rate in Hz")
    p.add_argument(
        "--sens-T",
        type=nonempty_int_list,
        default=None,
        help="timesteps for the sensitivity analysis (default: all reduced)",
    )
    p.add_argument("--no-sensitivity", action="store_true", help="skip sensitivity; fit knobs in a fixed order")
    p.add_argument("--max-knobs", type=positive_int, default=3, help="knobs searched per T by the policy fit")
    p.add_argument(
        "--energy-weight", type=nonneg_float, default=0.05, help="policy score penalty per 100%% extra energy"
    )
    p.add_argument(
        "--policy", metavar="FILE", type=output_file, help="write the fitted T -> parameters table (JSON) here"
    )
    p.add_argument("--load-policy", metavar="FILE", help="use this policy file instead of fitting one")
    p.add_argument("--min-accuracy", type=fraction, help="selector: minimum accuracy (0-1)")
    p.add_argument("--max-latency", type=positive_float, help="selector: maximum latency in ms")
    p.add_argument("--max-energy", type=positive_float, help="selector: maximum energy per sample in J")
    p.add_argument(
        "--energy-kind", default="infer", choices=("infer", "train"), help="which energy --max-energy limits"
    )
    p.add_argument(
        "--early-exit", action="store_true", help="also train a surrogate SNN and report its early-exit curve"
    )
    p.add_argument("--early-exit-only", action="store_true", help="only the early-exit part (no STDP study)")
    p.add_argument("--ee-T", type=positive_int, default=25, help="early exit: time steps of the surrogate SNN")
    p.add_argument("--ee-epochs", type=positive_int, default=3, help="early exit: training epochs")
    add_output_flags(p)
    p.set_defaults(func=cmd_topspark, runtime=("device", "threads"))
