"""Spike encoders: static inputs ``[B, ...]`` in [0, 1] -> time-major ``[T, B, ...]``.

* :func:`rate_encode`     -- Bernoulli (``p = gain * x`` per step) or Poisson
  (``p = 1 - exp(-gain * x)``, the chance of at least one Poisson event in a step);
* :func:`latency_encode`  -- time-to-first-spike, one spike at ``t = round((1 - x) (T - 1))``
  (linear) for ``x > threshold``; brighter fires earlier;
* :func:`direct_encode`   -- the analog value at every step (the first layer does MACs);
* :func:`delta_encode`    -- threshold crossing for sequences ``[T, B, ...]``: +1 / -1 when the
  signal moved more than ``threshold`` since the last emitted event.

Encoder objects (``RateEncoder``, ...) wrap them with a fixed ``T`` for the trainer.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import SwiftSpikeError, check_positive, check_positive_int, check_tensor, choose


def _check_static(x: torch.Tensor, T: int) -> torch.Tensor:
    """Validate ``x`` and ``T``; integer / bool inputs are converted to float32."""
    check_tensor(x, "input", min_ndim=1)
    check_positive_int(T, "T")
    return x if x.is_floating_point() else x.to(torch.float32)


def rate_encode(
    x: torch.Tensor,
    T: int,
    *,
    gain: float = 1.0,
    method: str = "bernoulli",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Rate code. ``x`` must lie in [0, 1] for ``bernoulli`` (after ``gain``)."""
    x = _check_static(x, T)
    choose("rate method", method, ("bernoulli", "poisson"))
    check_positive(gain, "gain")
    r = x * gain
    if method == "bernoulli":
        if bool((r < 0).any()) or bool((r > 1).any()):
            raise SwiftSpikeError("bernoulli rate coding needs gain * x in [0, 1]")
        p = r
    else:
        if bool((r < 0).any()):
            raise SwiftSpikeError("poisson rate coding needs non-negative rates")
        p = 1 - torch.exp(-r)
    u = torch.rand((T, *x.shape), generator=generator, dtype=x.dtype, device=x.device)
    return (u < p.unsqueeze(0)).to(x.dtype)


def latency_encode(x: torch.Tensor, T: int, *, threshold: float = 0.01) -> torch.Tensor:
    """Time-to-first-spike code: one spike per input above ``threshold``, earlier when larger."""
    x = _check_static(x, T)
    xc = x.clamp(0.0, 1.0)
    t_spike = torch.round((1 - xc) * (T - 1)).long()
    out = torch.zeros((T, *x.shape), dtype=x.dtype, device=x.device)
    out.scatter_(0, t_spike.unsqueeze(0), 1.0)
    return out * (x > threshold).to(x.dtype).unsqueeze(0)


def direct_encode(x: torch.Tensor, T: int) -> torch.Tensor:
    """The analog input repeated at every step."""
    x = _check_static(x, T)
    return x.unsqueeze(0).expand(T, *x.shape).contiguous()


def delta_encode(seq: torch.Tensor, threshold: float = 0.1, *, split_polarity: bool = False) -> torch.Tensor:
    """Send-on-delta events of a time-major sequence ``[T, B, ...]``.

    Returns signed events (+1 up, -1 down), or with ``split_polarity`` two non-negative channels
    stacked on a new last axis (``[..., 2]``: up, down).
    """
    check_tensor(seq, "sequence", min_ndim=2)
    check_positive(threshold, "threshold")
    if seq.shape[0] == 0:
        raise SwiftSpikeError("sequence has T=0 time steps; T must be >= 1")
    if not seq.is_floating_point():
        seq = seq.to(torch.float32)
    ref = seq[0].clone()
    out = torch.zeros_like(seq)
    for t in range(1, seq.shape[0]):
        d = seq[t] - ref
        ev = torch.where(d >= threshold, 1.0, torch.where(d <= -threshold, -1.0, 0.0)).to(seq.dtype)
        ref = torch.where(ev != 0, seq[t], ref)
        out[t] = ev
    if split_polarity:
        return torch.stack([out.clamp(min=0), (-out).clamp(min=0)], dim=-1)
    return out


class Encoder:
    """Callable ``encoder(x_batch) -> [T, B, ...]`` with a fixed ``T``."""

    name = "encoder"

    def __init__(self, T: int) -> None:
        self.T = check_positive_int(T, "T")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError


class RateEncoder(Encoder):
    name = "rate"

    def __init__(self, T: int, gain: float = 1.0, method: str = "bernoulli") -> None:
        super().__init__(T)
        choose("rate method", method, ("bernoulli", "poisson"))
        self.gain, self.method = check_positive(gain, "gain"), method

    def __call__(self, x):
        return rate_encode(x, self.T, gain=self.gain, method=self.method)


class LatencyEncoder(Encoder):
    name = "latency"

    def __call__(self, x):
        return latency_encode(x, self.T)


class DirectEncoder(Encoder):
    name = "direct"

    def __call__(self, x):
        return direct_encode(x, self.T)


class SequenceEncoder(Encoder):
    """For data that is already a sequence ``[B, T, ...]``: make it time-major, keep ``T``."""

    name = "sequence"

    def __init__(self, T: int | None = None) -> None:
        self.T = T  # type: ignore[assignment]

    def __call__(self, x):
        check_tensor(x, "sequence batch", min_ndim=2)
        if x.shape[1] == 0:
            raise SwiftSpikeError("sequence batch has T=0 time steps; T must be >= 1")
        return x.transpose(0, 1)


ENCODERS = ("rate", "poisson", "latency", "direct", "sequence")


def make_encoder(name: str, T: int) -> Encoder:
    """Encoder by name: ``rate``, ``poisson``, ``latency``, ``direct``, ``sequence``."""
    choose("encoder", name, ENCODERS)
    if name == "rate":
        return RateEncoder(T)
    if name == "poisson":
        return RateEncoder(T, method="poisson")
    if name == "latency":
        return LatencyEncoder(T)
    if name == "direct":
        return DirectEncoder(T)
    return SequenceEncoder(T)


def encoder_info(encoder: Encoder | None) -> dict[str, Any] | None:
    """JSON description of an encoder (name, ``T`` and its options); ``None`` for none."""
    if encoder is None:
        return None
    info: dict[str, Any] = {"name": getattr(encoder, "name", type(encoder).__name__), "T": getattr(encoder, "T", None)}
    for key in ("gain", "method"):
        if hasattr(encoder, key):
            info[key] = getattr(encoder, key)
    return info


def encoder_from_info(info: dict[str, Any], *, name: str | None = None, T: int | None = None) -> Encoder:
    """The encoder :func:`encoder_info` described (``name`` / ``T`` override the stored ones)."""
    stored = info.get("name", "rate")
    T = T if T is not None else info.get("T")
    if name is None and stored == "rate":
        return RateEncoder(T or 8, gain=float(info.get("gain", 1.0)), method=info.get("method", "bernoulli"))
    if (name or stored) == "sequence":
        return SequenceEncoder(T)
    return make_encoder(name or stored, T or 8)
