"""``swiftspike bench async``: forward steps per second of the vectorised async engine against a naive
per-step, per-sample, per-event Python reference of the same semantics (written here), and how the
engine scales with the forward group size F, the batch and the network size.

The reference handles fully connected graphs (``Flatten`` + ``Linear`` + LIF/IF layers): one sample
at a time, a Python heap as the queue, and one weight column added per emitted spike. With the
momentum scheduler and no tie-break noise it follows exactly the same trajectory as the engine, so the
benchmark also checks that both count the same spikes.
"""
from __future__ import annotations

import argparse
import copy
import heapq
import math
import time
from typing import Any

import torch
from torch import nn

from ..asynch.engine import INPUT, AsyncConfig, AsyncEngine, AsyncGraph
from ..asynch.schedulers import MomentumScheduler
from ..errors import SwiftSpikeError
from ..neurons.modules import LIF


@torch.no_grad()
def naive_reference(g: AsyncGraph, x: torch.Tensor, F: int) -> tuple[torch.Tensor, float]:
    """Per-sample Python event loop (momentum order, inputs at frame start, quiescence).

    Returns spike counts per population ``[B, P]`` and the total number of forward steps."""
    for c in g.connections:
        if not isinstance(c.syn, nn.Linear) or any(not isinstance(m, (nn.Flatten, nn.Identity)) for m in c.pre):
            raise SwiftSpikeError("the naive reference supports Flatten + Linear connections only")
    T, B = x.shape[:2]
    P, N = len(g.populations), g.n_neurons
    starts = [p.start for p in g.populations]
    sizes = [p.size for p in g.populations]
    beta, th, v_reset, soft, spk = g.neuron_params(torch.float64, "cpu")
    beta, th, v_reset, soft, spk = beta.tolist(), th.tolist(), v_reset.tolist(), soft.tolist(), spk.tolist()
    bias = g.bias(torch.float64, "cpu").tolist()
    pop_of = [i for i, p in enumerate(g.populations) for _ in range(p.size)]
    # outgoing synapses of each source index: list of (dst_start, weight column as list)
    out_in: list[list] = [[] for _ in range(g.n_in)]
    out_nn: list[list] = [[] for _ in range(N)]
    for c in g.connections:
        W = c.syn.weight.detach().double()
        d0 = starts[c.dst]
        if c.src == INPUT:
            for j in range(g.n_in):
                out_in[j].append((c.dst, d0, W[:, j].tolist()))
        else:
            s0 = starts[c.src]
            for j in range(sizes[c.src]):
                out_nn[s0 + j].append((c.dst, d0, W[:, j].tolist()))
    counts = torch.zeros(B, P)
    steps = 0.0
    for b in range(B):
        v = [0.0] * N
        for t in range(T):
            fresh = [True] * P
            fired = [False] * N
            pend = [0.0] * N
            hit = [False] * P
            xs = x[t, b].reshape(-1).tolist()
            for j, val in enumerate(xs):
                if val != 0:
                    for dst, d0, col in out_in[j]:
                        hit[dst] = True
                        for i, w in enumerate(col):
                            pend[d0 + i] += w * val
            heap: list = []
            while True:
                busy = bool(heap) or any(hit)
                settle = -1
                if not busy:
                    settle = next((p for p in range(P) if fresh[p]), -1)
                    if settle < 0:
                        break
                steps += 1
                evaluate = []
                for p in range(P):
                    if hit[p] or p == settle:
                        first = fresh[p]
                        fresh[p] = False
                        for i in range(starts[p], starts[p] + sizes[p]):
                            if first:
                                v[i] = pend[i] + (bias[i] + beta[i] * v[i]) if p != settle else bias[i] + beta[i] * v[i]
                            else:
                                v[i] = v[i] + pend[i]
                            evaluate.append(i)
                for i in evaluate:
                    if spk[i] and not fired[i] and v[i] >= th[i]:
                        h = v[i]
                        v[i] = h - th[i] if soft[i] else v_reset[i]
                        fired[i] = True
                        counts[b, pop_of[i]] += 1
                        heapq.heappush(heap, (-h, i))
                pend = [0.0] * N
                hit = [False] * P
                for _ in range(min(F, len(heap))):
                    _, i = heapq.heappop(heap)
                    for dst, d0, col in out_nn[i]:
                        hit[dst] = True
                        for k, w in enumerate(col):
                            pend[d0 + k] += w
    return counts, steps


def _net(n_in: int, hidden: int, depth: int = 2, n_out: int = 10) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Flatten()]
    f = n_in
    for _ in range(depth):
        layers += [nn.Linear(f, hidden), LIF(tau=5.0)]
        f = hidden
    layers += [nn.Linear(f, n_out), LIF(tau=5.0)]
    with torch.no_grad():
        for m in layers:
            if isinstance(m, nn.Linear):
                m.weight.mul_(2.5)
    return nn.Sequential(*layers)


