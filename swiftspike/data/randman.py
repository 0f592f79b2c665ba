"""Random manifold (randman) spike-timing datasets after Zenke & Vogels (2021, Neural Computation 33(4)).

A random manifold of dimension ``d`` embedded in ``D`` dimensions is, per output coordinate
``j`` and intrinsic coordinate ``i``, a smooth random Fourier series

    f_{j,i}(u) = sum_{k=0}^{F-1} a_{j,i,k} s_k sin(2 pi (k u b_{j,i,k} + c_{j,i,k})),
    s_k = 1 / ((k + 1)^alpha + 1),        F = min(ceil(p^(-1/alpha)), 1000),  p = 1e-3,

with ``a, b, c ~ U[0, 1]`` (``a_{j,i,0} = 0`` unless ``use_bias``), and the manifold point of
``x in [0, 1]^d`` is ``y_j(x) = prod_i f_{j,i}(x_i)``. Larger ``alpha`` makes smoother manifolds.

Spiking classification set: every class ``c`` (and every spike index ``s``) has its own manifold;
``n_samples`` points ``x ~ U[0,1]^d`` are drawn per class, ``y`` is min-max normalised per unit
over the class's samples, and unit ``j`` spikes at time ``y_j * n_steps * step_frac``. Every unit
fires exactly ``n_spikes`` times, so only the relative spike timing carries the class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SwiftSpikeError, check_positive, check_positive_int
from .dataset import Dataset, split_shuffled, to_dataset


def n_fourier_terms(alpha: float, precision: float = 1e-3, max_terms: int = 1000) -> int:
    """``F = min(ceil(precision^(-1/alpha)), max_terms)`` (32 for alpha = 2)."""
    return int(min(math.ceil(precision ** (-1.0 / alpha)), max_terms))


def spectrum(n_terms: int, alpha: float) -> np.ndarray:
    """Fourier amplitudes ``s_k = 1 / ((k + 1)^alpha + 1)`` for ``k = 0..n_terms-1``."""
    k = np.arange(n_terms, dtype=np.float64)
    return 1.0 / ((k + 1.0) ** alpha + 1.0)


@dataclass
class RandomManifold:
    """A ``dim_manifold``-dimensional smooth random manifold embedded in ``dim_embedding`` dimensions.

    ``theta`` has shape ``[D, d, 3, F]`` holding amplitude ``a``, frequency factor ``b`` and phase ``c``.
    """

    theta: np.ndarray
    alpha: float

    @classmethod
    def random(
        cls,
        dim_embedding: int,
        dim_manifold: int,
        alpha: float = 2.0,
        *,
        seed: int = 0,
        use_bias: bool = False,
        precision: float = 1e-3,
        max_terms: int = 1000,
    ) -> RandomManifold:
        check_positive_int(dim_embedding, "dim_embedding")
        check_positive_int(dim_manifold, "dim_manifold")
        check_positive(alpha, "alpha")
        F = n_fourier_terms(alpha, precision, max_terms)
        theta = np.random.default_rng(seed).random((dim_embedding, dim_manifold, 3, F))
        if not use_bias:
            theta[:, :, 0, 0] = 0.0
        return cls(theta, float(alpha))

    @property
    def dim_embedding(self) -> int:
        return self.theta.shape[0]

    @property
    def dim_manifold(self) -> int:
        return self.theta.shape[1]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Map points ``x [N, d]`` in [0, 1]^d to ``y [N, D]`` with ``y_j = prod_i f_{j,i}(x_i)``."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim_manifold:
            raise SwiftSpikeError(f"manifold points must have shape [N, {self.dim_manifold}], got {x.shape}")
        F = self.theta.shape[-1]
        k = np.arange(F, dtype=np.float64)
        s = spectrum(F, self.alpha)
        y = np.ones((x.shape[0], self.dim_embedding))
        for i in range(self.dim_manifold):
            a, b, c = self.theta[:, i, 0], self.theta[:, i, 1], self.theta[:, i, 2]  # [D, F] each
            phase = 2 * np.pi * (x[:, i, None, None] * (k * b)[None] + c[None])  # [N, D, F]
            y *= np.einsum("ndf,df->nd", np.sin(phase), a * s)
        return y


def _minmax(y: np.ndarray) -> np.ndarray:
    lo, hi = y.min(axis=0, keepdims=True), y.max(axis=0, keepdims=True)
    return (y - lo) / np.maximum(hi - lo, 1e-12)


def make_randman(
    n_classes: int = 10,
    n_units: int = 100,
    n_steps: int = 100,
    dim_manifold: int = 2,
    alpha: float = 2.0,
    n_spikes: int = 1,
    n_samples: int = 1000,
    step_frac: float = 1.0,
    seed: int = 0,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate a spiking randman classification set.

    Returns ``events [N, n_units * n_spikes, 2]`` (float spike time in steps, unit index) and
    ``labels [N]`` with ``N = n_classes * n_samples``; each unit spikes ``n_spikes`` times per sample,
    at times in ``[0, n_steps * step_frac]``. Deterministic for a given ``seed``.
    """
    for v, n in (
        (n_classes, "n_classes"),
        (n_units, "n_units"),
        (n_steps, "n_steps"),
        (dim_manifold, "dim_manifold"),
        (n_spikes, "n_spikes"),
        (n_samples, "n_samples"),
    ):
        check_positive_int(v, n)
    check_positive(alpha, "alpha")
    if not 0 < float(step_frac) <= 1:
        raise SwiftSpikeError(f"step_frac must be in (0, 1], got {step_frac!r}")
    rng = np.random.default_rng(seed)
    manifold_seeds = rng.integers(0, 2**63 - 1, size=(n_classes, n_spikes))
    units = np.tile(np.arange(n_units, dtype=np.float64), n_spikes)
    events, labels = [], []
    for c in range(n_classes):
        x = rng.random((n_samples, dim_manifold))
        times = [
            _minmax(RandomManifold.random(n_units, dim_manifold, alpha, seed=int(manifold_seeds[c, s]))(x))
            for s in range(n_spikes)
        ]
        t = np.concatenate(times, axis=1) * (n_steps * step_frac)
        events.append(np.stack([t, np.broadcast_to(units, t.shape)], axis=2))
        labels.append(np.full(n_samples, c, dtype=np.int64))
    ev, lab = np.concatenate(events), np.concatenate(labels)
    if shuffle:
        order = rng.permutation(len(lab))
        ev, lab = ev[order], lab[order]
    return ev, lab


