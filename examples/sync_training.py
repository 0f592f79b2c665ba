"""Layer-synchronous SNN training (capability 1): train an LIF network on scikit-learn digits with the
one Trainer, save a safe checkpoint, evaluate it, and rebuild the model from the checkpoint alone.

    python examples/sync_training.py            # ~20 epochs, about a minute on one core
    python examples/sync_training.py --tiny     # a few seconds (what CI runs)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from swiftspike.data import load_dataset, make_encoder
from swiftspike.models import build_model, default_spec
from swiftspike.training import TrainConfig, Trainer, evaluate_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="CI size: few samples, 2 epochs")
    ap.add_argument("--checkpoint", default="runs/examples/sync.safetensors")
    args = ap.parse_args()

    data = load_dataset("digits", flatten=True)  # bundled with scikit-learn, never downloaded
    if args.tiny:
        data = data.subset(n_train=200, n_test=100)
    spec = default_spec(data.input_shape, data.n_classes, hidden=[32 if args.tiny else 128])
    config = TrainConfig(
        epochs=2 if args.tiny else 20, lr=3e-3, seed=0, checkpoint=args.checkpoint, progress=not args.tiny
    )
    trainer = Trainer(build_model(spec), make_encoder("rate", 8), config, spec=spec, meta={"dataset": "digits"})
    history = trainer.fit(data)  # one record per epoch, also written to *.metrics.jsonl beside the checkpoint
    print(f"last epoch: loss {history[-1]['loss']:.4f}, train accuracy {history[-1]['train_accuracy']:.3f}")

    report = trainer.evaluate(data)  # the test split; encoder noise seeded from config.seed
    print(report.table())

    # the checkpoint holds the model spec, weights and encoder: evaluation needs nothing else
    again = evaluate_checkpoint(Path(args.checkpoint), data)
    print(f"accuracy after training {report.accuracy:.4f}, from the checkpoint {again.accuracy:.4f}")
    assert again.accuracy == report.accuracy


if __name__ == "__main__":
    main()
