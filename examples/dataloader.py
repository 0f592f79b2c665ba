"""Training from a DataLoader (workflow): any map-style torch Dataset streams through the Trainer, so data larger
than memory never has to be loaded at once. Here a Dataset turns digit images into event-camera streams on the
fly (the emulator; an emulation, not N-MNIST) and bins them into frames with ToFrames -- the same kind of
transform a Tonic pipeline gives. Then: DataLoader training equals in-memory training for the same order.

    python examples/dataloader.py          # about a minute on one core
    python examples/dataloader.py --tiny   # seconds (what CI runs)
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.data import DataLoader, TensorDataset

from swiftspike.data import ToFrames, emulate, load_dataset, make_encoder
from swiftspike.models import build_model, default_spec
from swiftspike.training import SeededBatchSampler, TrainConfig, Trainer


class EventDigits(torch.utils.data.Dataset):
    """Item i: (frames [T, 2, 34, 34], label), made when it is read (nothing is held in memory)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels
        self.to_frames = ToFrames((34, 34, 2), n_bins=5, t_end=100_000)  # the first saccade, 20 ms frames

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        (events,) = emulate(self.images[i : i + 1], n_saccades=1)  # structured array (t, x, y, p)
        return self.to_frames(events), int(self.labels[i])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="CI size")
    args = ap.parse_args()
    digits = load_dataset("digits").subset(*((96, 48) if args.tiny else (1000, 300)))  # [N, 1, 8, 8]

    # 1. a streaming Dataset of event frames through a DataLoader (batch-first [B, T, 2, 34, 34])
    train, test = EventDigits(digits.x_train, digits.y_train), EventDigits(digits.x_test, digits.y_test)
    loader = DataLoader(train, batch_size=32, shuffle=True, num_workers=0 if args.tiny else 2)
    spec = default_spec((2, 34, 34), 10, hidden=[64])
    cfg = TrainConfig(epochs=1 if args.tiny else 5, lr=3e-3, seed=0, progress=not args.tiny)
    trainer = Trainer(build_model(spec), make_encoder("sequence", 5), cfg, spec=spec)
    trainer.fit(loader)
    print(f"event frames from a DataLoader: test accuracy {trainer.evaluate(test).accuracy:.3f}")

    # 2. the same samples in the Trainer's seeded order give exactly the weights of in-memory training
    flat = digits.x_train.flatten(1)

    def train_on(data) -> list[torch.Tensor]:
        torch.manual_seed(0)
        model = build_model(default_spec((64,), 10, hidden=[32]))
        Trainer(model, make_encoder("rate", 4), TrainConfig(epochs=2, batch_size=32, seed=0, progress=False)).fit(data)
        return [p.detach().clone() for p in model.parameters()]

    in_memory = train_on((flat, digits.y_train))
    ds = TensorDataset(flat, digits.y_train)
    streamed = train_on(DataLoader(ds, batch_sampler=SeededBatchSampler(len(ds), 32, seed=0)))
    same = all(torch.equal(a, b) for a, b in zip(in_memory, streamed))
    print(f"DataLoader in the seeded order == in-memory training: {same}")
    assert same


if __name__ == "__main__":
    main()
