"""Ultra-low-latency ANN-to-SNN conversion (capability 4): train a clipped-ReLU ANN on digits, convert it
to an IF network at T=2 with each calibration method, fine-tune the distribution-aware SNN at T=2, and
compare accuracy and estimated energy with the ANN.

    python examples/ann_to_snn.py          # about a minute on one core
    python examples/ann_to_snn.py --tiny   # seconds (what CI runs)
"""

from __future__ import annotations

import argparse

import torch

from swiftspike.conversion import METHODS, ann_accuracy, build_ann, convert, finetune, measure, train_ann
from swiftspike.data import load_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="CI size")
    ap.add_argument("--T", type=int, default=2, help="time steps of the converted SNN")
    args = ap.parse_args()
    torch.manual_seed(0)

    d = load_dataset("digits")  # [N, 1, 8, 8] images in [0, 1]
    if args.tiny:
        d = d.subset(n_train=300, n_test=100)
    ann = build_ann("mlp" if args.tiny else "conv", d.input_shape, d.n_classes)  # ReLUs clipped at a trainable mu
    train_ann(ann, d.x_train, d.y_train, epochs=2 if args.tiny else 8, show_progress=not args.tiny)
    print(f"ANN test accuracy: {ann_accuracy(ann, d.x_test, d.y_test):.3f}")

    calib = d.x_train[:256]
    for method in METHODS:  # max, percentile, uniform-optimal, distribution-aware
        snn = convert(ann, calib, T=args.T, method=method)  # IF neurons with soft reset
        print(f"{method:>20} at T={args.T}: accuracy {measure(snn, d.x_test, d.y_test, T=args.T)['accuracy']:.3f}")

    snn = convert(ann, calib, T=args.T, method="distribution-aware")
    finetune(snn, d.x_train, d.y_train, T=args.T, epochs=1 if args.tiny else 3, lr=1e-3, show_progress=not args.tiny)
    m = measure(snn, d.x_test, d.y_test, T=args.T)
    print(f"fine-tuned at T={args.T}: accuracy {m['accuracy']:.3f}, E_ANN / E_SNN = {m['energy_ratio_vs_ann']:.1f}")


if __name__ == "__main__":
    main()
