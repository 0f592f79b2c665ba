"""The in-memory dataset type and the small helpers every loader shares. Nothing here ever downloads.

:class:`Dataset` holds train/test tensors. Static image sets hold ``x`` as ``[N, C, H, W]`` or
``[N, F]`` floats in [0, 1]; temporal sets (``temporal=True``) hold dense ``[N, T, ...]`` sequences.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import SwiftSpikeError


@dataclass
class Dataset:
    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    temporal: bool = False

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample (one time step for temporal sets)."""
        return tuple(self.x_train.shape[2:] if self.temporal else self.x_train.shape[1:])

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> Dataset:
        return Dataset(
            self.name,
            self.x_train[:n_train],
            self.y_train[:n_train],
            self.x_test[:n_test],
            self.y_test[:n_test],
            self.n_classes,
            self.temporal,
        )

    @classmethod
    def from_items(
        cls, name: str, train: Any, test: Any, *, n_classes: int | None = None, temporal: bool = True
    ) -> Dataset:
        """Read every ``(x, y)`` item of two map-style datasets (torch, Tonic with a ``ToFrame`` transform,
        swiftspike's lazy event datasets) into memory, for the studies that work on in-memory data.
        ``temporal``: items are ``[T, ...]`` sequences (frames); ``n_classes`` defaults to ``max(y) + 1``."""

        def stack(items: Any, split: str) -> tuple[torch.Tensor, torch.Tensor]:
            if len(items) == 0:
                raise SwiftSpikeError(f"the {split} dataset is empty")
            xs, ys = zip(*(items[i] for i in range(len(items))))
            try:
                x = torch.stack([torch.as_tensor(np.asarray(v), dtype=torch.float32) for v in xs])
            except RuntimeError as e:
                raise SwiftSpikeError(
                    f"the {split} items differ in shape ({e}); bin events into frames of one "
                    "size first (e.g. tonic.transforms.ToFrame with n_time_bins)"
                ) from None
            return x, torch.as_tensor([int(v) for v in ys], dtype=torch.long)

        xtr, ytr = stack(train, "train")
        xte, yte = stack(test, "test")
        n = int(max(int(ytr.max()), int(yte.max())) + 1) if n_classes is None else int(n_classes)
        return cls(name, xtr, ytr, xte, yte, n, temporal)


def split_shuffled(
    x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle with ``seed`` and split off the last ``test_fraction`` as test set."""
    if not 0 < test_fraction < 1:
        raise SwiftSpikeError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))
    n_test = round(len(x) * float(test_fraction))
    tr, te = idx[n_test:], idx[:n_test]
    return x[tr], y[tr], x[te], y[te]


def to_dataset(name, xtr, ytr, xte, yte, n_classes, temporal=False) -> Dataset:
    f = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)
    lab = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.long)
    return Dataset(name, f(xtr), lab(ytr), f(xte), lab(yte), n_classes, temporal)


def need_module(module: str, extra: str = "data"):
    try:
        return __import__(module)
    except ImportError:
        raise SwiftSpikeError(
            f"this dataset needs the optional package {module!r}: pip install 'swiftspike[{extra}]'"
        ) from None
