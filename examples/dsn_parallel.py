"""Parallel spiking neurons (capability 3): the dynamic-decay neuron (DSN) solves its membrane over all time
steps at once for training and steps serially (O(1) state) for inference, with the same spikes; then a DSN
network is trained on digits read one pixel per step and evaluated on a 15x longer stream.

    python examples/dsn_parallel.py          # about a minute on one core
    python examples/dsn_parallel.py --tiny   # seconds (what CI runs)
"""

from __future__ import annotations

import argparse

import torch

from swiftspike.data import load_dataset, make_encoder
from swiftspike.models import build_model, default_spec
from swiftspike.neurons import DSN, reset
from swiftspike.training import TrainConfig, Trainer
from swiftspike.training.long import long_sequence_eval


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="CI size")
    args = ap.parse_args()
    torch.manual_seed(0)

    # 1. parallel over T == serial, one step at a time
    T = 256 if args.tiny else 4096
    dsn = DSN(channels=16)  # integer spikes 0..4, tau = 0.25, gate kernel k = 4
    x = torch.randn(T, 4, 16)  # [T, B, C] input currents
    parallel = dsn(x)
    reset(dsn)
    dsn.step_mode = "s"
    serial = torch.stack([dsn(x[t]) for t in range(T)])
    print(f"T={T}: parallel and serial spikes agree on {(parallel == serial).float().mean().item():.4%} of entries")

    # 2. train on sequential digits (64 steps of one pixel) with DSN neurons and an LI readout
    data = load_dataset("seq-digits")
    if args.tiny:
        data = data.subset(n_train=200, n_test=60)
    spec = default_spec(data.input_shape, data.n_classes, hidden=[32], neuron="dsn", readout="li")
    model = build_model(spec)
    cfg = TrainConfig(epochs=1 if args.tiny else 15, lr=5e-3, loss="membrane", seed=0, progress=not args.tiny)
    trainer = Trainer(model, make_encoder("sequence", data.x_train.shape[1]), cfg, spec=spec)
    trainer.fit(data)
    print(f"test accuracy at T={data.x_train.shape[1]}: {trainer.evaluate(data).accuracy:.3f}")

    # 3. the same model on 15 test samples played back to back without reset (15x the training length)
    factor = 3 if args.tiny else 15
    res = long_sequence_eval(model, data, "sequence", data.x_train.shape[1], factor)
    print({k: res[k] for k in ("T", "accuracy", "finite")})
    assert res["finite"]


if __name__ == "__main__":
    main()
