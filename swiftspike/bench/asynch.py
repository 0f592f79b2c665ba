"""``swiftspike bench async``: how fast the asynchronous engine runs forward steps, against a dense-matrix
execution of the same semantics and a naive per-step Python loop, over batch, layer width and F.

Three executors run the same network on the same input, interleaved repeat by repeat:

* **engine**: :class:`~swiftspike.asynch.AsyncEngine` with ``currents='auto'`` (the currents of the at
  most ``F`` events per sample gathered from the emitting neurons' weight columns when the sources are
  wide enough, see :mod:`swiftspike.asynch.currents`);
* **dense**: the same engine with ``currents='dense'``: one matrix product per connection and forward step;
* **naive**: :func:`naive_reference`, one sample at a time, a Python heap as the queue, one weight column
  added per emitted event -- the loop one writes first.

The network is ``n_in - width - width - 10`` (LIF, inputs at frame start, momentum order, run to
quiescence) with weights on a 2**-12 grid and ``beta = 0.5`` exactly, so every membrane is exact in
float32 and float64 and all three executors must give identical spikes and forward steps (checked).
Rates are sample-steps per second (forward steps summed over the batch, divided by the median wall
time). The naive loop is per sample, so its rate does not depend on the batch: it is timed once per
(width, F) on ``ref_batch`` samples, interleaved with the engine and dense runs of the smallest batch.
An executor gets fewer repeats where ``repeats`` runs would exceed ``budget_s``, and a configuration (or
one executor of it) whose single run, predicted linearly from the previous batch, exceeds the budget is
skipped with the reason.
"""

from __future__ import annotations

import heapq
import math
import os
import platform
import time
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from .._version import __version__
from ..asynch.config import AsyncConfig
from ..asynch.engine import AsyncEngine
from ..asynch.graph import INPUT, AsyncGraph
from ..asynch.schedulers import Scheduler
from ..errors import SwiftSpikeError, check_positive, check_positive_int
from ..neurons.functional import NoReset, SoftReset
from ..neurons.modules import LIF

GRID = 2.0**-12
WARMUP_S = 2.0  # runs faster than this get an untimed warm-up run first


class IndexTieMomentum(Scheduler):
    """Momentum order without noise, ties broken by the lower index (as the naive heap does)."""

    name = "momentum"
    dtype = torch.float64

    def priority(self, h, generator=None):
        idx = torch.arange(h.shape[-1], device=h.device, dtype=torch.float64)
        return h.detach().double() - idx * 2.0**-40


@torch.no_grad()
def naive_reference(
    g: AsyncGraph, x: torch.Tensor, F: int, *, max_seconds: float = math.inf
) -> tuple[torch.Tensor, float, int]:
    """Per-sample Python event loop (momentum order, ties to the lower index, inputs at frame start, quiescence).

    Returns spike counts per frame, sample and population ``[T, B, P]``, the total number of forward
    steps, and the number of frames completed (all ``T`` unless ``max_seconds`` ran out first)."""
    for c in g.connections:
        if not isinstance(c.syn, nn.Linear) or any(not isinstance(m, (nn.Flatten, nn.Identity)) for m in c.pre):
            raise SwiftSpikeError("the naive reference supports Flatten + Linear connections only")
    T, B = x.shape[:2]
    P, N = len(g.populations), g.n_neurons
    starts = [p.start for p in g.populations]
    sizes = [p.size for p in g.populations]
    beta, th, resets = [], [], []
    for p in g.populations:
        prm = cast(LIF, p.neuron).params
        beta += [float(prm.beta)] * p.size
        th += [float(prm.v_threshold)] * p.size
        resets += [prm.reset] * p.size
    bias = g.bias(torch.float64, "cpu").tolist()
    pop_of = [i for i, p in enumerate(g.populations) for _ in range(p.size)]
    out_in: list[list] = [[] for _ in range(g.n_in)]
    out_nn: list[list] = [[] for _ in range(N)]
    for c in g.connections:
        W = c.syn.weight.detach().double().cpu()
        d0 = starts[c.dst]
        if c.src == INPUT:
            for j in range(g.n_in):
                out_in[j].append((c.dst, d0, W[:, j].tolist()))
        else:
            s0 = starts[c.src]
            for j in range(sizes[c.src]):
                out_nn[s0 + j].append((c.dst, d0, W[:, j].tolist()))
    counts = torch.zeros(T, B, P)
    steps = 0.0
    t_start = time.perf_counter()
    done = T
    vs = [[0.0] * N for _ in range(B)]  # membranes, carried from frame to frame
    for t in range(T):
        if time.perf_counter() - t_start > max_seconds:
            done = t
            break
        for b in range(B):
            steps += _naive_frame(
                x[t, b].reshape(-1).tolist(),
                counts[t, b],
                F,
                P,
                N,
                starts,
                sizes,
                beta,
                th,
                resets,
                bias,
                pop_of,
                out_in,
                out_nn,
                vs[b],
            )
    return counts, steps, done


