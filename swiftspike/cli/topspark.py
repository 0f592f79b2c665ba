"""``swiftspike topspark``: timestep study, sensitivity, enhancement policy and trade-off selection
for an unsupervised Diehl & Cook STDP network, plus early exit for a surrogate-trained SNN."""
from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from ..errors import SwiftSpikeError, check_positive_int
from .common import add_output_flags, emit, plot_dir


def _ints(s: str) -> list[int]:
    try:
        v = [int(t) for t in s.split(",") if t.strip()]
    except ValueError:
        raise SwiftSpikeError(f"expected comma-separated integers, got {s!r}") from None
    if not v or min(v) <= 0:
        raise SwiftSpikeError(f"expected positive integers, got {s!r}")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("topspark", help="timestep reduction study for STDP (Diehl & Cook) networks")
    p.add_argument("--dataset", default="fashion-mnist", help="mnist5k | fashion-mnist | digits")
    p.add_argument("--path", help="folder with the dataset files (fashion-mnist)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--neurons", type=int, default=400, help="excitatory neurons N (100, 400, 900, ...)")
    p.add_argument("--rule", default="pair", help="STDP rule: pair | soft")
    p.add_argument("--n-train", type=int, default=1000, help="STDP training samples (one pass)")
    p.add_argument("--n-val", type=int, default=300, help="validation samples (sensitivity, policy fit)")
    p.add_argument("--n-test", type=int, default=500, help="test samples for the final table")
    p.add_argument("--T0", type=int, default=350, help="baseline presentation steps (dt = 1 ms)")
    p.add_argument("--T", default="100,50,35,20", help="reduced timesteps, comma-separated")
    p.add_argument("--train-batch", type=int, default=16, help="samples learned in parallel (1 = exact online)")
    p.add_argument("--theta-plus", type=float, default=0.2,
                   help="baseline theta increment (mV; the paper's 0.05 needs ~60k samples)")
    p.add_argument("--input-rate", type=float, default=128.0, help="max input rate in Hz")
    p.add_argument("--sens-T", default=None, help="timesteps for the sensitivity analysis (default: all reduced)")
    p.add_argument("--no-sensitivity", action="store_true", help="skip sensitivity; fit knobs in a fixed order")
    p.add_argument("--max-knobs", type=int, default=3, help="knobs searched per T by the policy fit")
    p.add_argument("--energy-weight", type=float, default=0.05, help="policy score penalty per 100%% extra energy")
    p.add_argument("--policy", metavar="FILE", help="write the fitted T -> parameters table (JSON) here")
    p.add_argument("--load-policy", metavar="FILE", help="use this policy file instead of fitting one")
    p.add_argument("--min-accuracy", type=float, help="selector: minimum accuracy (0-1)")
    p.add_argument("--max-latency", type=float, help="selector: maximum latency in ms")
    p.add_argument("--max-energy", type=float, help="selector: maximum energy per sample in J")
    p.add_argument("--energy-kind", default="infer", help="which energy --max-energy limits: infer | train")
    p.add_argument("--early-exit", action="store_true", help="also train a surrogate SNN and report its early-exit curve")
    p.add_argument("--early-exit-only", action="store_true", help="only the early-exit part (no STDP study)")
    p.add_argument("--ee-T", type=int, default=25, help="early exit: time steps of the surrogate SNN")
    p.add_argument("--ee-epochs", type=int, default=3, help="early exit: training epochs")
    add_output_flags(p)
    p.set_defaults(func=cmd_topspark)


def _table(rows: list[dict[str, Any]]) -> str:
    head = f"{'T':>5} {'enh':>4} {'acc':>6} {'lat ms':>7} {'train uJ':>9} {'infer uJ':>9} {'spk/smp':>8} {'train ms':>9} {'infer ms':>9}"
    lines = [head]
    for r in rows:
        lines.append(f"{r['T']:>5} {'yes' if r['enhanced'] else 'no':>4} {r['accuracy']:>6.3f} {r['latency_ms']:>7.0f} "
                     f"{1e6 * r['train_energy_j']:>9.3f} {1e6 * r['infer_energy_j']:>9.3f} "
                     f"{r['infer_spikes_per_sample']:>8.1f} {r['train_wall_ms_per_sample']:>9.2f} {r['infer_wall_ms_per_sample']:>9.2f}")
    return "\n".join(lines)


