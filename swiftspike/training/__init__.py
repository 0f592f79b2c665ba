"""The one Trainer (hooks, devices, DataLoaders, DDP), losses, safe checkpoints, metric logs."""
from .checkpoint import (clean_stale_temps, convert_legacy_checkpoint, load_checkpoint, read_checkpoint_info,
                         save_checkpoint)
from .data import SeededBatchSampler, make_source
from .losses import LOSSES, ce_count_loss, ce_membrane_loss, ce_rate_loss, get_loss
from ..data.encoders import encoder_from_info, encoder_info
from .restore import evaluate_checkpoint, load_model
from .tracking import MetricsLogger
from .trainer import (TrainConfig, Trainer, batches, evaluate, forward_runner, logits_record, seed_everything,
                      spike_penalty, sync_runner)

__all__ = [
    "load_checkpoint", "save_checkpoint", "read_checkpoint_info", "convert_legacy_checkpoint", "clean_stale_temps",
    "SeededBatchSampler", "make_source", "LOSSES", "ce_count_loss", "ce_rate_loss", "ce_membrane_loss", "get_loss",
    "encoder_info", "encoder_from_info", "evaluate_checkpoint", "load_model", "MetricsLogger",
    "TrainConfig", "Trainer", "batches", "evaluate", "forward_runner", "logits_record", "seed_everything",
    "spike_penalty", "sync_runner",
]
