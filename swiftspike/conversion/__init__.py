"""ANN-to-SNN conversion for 1-2 time steps (clipped-ReLU ANNs, per-layer threshold/amplitude calibration,
surrogate-gradient fine-tuning, energy estimates). See docs/explanation/conversion.md."""

from .ann import MODELS, ClippedReLU, ann_accuracy, build_ann, train_ann
from .calibrate import METHODS, LayerCalibration, calibrate_layer, calibration_error, fit_threshold_amplitude, staircase
from .convert import ConvertedSNN, SpikeAct, convert, fold_bn, make_trainable
from .energy import measure, to_report
from .finetune import finetune, snn_accuracy

__all__ = [
    "METHODS",
    "MODELS",
    "ClippedReLU",
    "ConvertedSNN",
    "LayerCalibration",
    "SpikeAct",
    "ann_accuracy",
    "build_ann",
    "calibrate_layer",
    "calibration_error",
    "convert",
    "finetune",
    "fit_threshold_amplitude",
    "fold_bn",
    "make_trainable",
    "measure",
    "snn_accuracy",
    "staircase",
    "to_report",
    "train_ann",
]