def randman_to_dense(events: np.ndarray, n_units: int, n_steps: int) -> np.ndarray:
    """Bin ``events [N, K, 2]`` (time, unit) into spike counts ``[N, n_steps, n_units]`` (float32).

    A spike at time ``t`` lands in step ``min(floor(t), n_steps - 1)``, so the spike of the
    largest manifold value (``t = n_steps`` when ``step_frac = 1``) goes to the last step.
    """
    check_positive_int(n_units, "n_units")
    check_positive_int(n_steps, "n_steps")
    ev = np.asarray(events)
    if ev.ndim != 3 or ev.shape[2] != 2:
        raise SwiftSpikeError(f"randman events must have shape [N, K, 2], got {ev.shape}")
    if not np.isfinite(ev).all() or (ev[..., 0] < 0).any():
        raise SwiftSpikeError("randman events must have finite, non-negative spike times")
    N = ev.shape[0]
    step = np.minimum(np.floor(ev[..., 0]).astype(np.int64), n_steps - 1)
    unit = ev[..., 1].astype(np.int64)
    if (unit < 0).any() or (unit >= n_units).any():
        raise SwiftSpikeError(f"randman event unit indices must be in 0..{n_units - 1}")
    flat = (np.arange(N)[:, None] * n_steps + step) * n_units + unit
    counts = np.bincount(flat.ravel(), minlength=N * n_steps * n_units)
    return counts.reshape(N, n_steps, n_units).astype(np.float32)


#: Defaults of ``load_dataset('randman')``: small enough that an MLP SNN learns it in about a minute.
RANDMAN_DEFAULTS = dict(
    n_classes=5, n_units=40, n_steps=50, dim_manifold=1, alpha=2.0, n_spikes=1, n_samples=300, step_frac=1.0
)


def load_randman(seed: int = 0, test_fraction: float = 0.2, *, data_seed: int | None = None, **params) -> Dataset:
    """A dense randman set: ``x [N, T, n_units]`` spike counts, ``temporal=True``.

    ``params`` override :data:`RANDMAN_DEFAULTS` (any :func:`make_randman` argument). The manifolds
    come from ``data_seed`` (default: ``seed``); the train/test split is shuffled with ``seed``.
    """
    unknown = sorted(set(params) - set(RANDMAN_DEFAULTS))
    if unknown:
        raise SwiftSpikeError(
            f"unknown randman parameter(s) {', '.join(unknown)}; choose from: {', '.join(RANDMAN_DEFAULTS)}"
        )
    p = {**RANDMAN_DEFAULTS, **params}
    ev, y = make_randman(**p, seed=seed if data_seed is None else data_seed)
    x = randman_to_dense(ev, p["n_units"], p["n_steps"])
    return to_dataset("randman", *split_shuffled(x, y, test_fraction, seed), p["n_classes"], temporal=True)
