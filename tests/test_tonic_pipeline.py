"""A Tonic event pipeline (``ToFrame`` in a dataset, read by a DataLoader) trains a swiftspike model."""

import numpy as np
import pytest
import torch
from torch import nn

tonic = pytest.importorskip("tonic", reason="tonic (optional extra) is not installed")

from swiftspike import LIF, SNN
from swiftspike.data import NMNIST_DTYPE, make_encoder
from swiftspike.training import TrainConfig, Trainer, evaluate

SENSOR = (8, 8, 2)
T = 5


class TinyEvents:
    """A Tonic-style dataset written by the test: class 0 fires in the left half of the sensor, class 1 in
    the right half; items are ``(events, target)`` with an optional Tonic ``transform``."""

    def __init__(self, n: int, seed: int, transform=None) -> None:
        rng = np.random.default_rng(seed)
        self.samples = []
        for i in range(n):
            label = i % 2
            k = 60
            ev = np.zeros(k, dtype=NMNIST_DTYPE)
            ev["x"] = rng.integers(0, 4, k) + 4 * label
            ev["y"] = rng.integers(0, 8, k)
            ev["t"] = np.sort(rng.integers(0, 50_000, k))
            ev["p"] = rng.integers(0, 2, k)
            self.samples.append((ev, label))
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i):
        ev, label = self.samples[i]
        return (self.transform(ev) if self.transform else ev), label


def _to_float(frames):
    return torch.as_tensor(frames, dtype=torch.float32)


@pytest.mark.parametrize("as_loader", [True, False])
def test_tonic_toframe_pipeline_trains_a_swiftspike_model(as_loader):
    transform = tonic.transforms.Compose([tonic.transforms.ToFrame(sensor_size=SENSOR, n_time_bins=T), _to_float])
    train, test = TinyEvents(64, 0, transform), TinyEvents(32, 1, transform)
    x0, _ = train[0]
    assert tuple(x0.shape) == (T, 2, 8, 8)  # Tonic's [T, P, H, W] frames
    torch.manual_seed(0)
    net = SNN(nn.Flatten(), nn.Linear(128, 16), LIF(tau=4.0), nn.Linear(16, 2), LIF(tau=4.0))
    data = (
        torch.utils.data.DataLoader(train, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
        if as_loader
        else train
    )
    # the flatten runs per time step: frames [B, T, 2, 8, 8] -> sequence encoder -> [T, B, 2, 8, 8]
    trainer = Trainer(
        net,
        make_encoder("sequence", T),
        TrainConfig(epochs=6, lr=1e-2, batch_size=16, progress=False, device="cpu", threads=1),
    )
    hist = trainer.fit(data)
    assert hist[-1]["loss"] < hist[0]["loss"]
    rep = evaluate(net, make_encoder("sequence", T), test, batch_size=16)
    assert rep.accuracy >= 0.9 and rep.n_samples == 32


def test_tonic_dataset_into_memory_for_the_studies():
    from swiftspike.data import Dataset

    transform = tonic.transforms.Compose([tonic.transforms.ToFrame(sensor_size=SENSOR, n_time_bins=T), _to_float])
    d = Dataset.from_items("tiny-events", TinyEvents(10, 0, transform), TinyEvents(6, 1, transform))
    assert d.temporal and d.input_shape == (2, 8, 8) and d.n_classes == 2
    assert d.x_train.shape == (10, T, 2, 8, 8) and torch.equal(d.y_test, torch.tensor([0, 1] * 3))
    assert torch.equal(d.x_train[3], TinyEvents(10, 0, transform)[3][0])
