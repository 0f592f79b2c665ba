"""Surrogate-gradient BPTT training, losses and atomic checkpoints."""
from .checkpoint import load_checkpoint, save_checkpoint
from .losses import LOSSES, ce_count_loss, ce_membrane_loss, ce_rate_loss, get_loss
from .trainer import TrainConfig, Trainer, batches, evaluate, seed_everything, spike_penalty, sync_runner

__all__ = [
    "load_checkpoint", "save_checkpoint", "LOSSES", "ce_count_loss", "ce_rate_loss", "ce_membrane_loss",
    "get_loss", "TrainConfig", "Trainer", "batches", "evaluate", "seed_everything", "spike_penalty", "sync_runner",
]
