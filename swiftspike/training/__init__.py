"""The one Trainer (hooks, devices, DataLoaders, DDP), losses, safe checkpoints, metric logs."""

from ..data.encoders import encoder_from_info, encoder_info
from .checkpoint import (
    clean_stale_temps,
    convert_legacy_checkpoint,
    load_checkpoint,
    read_checkpoint_info,
    save_checkpoint,
)
from .data import SeededBatchSampler, make_source
from .losses import LOSSES, ce_count_loss, ce_membrane_loss, ce_rate_loss, get_loss
from .restore import evaluate_checkpoint, load_model
from .tracking import MetricsLogger
from .trainer import (
    TrainConfig,
    Trainer,
    batches,
    evaluate,
    forward_runner,
    logits_record,
    seed_everything,
    spike_penalty,
    sync_runner,
)

__all__ = [
    "LOSSES",
    "MetricsLogger",
    "SeededBatchSampler",
    "TrainConfig",
    "Trainer",
    "batches",
    "ce_count_loss",
    "ce_membrane_loss",
    "ce_rate_loss",
    "clean_stale_temps",
    "convert_legacy_checkpoint",
    "encoder_from_info",
    "encoder_info",
    "evaluate",
    "evaluate_checkpoint",
    "forward_runner",
    "get_loss",
    "load_checkpoint",
    "load_model",
    "logits_record",
    "make_source",
    "read_checkpoint_info",
    "save_checkpoint",
    "seed_everything",
    "spike_penalty",
    "sync_runner",
]
