"""Rebuild and evaluate a trained model from its checkpoint alone.

A training checkpoint's JSON holds the model spec (:func:`swiftspike.models.build_model`), the encoder,
the dataset (``meta``) and the training config; :func:`load_model` builds the model from the spec and
loads the weights, :func:`evaluate_checkpoint` evaluates it on the stored dataset's test split with the
stored seed and thread count -- the same evaluation the trainer reported after training, so the two
accuracies agree.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from torch import nn

from ..data.encoders import Encoder, SequenceEncoder, encoder_from_info
from ..devices import resolve_device, set_threads
from ..errors import SwiftSpikeError, check_positive_int
from ..metrics.report import Report
from ..models import build_model
from .checkpoint import load_checkpoint


def load_model(
    path: str | os.PathLike, device: Any = "cpu", *, build: Callable[[dict[str, Any]], nn.Module] = build_model
) -> tuple[nn.Module, dict[str, Any]]:
    """``(model, checkpoint)``: the model rebuilt from the checkpoint's spec by ``build`` (default
    :func:`swiftspike.models.build_model`; networks imported from NIR need
    :func:`swiftspike.interop.checkpoints.build_from_spec`) with its weights, on ``device``."""
    ck = load_checkpoint(path)
    spec = ck.get("spec")
    if not spec:
        raise SwiftSpikeError(
            f"checkpoint {path} has no model spec, so the model cannot be rebuilt from it "
            "(it was not written by a Trainer given spec=...)"
        )
    model = build(spec)
    try:
        model.load_state_dict(ck["model"])
    except (KeyError, RuntimeError) as e:
        raise SwiftSpikeError(f"checkpoint weights do not match its spec: {str(e).splitlines()[0]}") from None
    return model.to(resolve_device(device)).eval(), ck


def checkpoint_data(
    ck: dict[str, Any], dataset: str | None = None, data_path: str | None = None, *, where: str = "the checkpoint"
) -> Any:
    """The dataset a checkpoint (its JSON part) was trained on, loaded with the stored split seed and options
    (``dataset`` / ``data_path`` override the stored name and path)."""
    from ..data.datasets import load_dataset

    cfg, meta = ck.get("config") or {}, ck.get("meta") or {}
    name = dataset or meta.get("dataset")
    if name is None:
        raise SwiftSpikeError(f"{where} names no dataset; give one (dataset=..., --dataset)")
    return load_dataset(
        name,
        path=data_path or meta.get("path"),
        seed=meta.get("seed", cfg.get("seed", 0)),
        flatten=meta.get("flatten", True),
        **meta.get("data_kwargs", {}),
    )


def checkpoint_encoder(
    ck: dict[str, Any], data: Any = None, *, encoder: str | None = None, T: int | None = None
) -> Encoder:
    """The checkpoint's encoder (``encoder`` / ``T`` override it); temporal data is used as it is."""
    if getattr(data, "temporal", False):
        return SequenceEncoder(data.x_test.shape[1])
    return encoder_from_info(ck.get("encoder") or {}, name=encoder, T=T)


def evaluate_checkpoint(
    path: str | os.PathLike,
    data: Any = None,
    *,
    encoder: str | None = None,
    T: int | None = None,
    seed: int | None = None,
    batch_size: int = 256,
    device: Any = "cpu",
    threads: int | None = None,
    energy_table: str = "45nm-fp32",
    progress_bar: bool = False,
    dataset: str | None = None,
    data_path: str | None = None,
    precision: str = "float32",
    compile: bool = False,
    build: Callable[[dict[str, Any]], nn.Module] = build_model,
) -> Report:
    """Evaluate checkpoint ``path`` on ``data`` (default: the test split of the dataset stored in it, or of
    ``dataset`` / ``data_path`` when given, loaded with the stored split seed and options).

    ``encoder`` / ``T`` override the stored encoder; ``seed`` (default: the training seed) seeds the
    encoder noise; ``threads`` (default: the count the training ran with) sets the CPU threads;
    ``precision`` / ``compile`` as in :class:`~swiftspike.training.TrainConfig`; ``build`` rebuilds the
    model from its spec (see :func:`load_model`)."""
    from ..devices import compile_layers
    from .trainer import evaluate

    if T is not None:
        check_positive_int(T, "T")
    model, ck = load_model(path, device, build=build)
    cfg, run = ck.get("config") or {}, ck.get("run") or {}
    set_threads(threads if threads is not None else run.get("threads"))
    if data is None:
        data = checkpoint_data(ck, dataset, data_path, where=str(path))
    enc = checkpoint_encoder(ck, data, encoder=encoder, T=T)
    if compile:
        compile_layers(model)
    report = evaluate(
        model,
        enc,
        data,
        batch_size=batch_size,
        seed=cfg.get("seed", 0) if seed is None else seed,
        energy_table=energy_table,
        progress_bar=progress_bar,
        precision=precision,
    )
    report.extra.update(checkpoint=str(path), dataset=getattr(data, "name", None), encoder=enc.name)
    return report