def _naive_frame(xs, counts, F, P, N, starts, sizes, beta, th, resets, bias, pop_of, out_in, out_nn, v) -> float:
    """One frame of one sample; updates the membranes ``v`` and spike ``counts`` ``[P]``; returns its forward steps."""
    fresh = [True] * P
    fired = [False] * N
    pend = [0.0] * N
    hit = [False] * P
    for j, val in enumerate(xs):
        if val != 0:
            for dst, d0, col in out_in[j]:
                hit[dst] = True
                for i, w in enumerate(col):
                    pend[d0 + i] += w * val
    heap: list = []
    steps = 0.0
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
                    v[i] = beta[i] * v[i] + (pend[i] + bias[i]) if first else v[i] + pend[i]
                    evaluate.append(i)
        for i in evaluate:
            if not fired[i] and v[i] >= th[i]:
                h = v[i]
                r = resets[i]
                v[i] = h - th[i] if isinstance(r, SoftReset) else (h if isinstance(r, NoReset) else r.v_reset)
                fired[i] = True
                counts[pop_of[i]] += 1
                heapq.heappush(heap, (-h, i))
        pend = [0.0] * N
        hit = [False] * P
        for _ in range(min(F, len(heap))):
            _, i = heapq.heappop(heap)
            for dst, d0, col in out_nn[i]:
                hit[dst] = True
                for k, w in enumerate(col):
                    pend[d0 + k] += w
    return steps


def bench_net(n_in: int, width: int, depth: int = 2, n_out: int = 10, seed: int = 0) -> nn.Sequential:
    """``n_in - width x depth - n_out`` LIF network (beta = 0.5 exactly, threshold 1, hard reset, no bias) with
    weights on a 2**-12 grid, scaled so that roughly a fifth of each hidden layer fires per frame."""
    gen = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = [nn.Flatten()]
    f, active = n_in, 0.3 * n_in
    for out in [width] * depth + [n_out]:
        lin = nn.Linear(f, out, bias=False)
        w = torch.randn(out, f, generator=gen) * (0.6 / math.sqrt(active)) + 0.7 / active
        with torch.no_grad():
            lin.weight.copy_(torch.round(w / GRID) * GRID)
        layers += [lin, LIF(tau=1 / math.log(2))]
        f, active = out, 0.2 * out
    return nn.Sequential(*layers)


def _counts(rec) -> torch.Tensor:
    return torch.stack([ls.per_step for ls in rec.layers], 2)  # [T, B, P]


def _machine() -> dict[str, Any]:
    return {
        "swiftspike": __version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or "unknown",
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
    }


def _once(fn) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(
    *,
    batches: Sequence[int] = (1, 8, 64, 256),
    widths: Sequence[int] = (64, 256, 1024, 4096),
    F_list: Sequence[int] = (1, 4, 16, 64),
    T: int = 2,
    n_in: int = 64,
    repeats: int = 3,
    ref_batch: int = 1,
    budget_s: float = 30.0,
    seed: int = 0,
    threads: int | None = None,
    progress=None,
) -> dict[str, Any]:
    """Time engine, dense and naive over the grid; returns a JSON-able dict (see :func:`table`).

    ``budget_s`` bounds the time of one executor's repeats of one configuration (fewer repeats when a run
    is slow; skipped when one run, predicted linearly from the previous batch, would exceed it);
    ``progress`` is called with a line of text after each configuration."""
    _check_args(batches, widths, F_list, T, n_in, repeats, ref_batch, budget_s, threads)
    if threads:
        torch.set_num_threads(threads)
    t_all = time.perf_counter()
    rows, skipped = _measure_grid(batches, widths, F_list, T, n_in, repeats, ref_batch, budget_s, seed, progress)
    res: dict[str, Any] = {
        "setup": {
            "T": T,
            "n_in": n_in,
            "depth": 2,
            "n_out": 10,
            "repeats": repeats,
            "ref_batch": ref_batch,
            "budget_s": budget_s,
            "seed": seed,
            "batches": list(batches),
            "widths": list(widths),
            "F_list": list(F_list),
            "dtype": "float32",
            "rate": "sample-steps per second (median)",
        },
        "machine": _machine(),
        "rows": rows,
        "skipped": skipped,
        "all_identical": all(
            r["engine_equals_dense"] is not False and r["naive_equals_engine"] is not False for r in rows
        ),
        "seconds": time.perf_counter() - t_all,
    }
    res["targets"] = _targets(rows)
    return res


