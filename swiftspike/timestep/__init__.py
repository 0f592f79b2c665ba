"""TopSpark-style timestep reduction for unsupervised STDP networks (Diehl & Cook) and per-sample
early exit for surrogate-trained networks."""

from .diehl_cook import DCParams, DiehlCook, OpCounts
from .early_exit import early_exit, exit_curve, margins, run_with_exit
from .policy import EnhancementPolicy, fit_policy
from .selector import RuntimeSelector, select
from .stdp import apply_update, assign_labels, normalize_columns, predict, stdp_update, trace_step
from .study import KNOBS, Split, energy_per_sample, run_setting, scale_knobs, sensitivity, timestep_study

__all__ = [
    "KNOBS",
    "DCParams",
    "DiehlCook",
    "EnhancementPolicy",
    "OpCounts",
    "RuntimeSelector",
    "Split",
    "apply_update",
    "assign_labels",
    "early_exit",
    "energy_per_sample",
    "exit_curve",
    "fit_policy",
    "margins",
    "normalize_columns",
    "predict",
    "run_setting",
    "run_with_exit",
    "scale_knobs",
    "select",
    "sensitivity",
    "stdp_update",
    "timestep_study",
    "trace_step",
]
