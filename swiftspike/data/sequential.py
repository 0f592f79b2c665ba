"""Sequential (pixel-by-pixel) digits and time stretching for long-sequence evaluation.

* :func:`load_sequential_digits` -- scikit-learn's 8x8 digits read one pixel per time step in raster
  order: a temporal :class:`~swiftspike.data.datasets.Dataset` with ``x`` of shape ``[N, 64, 1]``
  (``name='seq-digits'``). A model must integrate 64 steps to classify.
* :func:`stretch_time` -- repeat every time step ``factor`` times (``[N, T, ...] -> [N, factor*T, ...]``):
  the same sample played ``factor`` times slower. Used to run a model trained at length ``L`` on
  sequences of length ``factor * L`` (``swiftspike train --eval-stretch 15``).
"""

from __future__ import annotations

import torch

from ..errors import SwiftSpikeError, check_positive_int, check_tensor
from .dataset import Dataset
from .digits import load_digits


def load_sequential_digits(seed: int = 0, test_fraction: float = 0.25) -> Dataset:
    """Digits as 64-step sequences of single pixel intensities in [0, 1] (``[N, 64, 1]``)."""
    d = load_digits(test_fraction=test_fraction, seed=seed, flatten=True)
    return Dataset(
        "seq-digits", d.x_train.unsqueeze(-1), d.y_train, d.x_test.unsqueeze(-1), d.y_test, d.n_classes, temporal=True
    )


def stretch_time(x: torch.Tensor, factor: int, *, time_dim: int = 1) -> torch.Tensor:
    """Repeat each step ``factor`` times along ``time_dim`` (batch-first ``[N, T, ...]`` by default)."""
    check_tensor(x, "sequence", min_ndim=2)
    check_positive_int(factor, "stretch factor")
    if time_dim < 0 or time_dim >= x.dim():
        raise SwiftSpikeError(f"time_dim {time_dim} is out of range for a tensor of shape {tuple(x.shape)}")
    return x.repeat_interleave(factor, dim=time_dim)