def _check_args(
    batches: Sequence[int],
    widths: Sequence[int],
    F_list: Sequence[int],
    T: int,
    n_in: int,
    repeats: int,
    ref_batch: int,
    budget_s: float,
    threads: int | None,
) -> None:
    """Reject empty grids and non-positive sizes, repeats, budget or threads before any work."""
    for name, vals in (("batches", batches), ("widths", widths), ("F_list", F_list)):
        if not vals:
            raise SwiftSpikeError(f"{name} must not be empty")
        for v in vals:
            check_positive_int(v, name)
    check_positive_int(T, "T")
    check_positive_int(n_in, "n_in")
    check_positive_int(repeats, "repeats")
    check_positive_int(ref_batch, "ref_batch")
    check_positive(budget_s, "budget_s")
    if threads:
        check_positive_int(threads, "threads")


def _measure_grid(
    batches: Sequence[int],
    widths: Sequence[int],
    F_list: Sequence[int],
    T: int,
    n_in: int,
    repeats: int,
    ref_batch: int,
    budget_s: float,
    seed: int,
    progress,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every (width, F) with batches smallest first, inputs drawn from one generator seeded with ``seed`` in
    that order; returns the rows and the skipped configurations."""
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    gen = torch.Generator().manual_seed(seed)
    sched = IndexTieMomentum()
    for width in widths:
        net = bench_net(n_in, width, seed=seed)
        g = AsyncGraph.from_sequential(net, (n_in,))
        for F in F_list:
            c = _Contest(width, F, g, sched, T=T, repeats=repeats, ref_batch=ref_batch, budget_s=budget_s)
            for bi, B in enumerate(sorted(batches)):
                x = (torch.rand(T, B, n_in, generator=gen) < 0.3).float()
                row = c.batch(x, naive=bi == 0, skipped=skipped)
                if row is None:
                    continue
                rows.append(row)
                if progress is not None:
                    progress(_row_line(row))
    return rows, skipped


class _Contest:
    """The three executors at one (width, F), timed batch by batch (smallest first): the last run time of
    each executor (to predict the next batch) and the naive loop's rate and check (measured at the first
    batch) carry over from batch to batch."""

    def __init__(
        self,
        width: int,
        F: int,
        g: AsyncGraph,
        sched: Scheduler,
        *,
        T: int,
        repeats: int,
        ref_batch: int,
        budget_s: float,
    ) -> None:
        self.width, self.F, self.g = width, F, g
        self.T, self.repeats, self.ref_batch, self.budget_s = T, repeats, ref_batch, budget_s
        self.eng = AsyncEngine(g, AsyncConfig(F=F, scheduler=sched, currents="auto"))
        self.dense = AsyncEngine(g, AsyncConfig(F=F, scheduler=sched, currents="dense"))
        self.last: dict[str, tuple[int, float]] = {}
        self.naive_rate = math.nan
        self.naive_ok: bool | None = None
        self.naive_note = ""

    def batch(self, x: torch.Tensor, *, naive: bool, skipped: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Time one batch ``x`` (with the naive loop when ``naive``); its row, or ``None`` when every executor
        was skipped (each skip appended to ``skipped``)."""
        B = x.shape[1]
        runners = {"engine": lambda: self.eng.run(x), "dense": lambda: self.dense.run(x)}
        plan = self._plan(runners, B, skipped)
        if not plan:
            return None
        times, recs = self._time(runners, plan, B, x[:, : self.ref_batch], naive)
        return self._row(B, times, recs, plan)

    def _plan(self, runners: dict[str, Any], B: int, skipped: list[dict[str, Any]]) -> list[str]:
        """The executors whose one run at batch ``B`` fits the budget; the others are recorded as skipped."""
        plan = [k for k in runners if _fits(self.last.get(k), B, self.repeats, self.budget_s)]
        for k in runners:
            if k not in plan:
                b0, t0 = self.last[k]
                skipped.append(
                    {
                        "batch": B,
                        "width": self.width,
                        "F": self.F,
                        "executor": k,
                        "reason": f"one run predicted {t0 * B / b0:.0f} s > budget {self.budget_s:g} s",
                    }
                )
        return plan

    def _time(
        self, runners: dict[str, Any], plan: list[str], B: int, xr: torch.Tensor, naive: bool
    ) -> tuple[dict[str, list[float]], dict[str, Any]]:
        """At batch ``B``: a first run of each planned executor (warm-up and the record to check), then
        ``repeats`` interleaved timed rounds, each with one naive run on ``xr`` while ``naive`` and the budget
        allow."""
        repeats, budget_s = self.repeats, self.budget_s
        times: dict[str, list[float]] = {}
        recs: dict[str, Any] = {}
        reps: dict[str, int] = {}
        with torch.no_grad():
            for k in plan:  # first run: warm-up (gather plans) and the record to check
                dt, recs[k] = _once(runners[k])
                self.last[k] = (B, dt)
                if dt < WARMUP_S:
                    reps[k] = max(1, min(repeats, int(budget_s / max(dt, 1e-9))))
                else:  # a slow run is its own warm-up and counts as the first repeat
                    times[k] = [dt]
                    reps[k] = max(1, min(repeats, int(budget_s / dt))) - 1
            for r in range(repeats):
                for k in plan:
                    if r < reps[k]:
                        times.setdefault(k, []).append(_once(runners[k])[0])
                if naive:
                    dt = self._naive(xr, recs[plan[0]], times)
                    if dt * (r + 2) > budget_s:
                        naive = False  # no time for another naive repeat
        return times, recs

    def _naive(self, xr: torch.Tensor, rec: Any, times: dict[str, list[float]]) -> float:
        """One naive run on ``xr``; appends its time per forward step to ``times['naive']``, checks its spikes
        and steps against the engine's record ``rec`` (first time only) and returns its wall time."""
        T, ref_batch = self.T, self.ref_batch
        dt, (cnt, nsteps, done) = _once(lambda: naive_reference(self.g, xr, self.F, max_seconds=self.budget_s))
        times.setdefault("naive", []).append(dt / max(nsteps, 1.0))
        if done < T:
            self.naive_note = f"naive ran {done} of {T} frames within the budget"
        if self.naive_ok is None:
            ref = _counts(rec)[:done, :ref_batch]
            self.naive_ok = bool(torch.equal(cnt[:done], ref)) and (
                done < T or nsteps == float(rec.stats["steps"][:ref_batch].sum())
            )
        return dt

    def _row(self, B: int, times: dict[str, list[float]], recs: dict[str, Any], plan: list[str]) -> dict[str, Any]:
        """The row of one batch: repeats, rates (median), ratios, the engine's current path and the checks."""
        row: dict[str, Any] = {"batch": B, "width": self.width, "F": self.F, "neurons": self.g.n_neurons}
        row["repeats"] = {k: len(v) for k, v in times.items()}
        if "naive" in times:
            self.naive_rate = 1.0 / _median(times["naive"])
        steps = float(recs[plan[0]].stats["steps"].sum())
        row["steps_per_sample"] = steps / B
        for k in ("engine", "dense"):
            row[f"{k}_steps_per_s"] = steps / _median(times[k]) if k in times else math.nan
        row["naive_steps_per_s"] = self.naive_rate
        row["engine_vs_naive"] = row["engine_steps_per_s"] / self.naive_rate
        row["engine_vs_dense"] = row["engine_steps_per_s"] / row["dense_steps_per_s"]
        paths = set(self.eng.current_paths().values())
        row["engine_path"] = paths.pop() if len(paths) == 1 else "mixed"
        same = None
        if len(recs) == 2:
            a, b = recs["engine"], recs["dense"]
            same = bool(torch.equal(_counts(a), _counts(b))) and bool(torch.equal(a.stats["steps"], b.stats["steps"]))
        row["engine_equals_dense"] = same
        row["naive_equals_engine"] = self.naive_ok
        if self.naive_note:
            row["note"] = self.naive_note
        return row


