"""``swiftspike bench lif``: forward+backward of Linear -> LIF against snnTorch and SpikingJelly.

Every implementation runs the same dynamics (``h = beta v + x``, hard reset to 0, ATan surrogate)
on the same input in the same process; the result is each peer's time divided by swiftspike's
(ratio > 1: swiftspike is faster).
"""
from __future__ import annotations

import argparse
import math
from typing import Any, Callable, Optional

import torch
from torch import nn

from ..cli.common import add_output_flags, emit
from ..errors import SwiftSpikeError
from ..neurons.modules import LIF
from .timing import time_interleaved

BETA = 0.9


def _swiftspike(n: int) -> Callable[[torch.Tensor], torch.Tensor]:
    fc, lif = nn.Linear(n, n), LIF(tau=-1.0 / math.log(BETA), surrogate="atan")

    def run(x):
        lif.reset_state()
        T, B = x.shape[:2]
        return lif(fc(x.flatten(0, 1)).view(T, B, -1))

    return run


def _snntorch(n: int) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    try:
        import snntorch as snn
        from snntorch import surrogate
    except Exception:
        return None
    fc = nn.Linear(n, n)
    lif = snn.Leaky(beta=BETA, reset_mechanism="zero", spike_grad=surrogate.atan())

    def run(x):
        T, B = x.shape[:2]
        cur = fc(x.flatten(0, 1)).view(T, B, -1)
        mem = lif.init_leaky()
        out = []
        for t in range(T):
            spk, mem = lif(cur[t], mem)
            out.append(spk)
        return torch.stack(out)

    return run


def _spikingjelly(n: int) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    try:
        from spikingjelly.activation_based import functional, neuron, surrogate
    except Exception:
        return None
    fc = nn.Linear(n, n)
    lif = neuron.LIFNode(tau=1.0 / (1.0 - BETA), decay_input=False, v_reset=0.0,
                         surrogate_function=surrogate.ATan(), step_mode="m")

    def run(x):
        functional.reset_net(lif)
        T, B = x.shape[:2]
        return lif(fc(x.flatten(0, 1)).view(T, B, -1))

    return run


PEERS = {"swiftspike": _swiftspike, "snntorch": _snntorch, "spikingjelly": _spikingjelly}


def bench_lif(sizes=(256, 1024, 4096), steps=(100, 500), batch: int = 16, repeats: int = 3,
              peers=("snntorch", "spikingjelly")) -> dict[str, Any]:
    """Median forward+backward seconds per implementation and size (runs interleaved across
    implementations); ratios peer / swiftspike."""
    rows = []
    for T in steps:
        for n in sizes:
            torch.manual_seed(0)
            x = torch.rand(T, batch, n)
            row: dict[str, Any] = {"T": T, "N": n, "B": batch, "seconds": {}, "ratio_vs_swiftspike": {}}
            runs = {}
            for name in ("swiftspike", *peers):
                fn = PEERS[name](n)
                if fn is None:
                    continue

                def step(fn=fn):
                    xx = x.clone().requires_grad_(True)
                    fn(xx).sum().backward()

                runs[name] = step
            timed = time_interleaved(runs, repeats=repeats)
            row["seconds"] = {name: timed.get(name) for name in ("swiftspike", *peers)}
            ours = row["seconds"]["swiftspike"]
            for name in peers:
                s = row["seconds"].get(name)
                row["ratio_vs_swiftspike"][name] = None if s is None else s / ours
            avail = [r for r in row["ratio_vs_swiftspike"].values() if r is not None]
            row["no_slower_than_fastest_peer"] = (min(avail) >= 1.0) if avail else None
            rows.append(row)
    return {"benchmark": "lif", "device": "cpu", "threads": torch.get_num_threads(), "rows": rows}


def _table(res: dict[str, Any]) -> str:
    names = list(res["rows"][0]["seconds"])
    head = f"{'T':>5} {'N':>6} " + " ".join(f"{n + ' ms':>16}" for n in names) + "  ratios (peer / swiftspike)"
    lines = [head]
    for r in res["rows"]:
        cells = " ".join(f"{(1e3 * s if s else float('nan')):>16.1f}" for s in r["seconds"].values())
        ratios = ", ".join(f"{k} {v:.2f}x" if v else f"{k} n/a" for k, v in r["ratio_vs_swiftspike"].items())
        lines.append(f"{r['T']:>5} {r['N']:>6} {cells}  {ratios}")
    return "\n".join(lines)


def cmd(args: argparse.Namespace) -> int:
    if any(s <= 0 for s in args.sizes + args.steps) or args.batch <= 0 or args.repeats <= 0:
        raise SwiftSpikeError("sizes, steps, batch and repeats must be positive")
    if args.threads:
        torch.set_num_threads(args.threads)
    res = bench_lif(tuple(args.sizes), tuple(args.steps), args.batch, args.repeats)
    emit(args, res, _table(res))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lif", help="forward+backward of Linear->LIF vs snnTorch and SpikingJelly",
                       description="Time forward+backward of Linear->LIF against peer libraries in the same run.")
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096], help="layer widths N")
    p.add_argument("--steps", type=int, nargs="+", default=[100, 500], help="time steps T")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    add_output_flags(p, plots=False)
    p.set_defaults(func=cmd)
