r"""Run a trained model on sequences much longer than it was trained on, and time metrics of DSN layers.

``long_sequence_eval(model, data, encoder_name, T, factor, mode)`` evaluates the test split at
``factor`` times the training length ``T``:

* ``mode='stream'`` (default): ``factor`` test samples are played back to back as ONE sequence of
  ``factor * T`` steps, without resetting any neuron in between, and every sample is classified from
  its own ``T``-step window (spike count of a spiking readout; for an analog ``LI`` readout the mean
  over the window of its value had the window started fresh, :math:`u_t - \beta^t u_{\text{carried}}`,
  which is what the report's accuracy uses). With ``factor=1`` this is exactly the ordinary test accuracy.
  A neuron whose state drifts or blows up over long sequences loses accuracy here.
* ``mode='stretch'``: each sample slowed down ``factor`` times (every step repeated, see
  :func:`swiftspike.data.sequential.stretch_time`); static data is encoded with ``factor * T`` steps.

Both report the accuracy and whether any output or neuron state became NaN/inf.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..data.dataset import Dataset
from ..data.encoders import make_encoder
from ..data.sequential import stretch_time
from ..devices import module_device
from ..errors import SwiftSpikeError, check_positive_int, choose
from ..metrics.record import RunRecord
from ..neurons.dsn import DSN
from ..neurons.modules import LI, reset
from .trainer import evaluate, sync_runner


def dsn_time_metrics(model: nn.Module, T: int) -> dict[str, Any]:
    """Logical ``T`` and effective ``T * N`` (integer spikes expanded into ``N`` binary slots) of the
    model's DSN layers; empty when it has none."""
    ns = [m.n_max for m in model.modules() if isinstance(m, DSN)]
    if not ns:
        return {}
    n = max(ns)
    return {"logical_T": int(T), "slots_per_step": n, "effective_T": int(T) * n}


def _states_finite(model: nn.Module) -> bool:
    for mod in model.modules():
        st = getattr(mod, "state", None)
        h = getattr(st, "h", None) if st is not None else None
        if isinstance(h, torch.Tensor) and not bool(torch.isfinite(h).all()):
            return False
    return True


@torch.no_grad()
def stream_eval(
    model: nn.Module, data: Dataset, encoder_name: str, T: int, factor: int, batch_size: int = 64
) -> dict[str, Any]:
    """Classify ``factor`` consecutive samples played as one unbroken sequence (see module docstring)."""
    enc = make_encoder(encoder_name if not data.temporal else "sequence", T)
    n = (len(data.x_test) // factor) * factor
    if n == 0:
        raise SwiftSpikeError(f"the test split has fewer than {factor} samples to chain into one stream")
    was_training = model.training
    model.eval()
    correct, total, finite, spikes = 0, 0, True, 0.0
    all_scores = []
    per_window = torch.zeros(factor)
    readouts = [mod for mod in model.modules() if isinstance(mod, LI)]
    beta = float(readouts[-1].beta) if readouts else 1.0
    dev = module_device(model)
    try:
        for i in range(0, n, batch_size * factor):
            xb = data.x_test[i : min(n, i + batch_size * factor)]
            yb = data.y_test[i : min(n, i + batch_size * factor)]
            x = enc(xb.to(dev))  # [T, m*factor, ...]
            m = xb.shape[0] // factor
            # sample j*factor + k goes to stream j, window k
            x = x.reshape(T, m, factor, *x.shape[2:]).transpose(0, 2).transpose(1, 2)  # [factor, T, m, ...]
            x = x.reshape(factor * T, m, *x.shape[3:])
            y = yb.reshape(m, factor).to(dev)
            reset(model)
            rec = sync_runner(model, x)
            out = rec.output  # [factor*T, m, C]
            finite = finite and bool(torch.isfinite(out).all()) and _states_finite(model)
            spikes += float(sum(ls.per_step.sum() for ls in rec.layers))
            w = out.reshape(factor, T, m, -1)
            if rec.output_spiking:
                scores = w.sum(1)
            else:  # the window's running mean had the readout started fresh, as the report scores it
                prev = torch.cat([torch.zeros_like(w[:1, -1]), w[:-1, -1]])  # carried in from the window before
                decay = beta ** torch.arange(1, T + 1, dtype=w.dtype, device=w.device)
                scores = (w - decay.view(1, T, 1, 1) * prev.unsqueeze(1)).mean(1)
            all_scores.append(scores.transpose(0, 1).reshape(m * factor, -1))  # back to sample order
            pred = scores.argmax(-1)  # [factor, m]
            hit = pred == y.t()
            correct += int(hit.sum())
            per_window += hit.sum(1).double().float().cpu()
            total += y.numel()
    finally:
        reset(model)
        model.train(was_training)
    windows = (per_window / (total // factor)).tolist()
    return {
        "accuracy": correct / total,
        "finite": finite,
        "samples": total,
        "spikes_per_sample": spikes / total,
        "accuracy_first_window": windows[0],
        "accuracy_later_windows": sum(windows[1:]) / max(1, factor - 1) if factor > 1 else None,
        "accuracy_per_window": windows,
        "scores": torch.cat(all_scores),
    }


def long_sequence_eval(
    model: nn.Module,
    data: Dataset,
    encoder_name: str,
    T: int,
    factor: int,
    mode: str = "stream",
    batch_size: int = 64,
    energy_table: str = "45nm-fp32",
) -> dict[str, Any]:
    """Accuracy and finiteness of ``model`` on the test split at ``factor * T`` steps."""
    check_positive_int(factor, "--eval-long")
    choose("long-sequence mode", mode, ("stream", "stretch"))
    if mode == "stream":
        out = {
            "factor": factor,
            "T": T * factor,
            "train_T": T,
            "mode": mode,
            "method": f"{factor} test samples back to back in one {T * factor}-step sequence, no reset",
            **stream_eval(model, data, encoder_name, T, factor, batch_size),
        }
        out.pop("scores")
        out.update({k: v for k, v in dsn_time_metrics(model, T * factor).items() if k != "logical_T"})
        return out
    finite = {"ok": True}

    def runner(m: nn.Module, x: torch.Tensor) -> RunRecord:
        rec = sync_runner(m, x)
        if not bool(torch.isfinite(rec.output).all()) or not _states_finite(m):
            finite["ok"] = False
        return rec

    if data.temporal:
        x = stretch_time(data.x_test, factor)
        enc = make_encoder("sequence", x.shape[1])
        how = f"each of the {T} steps repeated {factor} times"
    else:
        x = data.x_test
        enc = make_encoder(encoder_name, T * factor)
        how = f"{encoder_name} code with {T * factor} steps"
    rep = evaluate(model, enc, x, data.y_test, batch_size=batch_size, runner=runner, energy_table=energy_table)
    out = {
        "factor": factor,
        "T": T * factor,
        "train_T": T,
        "mode": mode,
        "method": how,
        "accuracy": rep.accuracy,
        "finite": finite["ok"],
        "spikes_per_sample": rep.spikes_per_sample,
    }
    out.update({k: v for k, v in dsn_time_metrics(model, T * factor).items() if k != "logical_T"})
    return out