def _fits(last: tuple[int, float] | None, B: int, repeats: int, budget_s: float) -> bool:
    """Whether one run at batch ``B``, predicted linearly from the last batch (an upper bound: the per-step
    overhead is shared by the batch), fits in the budget."""
    if last is None:
        return True
    b0, t0 = last
    return t0 * B / b0 <= budget_s


def _median(t: list[float]) -> float:
    s = sorted(t)
    return s[len(s) // 2]


def _targets(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's two targets: engine >= 5x naive at batch 1, and < 2x loss of steps/s from width 64 to 4096."""
    b1 = [r for r in rows if r["batch"] == 1 and math.isfinite(r["engine_vs_naive"])]
    speed = {f"w{r['width']}_F{r['F']}": r["engine_vs_naive"] for r in b1}
    scaling = {}
    for r in rows:
        if r["width"] != max(x["width"] for x in rows):
            continue
        base = [
            q
            for q in rows
            if q["batch"] == r["batch"] and q["F"] == r["F"] and q["width"] == min(x["width"] for x in rows)
        ]
        if base and r["width"] > base[0]["width"]:
            scaling[f"B{r['batch']}_F{r['F']}"] = base[0]["engine_steps_per_s"] / r["engine_steps_per_s"]
    return {
        "batch1_engine_vs_naive": speed,
        "batch1_min_engine_vs_naive": min(speed.values()) if speed else math.nan,
        "batch1_all_at_least_5x": bool(speed) and all(v >= 5 for v in speed.values()),
        "slowdown_smallest_to_largest_width": scaling,
        "slowdown_all_below_2x": bool(scaling) and all(v < 2 for v in scaling.values()),
    }


def _fmt(v: float) -> str:
    if not isinstance(v, float) or not math.isfinite(v):
        return "-"
    return f"{v / 1000:.1f}k" if v >= 1000 else f"{v:.0f}"


def _row_line(r: dict[str, Any]) -> str:
    ok = {True: "yes", False: "NO", None: "-"}
    return (
        f"| {r['batch']} | {r['width']} | {r['F']} | {r['steps_per_sample']:.0f} | {_fmt(r['engine_steps_per_s'])} "
        f"| {_fmt(r['dense_steps_per_s'])} | {_fmt(r['naive_steps_per_s'])} | {r['engine_vs_naive']:.1f} "
        f"| {r['engine_vs_dense']:.1f} | {r['engine_path']} | {ok[r['engine_equals_dense']]} "
        f"| {ok[r['naive_equals_engine']]} |"
    )


def table(res: dict[str, Any]) -> str:
    """Markdown table of :func:`run`'s result, the skipped configurations and the targets."""
    s, m = res["setup"], res["machine"]
    lines = [
        f"async engine vs dense engine vs naive Python loop: {s['n_in']}-w-w-10 LIF, T={s['T']} frames, "
        f"{s['dtype']}, {s['repeats']} interleaved repeats, rates = {s['rate']}",
        f"torch {m['torch']}, {m['torch_threads']} thread(s), {m['cpu_count']} CPUs, {m['platform']}",
        "",
        "| batch | width | F | steps/sample | engine | dense | naive | engine/naive | engine/dense | path "
        "| engine = dense | naive = engine |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row_line(r) for r in res["rows"]]
    for sk in res["skipped"]:
        lines.append(
            f"skipped: batch {sk['batch']}, width {sk['width']}, F {sk['F']}, {sk['executor']}: {sk['reason']}"
        )
    for r in res["rows"]:
        if r.get("note"):
            lines.append(f"note: batch {r['batch']}, width {r['width']}, F {r['F']}: {r['note']}")
    tg = res["targets"]
    lines.append(
        f"target 1, engine >= 5x naive at batch 1: min {tg['batch1_min_engine_vs_naive']:.1f}x "
        f"({'met' if tg['batch1_all_at_least_5x'] else 'not met everywhere'})"
    )
    sl = tg["slowdown_smallest_to_largest_width"]
    if sl:
        lines.append(
            "target 2, steps/s fall < 2x from the smallest to the largest width: "
            + ", ".join(f"{k} {v:.1f}x" for k, v in sl.items())
            + (" (met)" if tg["slowdown_all_below_2x"] else " (not met everywhere)")
        )
    lines.append(f"identical spikes and steps in every comparison: {res['all_identical']}; {res['seconds']:.0f} s")
    return "\n".join(lines)
