"""What :class:`~swiftspike.training.Trainer` and :func:`~swiftspike.training.evaluate` accept as data.

* a swiftspike :class:`~swiftspike.data.dataset.Dataset` (in memory; ``fit`` uses the train split,
  ``evaluate`` the test split) or a pair of tensors ``(x, y)``;
* any map-style ``torch.utils.data.Dataset`` (or other object with ``__len__``/``__getitem__``, such as a
  Tonic dataset) whose items are ``(x, y)`` -- read by a ``DataLoader`` with
  ``num_workers`` worker processes, so data larger than memory streams from disk;
* any ``DataLoader`` or other re-iterable of ``(x, y)`` batches, used as it is.

Batches are batch-first samples (``[B, ...]``, turned into time-major ``[T, B, ...]`` by the encoder) unless
the data is declared time-major (``batch_first=False``: ``[T, B, ...]`` batches go to the model as they are).

Order: in-memory data and map-style datasets are shuffled by :class:`SeededBatchSampler` -- the permutation
of epoch ``e`` is ``torch.randperm(n)`` drawn from a generator seeded with ``seed * 1_000_003 + e`` -- so a
resumed run follows the same trajectory and a ``DataLoader`` over the same samples gives the very same
batches as in-memory training. Under ``torch.distributed`` each global batch of ``batch_size`` samples is cut
into ``world_size`` consecutive shards, rank ``r`` taking shard ``r``; the global batches are those of a
one-process run. (``DistributedSampler`` instead pads the dataset with repeated samples and interleaves them,
which changes the global batches; a user ``DataLoader`` built with it is supported, see ``set_epoch``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from ..data.dataset import Dataset
from ..errors import SwiftSpikeError

EPOCH_SEED = 1_000_003


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of epoch ``epoch``'s shuffling permutation."""
    return torch.Generator().manual_seed(seed * EPOCH_SEED + epoch)


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, generator: torch.Generator | None = None):
    """Yield ``(xb, yb)`` mini-batches, shuffled with ``generator`` when given."""
    n = len(x)
    idx = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for i in range(0, n, batch_size):
        j = idx[i : i + batch_size]
        yield x[j], y[j]