def _engine_rate(g: AsyncGraph, x: torch.Tensor, F: int, repeats: int) -> tuple[float, float, torch.Tensor]:
    eng = AsyncEngine(g, AsyncConfig(F=F, scheduler=MomentumScheduler(eps=0.0)))
    best, steps, counts = math.inf, 0.0, None
    with torch.no_grad():
        for _ in range(repeats):
            t0 = time.perf_counter()
            rec = eng.run(x)
            best = min(best, time.perf_counter() - t0)
            steps = float(rec.stats["steps"].sum())
            counts = torch.stack([ls.per_step.sum(0) for ls in rec.layers], 1).float()
    return steps / best, steps, counts


def run_bench(*, T: int = 4, n_in: int = 64, hidden: int = 64, batch: int = 8, F: int = 8,
              F_list=(1, 4, 16, 64), batch_list=(1, 8, 64), hidden_list=(64, 256), repeats: int = 2,
              ref_batch: int = 2, seed: int = 0) -> dict[str, Any]:
    """Forward steps per second (sample-steps summed over the batch) and ratios vs the naive reference."""
    torch.manual_seed(seed)
    net = _net(n_in, hidden)
    g = AsyncGraph.from_sequential(net, (n_in,))
    x = (torch.rand(T, batch, n_in) < 0.3).float()
    rate, steps, counts = _engine_rate(g, x, F, repeats)
    # the reference computes in Python floats (float64): compare against the engine in float64
    g64 = AsyncGraph.from_sequential(copy.deepcopy(net).double(), (n_in,))
    xr = x[:, :ref_batch].double()
    t0 = time.perf_counter()
    ref_counts, ref_steps = naive_reference(g64, xr, F)
    ref_s = time.perf_counter() - t0
    _, eng_ref_steps, eng_ref_counts = _engine_rate(g64, xr, F, 1)
    ref_rate = ref_steps / ref_s
    res: dict[str, Any] = {
        "setup": {"T": T, "n_in": n_in, "hidden": hidden, "depth": 2, "batch": batch, "F": F,
                  "device": "cpu", "threads": torch.get_num_threads()},
        "engine_steps_per_s": rate, "reference_steps_per_s": ref_rate, "speedup_vs_reference": rate / ref_rate,
        "reference_matches_engine": bool(torch.equal(ref_counts, eng_ref_counts)) and ref_steps == eng_ref_steps,
        "scaling_F": [], "scaling_batch": [], "scaling_size": [],
    }
    for f in F_list:
        r, s, _ = _engine_rate(g, x, f, repeats)
        res["scaling_F"].append({"F": f, "steps_per_s": r, "steps_per_sample": s / batch, "ratio_vs_reference": r / ref_rate})
    for b in batch_list:
        xb = (torch.rand(T, b, n_in) < 0.3).float()
        r, s, _ = _engine_rate(g, xb, F, repeats)
        res["scaling_batch"].append({"batch": b, "steps_per_s": r, "ratio_vs_reference": r / ref_rate})
    for h in hidden_list:
        gh = AsyncGraph.from_sequential(_net(n_in, h), (n_in,))
        r, s, _ = _engine_rate(gh, x, F, repeats)
        res["scaling_size"].append({"hidden": h, "neurons": gh.n_neurons, "steps_per_s": r, "ratio_vs_reference": r / ref_rate})
    return res


def _table(res: dict[str, Any]) -> str:
    s = res["setup"]
    lines = [f"async engine vs naive per-step Python reference ({s['n_in']}-{s['hidden']}-{s['hidden']}-10 LIF, "
             f"T={s['T']}, batch {s['batch']}, F={s['F']}, {s['threads']} thread(s))",
             f"engine    {res['engine_steps_per_s']:.0f} sample-steps/s",
             f"reference {res['reference_steps_per_s']:.0f} sample-steps/s  -> engine x{res['speedup_vs_reference']:.1f}"
             f"  (same spikes and steps: {res['reference_matches_engine']})"]
    for key, name in (("scaling_F", "F"), ("scaling_batch", "batch"), ("scaling_size", "hidden")):
        lines.append(f"scaling with {name}: " + ", ".join(
            f"{r[name]}: x{r['ratio_vs_reference']:.1f}" for r in res[key]))
    return "\n".join(lines)


def cmd_bench_async(args: argparse.Namespace) -> int:
    from ..cli.common import emit

    if args.threads:
        torch.set_num_threads(args.threads)
    res = run_bench(T=args.T, hidden=args.hidden, batch=args.batch, F=args.F, repeats=args.repeats,
                    ref_batch=args.ref_batch, seed=args.seed,
                    batch_list=tuple(args.batches), hidden_list=tuple(args.sizes), F_list=tuple(args.F_list))
    emit(args, res, None if args.json and args.quiet else _table(res))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from ..cli.common import add_output_flags

    p = sub.add_parser("async", help="async engine forward steps/s vs a naive Python reference",
                       description="Forward steps per second of the async engine vs a naive per-step Python "
                                   "reference, and scaling with F, batch and network size (ratios).")
    add_output_flags(p, plots=False)
    p.add_argument("--T", type=int, default=4)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--F", type=int, default=8)
    p.add_argument("--F-list", type=int, nargs="+", default=[1, 4, 16, 64])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 64])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--ref-batch", type=int, default=2, help="samples the (slow) reference runs")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = leave as is)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_bench_async)
