"""Encoders, datasets and event-file readers (never downloads)."""
from .datasets import DATASETS, Dataset, load_dataset, load_digits, split_shuffled
from .encoders import (
    DirectEncoder, Encoder, LatencyEncoder, RateEncoder, SequenceEncoder, delta_encode, direct_encode,
    latency_encode, make_encoder, rate_encode,
)

__all__ = [
    "DATASETS", "Dataset", "load_dataset", "load_digits", "split_shuffled",
    "Encoder", "RateEncoder", "LatencyEncoder", "DirectEncoder", "SequenceEncoder", "make_encoder",
    "rate_encode", "latency_encode", "direct_encode", "delta_encode",
]
