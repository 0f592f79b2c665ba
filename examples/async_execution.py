"""Asynchronous execution and unlayered training (capability 2): the same LIF network run layer by layer
(sync engine) and event by event without layer synchronisation (async engine, at most F spikes per sample
per forward step); then trained *through* the async engine with the one Trainer (unlayered backprop).

    python examples/async_execution.py          # a few minutes on one core
    python examples/async_execution.py --tiny   # seconds (what CI runs)
"""

from __future__ import annotations

import argparse

import torch

from swiftspike.asynch import run_async
from swiftspike.asynch.training import async_runner
from swiftspike.data import load_dataset, make_encoder
from swiftspike.engines.sync import run_sync
from swiftspike.models import build_model, default_spec
from swiftspike.training import TrainConfig, Trainer, evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="CI size")
    ap.add_argument("--F", type=int, default=2, help="forward group: spikes emitted per sample per forward step")
    args = ap.parse_args()

    data = load_dataset("digits", flatten=True)
    data = data.subset(n_train=300, n_test=100) if args.tiny else data
    spec = default_spec(data.input_shape, data.n_classes, hidden=[32, 32])
    encoder = make_encoder("rate", 8)
    torch.manual_seed(0)
    net = build_model(spec)

    # 1. layer-synchronous training (BPTT), the baseline
    sync_cfg = TrainConfig(epochs=3 if args.tiny else 20, lr=5e-3, seed=0, progress=not args.tiny)
    Trainer(net, encoder, sync_cfg, spec=spec).fit(data)

    # 2. one batch, both engines: with F at least the widest layer the async engine reproduces run_sync exactly
    x = encoder(data.x_test[:16])  # [T, B, 64] spike frames
    same = torch.equal(run_sync(net, x).detach(), run_async(net, x, F=64).output.detach())
    print(f"sync == async at F=64: {same}")
    assert same

    # 3. the sync-trained model under asynchronous execution with a small forward group
    runner = async_runner(F=args.F, scheduler="momentum")
    before = evaluate(net, encoder, data, runner=runner, seed=0)

    # 4. unlayered training: backprop through every forward step of the async engine (same Trainer)
    async_cfg = TrainConfig(epochs=1 if args.tiny else 5, lr=2e-3, seed=0, progress=not args.tiny)
    Trainer(net, encoder, async_cfg, runner=runner, spec=spec).fit(data)
    after = evaluate(net, encoder, data, runner=runner, seed=0)
    for name, r in (("sync-trained", before), ("then async-trained", after)):
        print(
            f"{name:>18}, async execution F={args.F}: accuracy {r.accuracy:.3f}, "
            f"{r.spikes_per_sample:.1f} spikes/sample, forward steps {r.stats.get('steps', float('nan')):.1f}"
        )


if __name__ == "__main__":
    main()
