"""Encoders, datasets and event-file readers (never downloads)."""
from .datasets import DATASETS, Dataset, load_dataset, load_digits, split_shuffled
from .encoders import (
    DirectEncoder, Encoder, LatencyEncoder, RateEncoder, SequenceEncoder, delta_encode, direct_encode,
    latency_encode, make_encoder, rate_encode,
)
from .idx import read_idx
from .mnist import load_fashion_mnist, load_mnist5k
from .randman import RANDMAN_DEFAULTS, RandomManifold, load_randman, make_randman, randman_to_dense

__all__ = [
    "DATASETS", "Dataset", "load_dataset", "load_digits", "split_shuffled",
    "Encoder", "RateEncoder", "LatencyEncoder", "DirectEncoder", "SequenceEncoder", "make_encoder",
    "rate_encode", "latency_encode", "direct_encode", "delta_encode",
    "read_idx", "load_mnist5k", "load_fashion_mnist",
    "RANDMAN_DEFAULTS", "RandomManifold", "make_randman", "randman_to_dense", "load_randman",
]
