"""Rebuild and evaluate a trained model from its checkpoint alone.

A training checkpoint's JSON holds the model spec (:func:`swiftspike.models.build_model`), the encoder,
the dataset (``meta``) and the training config; :func:`load_model` builds the model from the spec and
loads the weights, :func:`evaluate_checkpoint` evaluates it on the stored dataset's test split with the
stored seed and thread count -- the same evaluation the trainer reported after training, so the two
accuracies agree.
"""
from __future__ import annotations

import os
from typing import Any, Optional

from torch import nn

from ..data.encoders import SequenceEncoder, encoder_from_info
from ..devices import resolve_device, set_threads
from ..errors import SwiftSpikeError, check_positive_int
from ..metrics.report import Report
from ..models import build_model
from .checkpoint import load_checkpoint


def load_model(path: "str | os.PathLike", device: Any = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """``(model, checkpoint)``: the model rebuilt from the checkpoint's spec with its weights, on ``device``."""
    ck = load_checkpoint(path)
    spec = ck.get("spec")
    if not spec:
        raise SwiftSpikeError(f"checkpoint {path} has no model spec, so the model cannot be rebuilt from it "
                              "(it was not written by a Trainer given spec=...)")
    model = build_model(spec)
    try:
        model.load_state_dict(ck["model"])
    except (KeyError, RuntimeError) as e:
        raise SwiftSpikeError(f"checkpoint weights do not match its spec: {str(e).splitlines()[0]}") from None
    return model.to(resolve_device(device)).eval(), ck


def evaluate_checkpoint(path: "str | os.PathLike", data: Any = None, *, encoder: Optional[str] = None,
                        T: Optional[int] = None, seed: Optional[int] = None, batch_size: int = 256,
                        device: Any = "cpu", threads: Optional[int] = None, energy_table: str = "45nm-fp32",
                        progress_bar: bool = False) -> Report:
    """Evaluate checkpoint ``path`` on ``data`` (default: the test split of the dataset stored in it).

    ``encoder`` / ``T`` override the stored encoder; ``seed`` (default: the training seed) seeds the
    encoder noise; ``threads`` (default: the count the training ran with) sets the CPU threads."""
    from ..data.datasets import load_dataset
    from .trainer import evaluate

    if T is not None:
        check_positive_int(T, "T")
    model, ck = load_model(path, device)
    cfg, meta, run = ck.get("config") or {}, ck.get("meta") or {}, ck.get("run") or {}
    set_threads(threads if threads is not None else run.get("threads"))
    if data is None:
        data = load_dataset(meta.get("dataset", "digits"), path=meta.get("path"),
                            seed=meta.get("seed", cfg.get("seed", 0)), flatten=meta.get("flatten", True),
                            **meta.get("data_kwargs", {}))
    enc = encoder_from_info(ck.get("encoder") or {}, name=encoder, T=T)
    if getattr(data, "temporal", False):
        enc = SequenceEncoder(data.x_test.shape[1])
    report = evaluate(model, enc, data, batch_size=batch_size, seed=cfg.get("seed", 0) if seed is None else seed,
                      energy_table=energy_table, progress_bar=progress_bar)
    report.extra.update(checkpoint=str(path), dataset=getattr(data, "name", None), encoder=enc.name)
    return report
