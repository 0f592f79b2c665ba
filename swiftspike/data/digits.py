"""scikit-learn's bundled 8x8 digits."""

from __future__ import annotations

import numpy as np

from .dataset import Dataset, need_module, split_shuffled, to_dataset


def load_digits(test_fraction: float = 0.25, seed: int = 0, flatten: bool = True) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 samples, 10 classes), scaled to [0, 1]."""
    need_module("sklearn")
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    x = (d.data / 16.0).astype(np.float32)
    if not flatten:
        x = x.reshape(-1, 1, 8, 8)
    return to_dataset("digits", *split_shuffled(x, d.target, test_fraction, seed), 10)
