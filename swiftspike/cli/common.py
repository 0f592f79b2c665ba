"""Shared CLI pieces: common flags, dataset/model arguments and result printing."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any, Optional

from ..errors import SwiftSpikeError


def add_output_flags(p: argparse.ArgumentParser, plots: bool = True) -> None:
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.add_argument("--out", metavar="FILE", help="also write the JSON result to FILE")
    if plots:
        p.add_argument("--plot", metavar="DIR", help="save PNG plots into DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_data_flags(p: argparse.ArgumentParser, default: str = "digits") -> None:
    p.add_argument("--dataset", default=default,
                   help="digits | mnist5k | fashion-mnist | randman | shd | nmnist | dvs-gesture")
    p.add_argument("--path", help="file or folder for datasets read from disk (fashion-mnist, shd, nmnist)")
    p.add_argument("--limit", type=int, help="use at most this many training samples")
    p.add_argument("--seed", type=int, default=0, help="random seed (data split, init, encoder noise)")
    p.add_argument("--bins", type=int, help="time bins (frames) for event datasets: shd, nmnist, dvs-gesture")


EVENT_DATASETS = ("shd", "nmnist", "dvs-gesture")


def data_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Extra load_dataset keywords from the data flags (the frame count of event datasets)."""
    if getattr(args, "bins", None) is None:
        return {}
    if args.dataset not in EVENT_DATASETS:
        raise SwiftSpikeError(f"--bins applies to event datasets ({', '.join(EVENT_DATASETS)}), not {args.dataset!r}")
    return {"n_bins": args.bins}


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def emit(args: argparse.Namespace, result: dict[str, Any], text: Optional[str] = None) -> None:
    """Print ``text`` for people, then (with ``--json``) the result as the last line."""
    result = _clean(result)
    if text:
        print(text)
    if getattr(args, "out", None):
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2))
    if getattr(args, "json", False):
        print(json.dumps(result), flush=True)


def plot_dir(args: argparse.Namespace) -> Optional[Path]:
    d = getattr(args, "plot", None)
    if not d:
        return None
    p = Path(d)
    if p.exists() and not p.is_dir():
        raise SwiftSpikeError(f"--plot needs a directory, {p} is a file")
    p.mkdir(parents=True, exist_ok=True)
    return p
