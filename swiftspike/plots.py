"""PNG plots (matplotlib is an optional extra: ``pip install 'swiftspike[plots]'``).

Whole plots: :func:`raster_plot`, :func:`curves_plot`. Building blocks for a study's own figure:
:func:`need_matplotlib` (check before long work), :func:`figure` (a grid of panels), :func:`scatter`
(one point set in a panel, optionally highlighted and labelled) and :func:`save_figure` (PNG, closed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from .errors import SwiftSpikeError


def _plt():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SwiftSpikeError("plots need matplotlib: pip install 'swiftspike[plots]'") from None
    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _plt().close(fig)
    return path


def need_matplotlib() -> None:
    """Raise one clear error now if matplotlib is missing (call it before long work whose result is plotted)."""
    _plt()


def figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] | None = None):
    """``(fig, axes)``: a figure with a ``nrows x ncols`` grid of panels (``axes`` is always 2-D)."""
    plt = _plt()
    return plt.subplots(nrows, ncols, figsize=figsize or (5 * ncols, 4 * nrows), squeeze=False)


def scatter(
    ax,
    x: Sequence[float],
    y: Sequence[float],
    *,
    size: float = 18,
    color: str = "C0",
    label: str | None = None,
    highlight: bool = False,
    labels: Sequence[str] | None = None,
) -> None:
    """Points ``(x, y)`` in panel ``ax``; ``highlight`` draws them edged and on top, ``labels`` writes a small
    text beside each point."""
    kw = dict(edgecolors="k", linewidths=0.5, zorder=3) if highlight else {}
    ax.scatter(list(x), list(y), s=size, c=color, label=label, **kw)
    for text, xi, yi in zip(labels or (), x, y):
        ax.annotate(text, (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` (folders created) and close it."""
    return _save(fig, path)


def raster_plot(
    spikes: torch.Tensor, path: str | Path, title: str = "spike raster", groups: Sequence[tuple[str, int]] | None = None
) -> Path:
    """Raster of one sample's spikes ``[T, N]`` (neurons flattened); ``groups`` names consecutive
    blocks of neurons (e.g. layers, ``[(name, size), ...]``) and colours them apart."""
    plt = _plt()
    s = spikes.detach().reshape(spikes.shape[0], -1).cpu()
    fig, ax = plt.subplots(figsize=(7, 4))
    blocks = list(groups) if groups else [("", s.shape[1])]
    start = 0
    for i, (name, size) in enumerate(blocks):
        t, n = torch.nonzero(s[:, start : start + size], as_tuple=True)
        ax.scatter(t.numpy(), (n + start).numpy(), s=6, marker="|", color=f"C{i}", label=name or None)
        start += size
    ax.set_xlabel("time step")
    ax.set_ylabel("neuron")
    ax.set_xlim(-0.5, s.shape[0] - 0.5)
    ax.set_title(title)
    if groups:
        ax.legend(loc="upper right", fontsize=8, markerscale=2)
    return _save(fig, path)


def curves_plot(
    curves: Mapping[str, Sequence[float]],
    path: str | Path,
    *,
    xlabel: str = "time step",
    ylabel: str = "accuracy",
    title: str = "",
    x: Sequence[float] | None = None,
    logx: bool = False,
) -> Path:
    """One line per named curve (e.g. accuracy vs time step)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, ys in curves.items():
        xs = list(x) if x is not None else list(range(1, len(ys) + 1))
        ax.plot(xs, list(ys), marker="o", ms=3, label=name)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(curves) > 1:
        ax.legend()
    return _save(fig, path)
