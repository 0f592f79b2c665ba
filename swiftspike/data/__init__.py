"""Encoders, datasets and event-file readers (never downloads)."""

from .dataset import Dataset, split_shuffled
from .datasets import DATASETS, load_dataset
from .digits import load_digits
from .dvs import DVSGestureDataset, dvs_frames, list_dvs_gesture, load_dvs_gesture, read_dvs_gesture_npy
from .emulator import EMULATED, emulate, emulate_frames, load_emulated
from .encoders import (
    DirectEncoder,
    Encoder,
    LatencyEncoder,
    RateEncoder,
    SequenceEncoder,
    delta_encode,
    direct_encode,
    latency_encode,
    make_encoder,
    rate_encode,
)
from .events import (
    DVS_GESTURE_DTYPE,
    EVENT_DTYPE,
    NMNIST_DTYPE,
    SHD_DTYPE,
    EventDataset,
    ToFrames,
    downsample_events,
    events_to_frames,
    make_events,
    stack_frames,
)
from .idx import read_idx
from .mnist import load_fashion_mnist, load_mnist5k
from .nmnist import NMNISTDataset, decode_nmnist, list_nmnist, load_nmnist, nmnist_frames, read_nmnist_file
from .randman import RANDMAN_DEFAULTS, RandomManifold, load_randman, make_randman, randman_to_dense
from .shd import SHDDataset, load_shd, read_shd, shd_frames

__all__ = [
    "DATASETS",
    "DVS_GESTURE_DTYPE",
    "EMULATED",
    "EVENT_DTYPE",
    "NMNIST_DTYPE",
    "RANDMAN_DEFAULTS",
    "SHD_DTYPE",
    "DVSGestureDataset",
    "Dataset",
    "DirectEncoder",
    "Encoder",
    "EventDataset",
    "LatencyEncoder",
    "NMNISTDataset",
    "RandomManifold",
    "RateEncoder",
    "SHDDataset",
    "SequenceEncoder",
    "ToFrames",
    "decode_nmnist",
    "delta_encode",
    "direct_encode",
    "downsample_events",
    "dvs_frames",
    "emulate",
    "emulate_frames",
    "events_to_frames",
    "latency_encode",
    "list_dvs_gesture",
    "list_nmnist",
    "load_dataset",
    "load_digits",
    "load_dvs_gesture",
    "load_emulated",
    "load_fashion_mnist",
    "load_mnist5k",
    "load_nmnist",
    "load_randman",
    "load_shd",
    "make_encoder",
    "make_events",
    "make_randman",
    "nmnist_frames",
    "randman_to_dense",
    "rate_encode",
    "read_dvs_gesture_npy",
    "read_idx",
    "read_nmnist_file",
    "read_shd",
    "shd_frames",
    "split_shuffled",
    "stack_frames",
]
