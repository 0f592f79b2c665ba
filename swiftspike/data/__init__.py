"""Encoders, datasets and event-file readers (never downloads)."""
from .dataset import Dataset, split_shuffled
from .datasets import DATASETS, load_dataset
from .digits import load_digits
from .encoders import (
    DirectEncoder, Encoder, LatencyEncoder, RateEncoder, SequenceEncoder, delta_encode, direct_encode,
    latency_encode, make_encoder, rate_encode,
)
from .dvs import DVSGestureDataset, dvs_frames, list_dvs_gesture, load_dvs_gesture, read_dvs_gesture_npy
from .events import (
    DVS_GESTURE_DTYPE, EVENT_DTYPE, NMNIST_DTYPE, SHD_DTYPE, EventDataset, ToFrames, downsample_events,
    events_to_frames, make_events, stack_frames,
)
from .emulator import EMULATED, emulate, emulate_frames, load_emulated
from .idx import read_idx
from .nmnist import NMNISTDataset, decode_nmnist, list_nmnist, load_nmnist, nmnist_frames, read_nmnist_file
from .mnist import load_fashion_mnist, load_mnist5k
from .randman import RANDMAN_DEFAULTS, RandomManifold, load_randman, make_randman, randman_to_dense
from .shd import SHDDataset, load_shd, read_shd, shd_frames

__all__ = [
    "DATASETS", "Dataset", "load_dataset", "load_digits", "split_shuffled",
    "Encoder", "RateEncoder", "LatencyEncoder", "DirectEncoder", "SequenceEncoder", "make_encoder",
    "rate_encode", "latency_encode", "direct_encode", "delta_encode",
    "read_idx", "load_mnist5k", "load_fashion_mnist",
    "RANDMAN_DEFAULTS", "RandomManifold", "make_randman", "randman_to_dense", "load_randman",
    "EVENT_DTYPE", "SHD_DTYPE", "NMNIST_DTYPE", "DVS_GESTURE_DTYPE", "make_events", "events_to_frames",
    "stack_frames", "downsample_events", "ToFrames", "EventDataset",
    "read_shd", "load_shd", "shd_frames", "SHDDataset",
    "decode_nmnist", "read_nmnist_file", "list_nmnist", "load_nmnist", "nmnist_frames", "NMNISTDataset",
    "read_dvs_gesture_npy", "list_dvs_gesture", "load_dvs_gesture", "dvs_frames", "DVSGestureDataset",
    "EMULATED", "emulate", "emulate_frames", "load_emulated",
]