def _early_exit(args, data, log) -> dict[str, Any]:
    from ..data.encoders import make_encoder
    from ..engines.sync import run_sync
    from ..models import build_model, default_spec
    from ..neurons.modules import reset
    from ..timestep.early_exit import exit_curve
    from ..training.trainer import TrainConfig, Trainer

    check_positive_int(args.ee_T, "--ee-T")
    spec = default_spec((data.x_train.shape[1],), data.n_classes, hidden=[128])
    model = build_model(spec)
    enc = make_encoder("rate", args.ee_T)
    sub = data.subset(n_train=args.n_train, n_test=args.n_test)
    tr = Trainer(model, enc, TrainConfig(epochs=args.ee_epochs, batch_size=64, lr=2e-3, seed=args.seed,
                                         progress=not args.quiet), spec=spec)
    tr.fit(sub)
    with torch.no_grad():
        torch.manual_seed(args.seed)
        reset(model)
        rec = run_sync(model.eval(), enc(sub.x_test), record=True)
        reset(model)
    ths = [0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, float("inf")]
    curve = exit_curve(rec.output, sub.y_test, ths, spiking=rec.output_spiking)
    for c in curve:
        log(f"  early exit margin>={c['threshold']:<5}: acc {c['accuracy']:.3f}, mean steps {c['mean_steps']:.1f}/{args.ee_T}")
    return {"T": args.ee_T, "curve": curve}


