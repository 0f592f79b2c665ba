r"""The async study: does training through asynchronous execution save spikes and latency?

For every seed the study trains one layer-synchronous model (``sync``) and, at every forward group size
``F`` of the sweep, two models with unlayered backprop through the asynchronous engine
(``async-random``, ``async-momentum``); all of one seed share the architecture, initialisation, data and
epochs. It then evaluates them on one fixed encoding of the test set:

* the sync-trained model under ``sync`` (the engine with ``F`` larger than the network: the
  layer-synchronous engine spike for spike, counting forward steps the same way), and at every ``F``
  under ``sync-gate`` (the asynchronous engine with layer synchronisation kept: a layer waits until every
  earlier one is idle), ``random`` and ``momentum`` execution;
* each async-trained model under its own scheduler at its own ``F``, and under ``sync``;

each to quiescence and under the stop rules of the protocol (per-sample ``first_output`` or per-frame
``frame_first_output``, ``k`` forward steps after the first output spike, for every ``k`` asked).

**Two baselines** (the two of the published abstract): the sync-trained model run asynchronously with the
same scheduler at the same ``F`` (``async``), and the sync-trained model under the sync gate at the same
``F`` (``sync-gate``). Every ratio is *baseline / async-trained* (> 1 favours the async-trained model);
the accuracy difference is *async-trained - baseline*.

**Latency.** Per (frame, sample): the network spikes and forward steps within the frame before the first
output spike and before the first spike of the correct class, averaged over the pairs that have one (as
the asynctorch latency monitor), next to the whole-sample steps / spikes to decision.

**Grid maxima.** The published numbers are maxima ("up to") over a grid of datasets, schedulers, ``F``
and stop rules. :func:`grid_maxima` gives, per baseline and metric, the largest ratio anywhere, the largest
ratio that every seed reaches in the same cell, and the same restricted to cells where the async-trained
model is at least as accurate as the baseline (within ``acc_tolerance``) in every seed.
:func:`claim_verdict` applies the test of issue 15: at least ``claim_ratio`` (1.5) fewer spikes or
lower per-frame latency (to the first correct output spike) at equal or better accuracy, in every seed.

**Matched accuracy** (``matched``): the spike ratio moves with training length, so the study also keeps
the sync-trained model after every epoch and, for each async-trained cell, compares it with the epoch of
the sync-trained model whose accuracy under the same baseline execution and stop rule is closest to the
async-trained model's (ties: the later epoch).

**Protocols** (:data:`PROTOCOL_DEFAULTS`): ``swiftspike`` (the default, the study as before) and
``asynctorch``, the protocol the published code runs: the engine preset
:meth:`~swiftspike.asynch.AsyncConfig.asynctorch` (inputs at frame start, refractory dropout 0.8 kept on
at inference, a locked neuron's membrane held at 0, random priorities redrawn at every forward step), the
wiped-membrane neuron :data:`~swiftspike.asynch.ASYNCTORCH_NEURON` (decay ``e^-10`` per frame, threshold
0.3, hard reset to 0), bias-free layers, the rate loss for every training, no spike regulariser, Adam
lr 1e-3 with weight decay 1e-5, argmax readout, per-frame stop with ``k`` in 0, 1, 2. Any field set
explicitly overrides the protocol's value.

**Checkpoints** (``checkpoint_dir``): every training is a :class:`~swiftspike.training.Trainer`
checkpoint (written after every epoch and resumed on the next run, so an interrupted study keeps its
finished epochs), the sync model's per-epoch weights are kept for ``matched``, and every evaluation is
cached, all under ``<dir>/<dataset>-<protocol>-<hash of the settings>/``; separate processes may run
different seeds into the same directory, and a run over all seeds then only collects.
"""

from __future__ import annotations

from .compare import claim_verdict, compare, compute_ratios, grid_maxima
from .config import (
    ASYNC_TRAININGS,
    BASELINES,
    CLAIM_METRICS,
    EXECUTIONS,
    LOSSES,
    PROTOCOL_DEFAULTS,
    RATIO_METRICS,
    READOUTS,
    TRAININGS,
    StudyConfig,
    stop_label,
)
from .evaluate import (
    EvalCache,
    build_study_model,
    encoder_for,
    engine_config,
    evaluate_execution,
    rebin,
    rebin_frames,
    run_folder,
    study_spec,
)
from .render import AsyncStudyResult, study_table
from .run import run_study

__all__ = [
    "ASYNC_TRAININGS",
    "BASELINES",
    "CLAIM_METRICS",
    "EXECUTIONS",
    "LOSSES",
    "PROTOCOL_DEFAULTS",
    "RATIO_METRICS",
    "READOUTS",
    "TRAININGS",
    "AsyncStudyResult",
    "EvalCache",
    "StudyConfig",
    "build_study_model",
    "claim_verdict",
    "compare",
    "compute_ratios",
    "encoder_for",
    "engine_config",
    "evaluate_execution",
    "grid_maxima",
    "rebin",
    "rebin_frames",
    "run_folder",
    "run_study",
    "stop_label",
    "study_spec",
    "study_table",
]
