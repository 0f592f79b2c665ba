"""Adaptive timestep reduction for STDP networks (capability 5, TopSpark): train a Diehl & Cook network with
unsupervised pair STDP at the baseline T0 and at reduced timesteps, with and without the shipped enhancement
policy, and let the trade-off selector pick the cheapest setting that meets an accuracy target.

    python examples/topspark_stdp.py          # MNIST-5k, 100 neurons: a few minutes on one core
    python examples/topspark_stdp.py --tiny   # digits, 20 neurons: seconds (what CI runs)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from swiftspike.data import load_dataset
from swiftspike.timestep import DCParams, EnhancementPolicy, Split, select, timestep_study

POLICY = Path(__file__).resolve().parent.parent / "docs" / "topspark_policy_mnist5k_n400.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="CI size")
    ap.add_argument("--min-accuracy", type=float, default=0.5)
    args = ap.parse_args()

    if args.tiny:
        d, n_train, n_eval, neurons = load_dataset("digits", flatten=True), 100, 50, 20
    else:
        d, n_train, n_eval, neurons = load_dataset("mnist5k", flatten=True), 1000, 500, 100
    split = Split(d.x_train[:n_train], d.y_train[:n_train], d.x_test[:n_eval], d.y_test[:n_eval], d.n_classes)

    base = DCParams(theta_plus=0.2)  # the CLI's baseline for ~1k training samples (the paper's 0.05 needs ~60k)
    policy = EnhancementPolicy.load(POLICY)  # fitted on MNIST-5k, N=400, T0=350 (docs/results/topspark.md)
    rows = timestep_study(split, neurons, [policy.T0, 100, 50], base, policy, batch=16)
    print(f"{'T':>4} {'enhanced':>8} {'accuracy':>8} {'latency ms':>10} {'infer uJ':>9} {'train uJ':>9}")
    for r in rows:
        print(
            f"{r['T']:>4} {r['enhanced']!s:>8} {r['accuracy']:>8.3f} {r['latency_ms']:>10.0f} "
            f"{1e6 * r['infer_energy_j']:>9.3f} {1e6 * r['train_energy_j']:>9.3f}"
        )

    choice = select(rows, min_accuracy=args.min_accuracy)
    print(
        f"selected: T={choice['T']} enhanced={choice['enhanced']} accuracy={choice['accuracy']:.3f} "
        f"(meets the target: {choice['feasible']})"
    )


if __name__ == "__main__":
    main()