def shard_bounds(n: int, rank: int, world_size: int) -> tuple[int, int]:
    """``[start, stop)`` of rank ``rank``'s consecutive shard of ``n`` items (sizes differ by at most one)."""
    base, extra = divmod(n, world_size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


class SeededBatchSampler(torch.utils.data.Sampler):
    """Batches of indices in the seeded order of epoch ``set_epoch(e)`` (see module docstring); with
    ``world_size > 1`` only rank ``rank``'s shard of every global batch. A final global batch with fewer
    samples than ranks is dropped (every rank must take part in every step)."""

    def __init__(
        self, n: int, batch_size: int, seed: int = 0, *, shuffle: bool = True, rank: int = 0, world_size: int = 1
    ) -> None:
        self.n, self.batch_size, self.seed, self.shuffle = int(n), int(batch_size), int(seed), shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def global_batches(self) -> Iterator[torch.Tensor]:
        idx = (
            torch.randperm(self.n, generator=epoch_generator(self.seed, self.epoch))
            if self.shuffle
            else torch.arange(self.n)
        )
        for i in range(0, self.n, self.batch_size):
            b = idx[i : i + self.batch_size]
            if len(b) < self.world_size:
                return
            yield b

    def __iter__(self) -> Iterator[list[int]]:
        for b in self.global_batches():
            a, z = shard_bounds(len(b), self.rank, self.world_size)
            yield b[a:z].tolist()

    def __len__(self) -> int:
        full, rest = divmod(self.n, self.batch_size)
        return full + (rest >= self.world_size and rest > 0)


@dataclass
class Batch:
    """One step's data: ``x`` (batch-first samples, or time-major when the source says so), ``y``, and
    ``shard``: the ``[start, stop)`` rows of the encoded batch this rank trains on (``None``: all)."""

    x: torch.Tensor
    y: torch.Tensor
    shard: tuple[int, int] | None = None


def _is_map_dataset(obj: Any) -> bool:
    """A torch map-style ``Dataset``, or any object with ``__len__`` and ``__getitem__`` that is not itself a
    container of data (e.g. a Tonic dataset, which is not a ``torch.utils.data.Dataset`` subclass)."""
    if isinstance(obj, torch.utils.data.IterableDataset):
        return False
    if isinstance(obj, (torch.Tensor, str, bytes, tuple, list, dict)) or type(obj).__module__ == "numpy":
        return False
    return hasattr(obj, "__len__") and hasattr(obj, "__getitem__")


class Source:
    """Per-epoch batches of one kind of data (built by :func:`make_source`)."""

    def epoch(self, epoch: int) -> Iterator[Batch]:  # pragma: no cover - overridden
        raise NotImplementedError

    def __len__(self) -> int:  # number of steps per epoch, when known
        raise TypeError("unknown length")


class TensorSource(Source):
    """In-memory tensors. Under DDP every rank draws the whole global batch (so a stochastic encoder sees
    the same noise as in one process) and trains on its shard of it."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        seed: int,
        shuffle: bool,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if len(x) != len(y):
            raise SwiftSpikeError(f"inputs and targets differ in length ({len(x)} != {len(y)})")
        if len(x) == 0:
            raise SwiftSpikeError("the data is empty")
        self.x, self.y = x, y
        self.sampler = SeededBatchSampler(len(x), batch_size, seed, shuffle=shuffle, rank=rank, world_size=world_size)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        self.sampler.set_epoch(epoch)
        ws = self.sampler.world_size
        for b in self.sampler.global_batches():
            yield Batch(self.x[b], self.y[b], shard_bounds(len(b), self.sampler.rank, ws) if ws > 1 else None)

    def __len__(self) -> int:
        return len(self.sampler)


class LoaderSource(Source):
    """A ``DataLoader`` (built here over a map-style dataset, or the user's own) or any re-iterable."""

    def __init__(self, loader: Iterable, sampler: Any | None = None) -> None:
        self.loader = loader
        self.sampler = sampler

    def epoch(self, epoch: int) -> Iterator[Batch]:
        for s in (self.sampler, getattr(self.loader, "sampler", None), getattr(self.loader, "batch_sampler", None)):
            if s is not None and hasattr(s, "set_epoch"):
                s.set_epoch(epoch)
        it = iter(self.loader)
        if epoch > 0 and it is self.loader:
            raise SwiftSpikeError(
                "the data is a one-shot iterator, used up after one epoch; pass a DataLoader, "
                "a list of batches or another re-iterable"
            )
        return self._batches(it)

    @staticmethod
    def _batches(it: Iterator) -> Iterator[Batch]:
        for item in it:
            if not isinstance(item, (tuple, list)) or len(item) < 2:
                raise SwiftSpikeError(f"every batch must be a pair (x, y), got {type(item).__name__}")
            x, y = item[0], item[1]
            if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
                x, y = torch.as_tensor(x), torch.as_tensor(y)
            yield Batch(x, y)

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]


def make_source(
    data: Any,
    *,
    split: str = "train",
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    num_workers: int = 0,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
) -> Source:
    """The :class:`Source` for ``data`` (see module docstring); ``split`` picks a swiftspike Dataset's split."""
    if isinstance(data, Dataset):
        x, y = (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
        return TensorSource(x, y, batch_size, seed, shuffle, rank, world_size)
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        return TensorSource(data[0], data[1], batch_size, seed, shuffle, rank, world_size)
    if isinstance(data, torch.utils.data.DataLoader):
        return LoaderSource(data)
    if _is_map_dataset(data):
        n = len(data)
        if n == 0:
            raise SwiftSpikeError("the dataset is empty")
        sampler = SeededBatchSampler(n, batch_size, seed, shuffle=shuffle, rank=rank, world_size=world_size)
        # the loader's own generator keeps its worker seeds off the global RNG (encoder noise stays aligned)
        loader = torch.utils.data.DataLoader(
            data,
            batch_sampler=sampler,
            num_workers=num_workers,
            pin_memory=pin_memory,
            persistent_workers=num_workers > 0,
            generator=torch.Generator().manual_seed(seed),
        )
        return LoaderSource(loader, sampler)
    if isinstance(data, torch.utils.data.IterableDataset):
        return LoaderSource(
            torch.utils.data.DataLoader(data, batch_size=batch_size, num_workers=num_workers, pin_memory=pin_memory)
        )
    if isinstance(data, Iterable) and not isinstance(data, (str, bytes, torch.Tensor)):
        return LoaderSource(data)
    raise SwiftSpikeError(
        f"cannot train or evaluate on a {type(data).__name__}: pass a swiftspike Dataset, a "
        "pair of tensors (x, y), a torch Dataset of (x, y) items or a DataLoader of (x, y) batches"
    )