def cmd_topspark(args: argparse.Namespace) -> int:
    from ..data.datasets import load_dataset
    from ..timestep.diehl_cook import DCParams
    from ..timestep.policy import EnhancementPolicy, fit_policy
    from ..timestep.selector import select
    from ..timestep.study import Split, run_setting, sensitivity

    t_start = time.perf_counter()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    Ts = sorted(set(_ints(args.T)), reverse=True)
    for k in ("neurons", "n_train", "n_val", "n_test", "T0", "train_batch", "max_knobs"):
        check_positive_int(getattr(args, k), "--" + k.replace("_", "-"))
    if any(T >= args.T0 for T in Ts):
        raise SwiftSpikeError(f"reduced timesteps must be below --T0 {args.T0}, got {Ts}")
    params = DCParams(theta_plus=args.theta_plus, input_rate=args.input_rate, rule=args.rule).validate()
    log = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))

    data = load_dataset(args.dataset, path=args.path, seed=args.seed, flatten=True)
    x, y = data.x_train.reshape(len(data.x_train), -1), data.y_train
    if len(x) < args.n_train + args.n_val:
        raise SwiftSpikeError(f"{args.dataset} has {len(x)} training samples, fewer than --n-train + --n-val")
    xt, yt = data.x_test.reshape(len(data.x_test), -1)[:args.n_test], data.y_test[:args.n_test]
    val = Split(x[:args.n_train], y[:args.n_train], x[args.n_train:args.n_train + args.n_val],
                y[args.n_train:args.n_train + args.n_val], data.n_classes)
    test = Split(x[:args.n_train], y[:args.n_train], xt, yt, data.n_classes)
    kw = dict(n_neurons=args.neurons, batch=args.train_batch, seed=args.seed)
    if args.early_exit_only:
        log(f"early exit (surrogate-trained SNN) on {args.dataset}:")
        ee = _early_exit(args, data, log)
        emit(args, {"dataset": args.dataset, "early_exit": ee, "seconds": time.perf_counter() - t_start})
        return 0
    log(f"topspark: {args.dataset}, N{args.neurons}, rule {args.rule}, {args.n_train} train / {args.n_val} val / "
        f"{len(xt)} test, T0={args.T0}, T={Ts}")

    # 1) sensitivity on the validation split
    sens: dict[int, Any] = {}
    base_val: dict[int, Any] = {}
    if not args.no_sensitivity and not args.load_policy:
        sens_T = _ints(args.sens_T) if args.sens_T else Ts
        for T in sens_T:
            base_val[T] = run_setting(val, T=T, params=params, **kw)
            sens[T] = sensitivity(val, T=T, params=params, base=base_val[T], **kw)
            log(f"sensitivity T={T}: base val acc {sens[T]['base_accuracy']:.3f}; ranking {sens[T]['ranking']}")
    # 2) enhancement policy
    if args.load_policy:
        policy = EnhancementPolicy.load(args.load_policy)
    else:
        order = {T: s["ranking"] for T, s in sens.items()}
        policy = fit_policy(val, args.neurons, args.T0, Ts, params, order=order, max_knobs=args.max_knobs,
                            energy_weight=args.energy_weight, base_rows=base_val, log=log,
                            batch=args.train_batch, seed=args.seed)
    if args.policy:
        policy.save(args.policy)
    for T in Ts:
        if T in policy.table:
            log(f"policy T={T}: factors {({k: round(v, 3) for k, v in policy.table[T]['factors'].items()})}")
    # 3) final study on the test split
    rows = []
    for T in [args.T0] + Ts:
        r = run_setting(test, T=T, params=params, **kw)
        r["enhanced"] = False
        rows.append(r)
        if T in policy.table and policy.table[T]["factors"]:
            r2 = run_setting(test, T=T, params=policy.params_for(T, params), **kw)
            r2.update(enhanced=True, factors=policy.table[T]["factors"])
            rows.append(r2)
    base = rows[0]
    for r in rows:
        r["latency_reduction"] = base["latency_ms"] / r["latency_ms"]
        r["train_energy_reduction"] = base["train_energy_j"] / r["train_energy_j"]
        r["infer_energy_reduction"] = base["infer_energy_j"] / r["infer_energy_j"]
        r["train_wall_reduction"] = base["train_wall_ms_per_sample"] / r["train_wall_ms_per_sample"]
        r["accuracy_drop"] = base["accuracy"] - r["accuracy"]
    text = _table(rows)
    # 4) selection
    limits = dict(min_accuracy=args.min_accuracy, max_latency=args.max_latency, max_energy=args.max_energy)
    chosen = select(rows, energy=args.energy_kind, **limits)
    text += (f"\nselected: T={chosen['T']} enhanced={chosen['enhanced']} acc {chosen['accuracy']:.3f} "
             f"({'meets' if chosen['feasible'] else 'best compromise for'} {({k: v for k, v in limits.items() if v is not None})})")
    # acceptance summary: best enhanced row within 2 points that is >= 3x cheaper
    ok = [r for r in rows if r["accuracy_drop"] <= 0.02 and r["latency_reduction"] >= 3
          and r["train_energy_reduction"] >= 3 and r["infer_energy_reduction"] >= 3]
    text += f"\nsettings >=3x cheaper (latency, train and inference energy) within 2 points: {[(r['T'], r['enhanced']) for r in ok]}"
    result: dict[str, Any] = {"dataset": args.dataset, "neurons": args.neurons, "rule": args.rule,
                              "n_train": args.n_train, "n_val": args.n_val, "n_test": len(xt), "T0": args.T0,
                              "rows": rows, "selected": chosen, "policy": policy.to_dict(),
                              "sensitivity": {str(k): v for k, v in sens.items()},
                              "meets_acceptance": [(r["T"], r["enhanced"]) for r in ok]}
    if args.early_exit:
        log("early exit (surrogate-trained SNN):")
        result["early_exit"] = _early_exit(args, data, log)
    d = plot_dir(args)
    if d is not None:
        from ..plots import curves_plot

        for key, ylabel in (("accuracy", "accuracy"), ("train_energy_j", "train energy / sample (J)"),
                            ("infer_energy_j", "inference energy / sample (J)")):
            curves = {}
            for enh in (False, True):
                pts = sorted((r["T"], r[key]) for r in rows if r["enhanced"] == enh or (enh and r["T"] == args.T0))
                if pts:
                    curves["enhanced" if enh else "baseline"] = ([p[0] for p in pts], [p[1] for p in pts])
            xs = sorted({r["T"] for r in rows})
            ys = {}
            for name, (tx, ty) in curves.items():
                m = dict(zip(tx, ty))
                ys[name] = [m.get(t, float("nan")) for t in xs]
            curves_plot(ys, d / f"topspark_{key}.png", x=xs, xlabel="timesteps T", ylabel=ylabel)
        if "early_exit" in result:
            c = result["early_exit"]["curve"]
            curves_plot({"accuracy": [r["accuracy"] for r in c]}, d / "early_exit.png",
                        x=[r["mean_steps"] for r in c], xlabel="mean steps", ylabel="accuracy")
    result["seconds"] = time.perf_counter() - t_start
    emit(args, result, text)
    return 0
