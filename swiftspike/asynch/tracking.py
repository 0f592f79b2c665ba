r"""Metrics of the asynchronous engine, computed once per frame from the per-step trace.

Every forward step records, per sample, whether it stepped, how many network spikes it fired, its output
spikes (or LI membrane), the queue length and the number of emitted events (:class:`StepTrace`). At the
end of the frame :func:`close_frame` turns that into

* whole-run observables carried in :class:`AsyncState` (forward steps, spikes, steps and spikes before the
  first output spike and before the first correct-class output spike, steps / spikes to decision -- the
  step from which the running prediction stays correct -- and queue statistics), and
* per-frame observables (``[B]`` per frame, :data:`FRAME_STATS`): the frame's network spikes, and the forward
  steps and network spikes *within the frame* before its first output spike and before its first
  correct-class output spike (``nan`` where the frame has none). Forward steps count the step of the
  spike itself; spikes count those fired in earlier steps.

:func:`frame_latency` averages the per-frame observables over the (frame, sample) pairs that have one, as
the asynctorch latency monitor does.
"""

from __future__ import annotations

import math

import torch

from .state import FRAME_STATS, AsyncState, StepTrace


def _first_true(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the first ``True`` along dim 0 of ``[S, B]`` and whether there is one."""
    return m.to(torch.uint8).argmax(0), m.any(0)


def _last_true(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    S = m.shape[0]
    return S - 1 - m.flip(0).to(torch.uint8).argmax(0), m.any(0)


def _at(t: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
    return t.gather(0, j[None]).squeeze(0)


def close_frame(st: AsyncState, tr: StepTrace, y: torch.Tensor | None, spiking_output: bool) -> None:
    """Fold one frame's trace into ``st`` (see the module docstring)."""
    B = st.steps.shape[0]
    dev = st.steps.device
    nan = torch.full((B,), math.nan, dtype=torch.float64, device=dev)
    if not tr.stepped:
        st.frame["frame_spikes"].append(torch.zeros_like(nan))
        for key in FRAME_STATS[1:]:
            st.frame[key].append(nan)
        return
    stepped = torch.stack(tr.stepped)  # [S, B]
    f_steps = stepped.to(torch.float64).cumsum(0)
    nsp = torch.stack(tr.spikes).to(torch.float64)
    f_spk = nsp.cumsum(0)
    f_before = f_spk - nsp
    out = torch.stack(tr.out)  # [S, B, C]
    S = out.shape[0]
    frame = dict.fromkeys(FRAME_STATS[1:], nan)
    if spiking_output:
        j, has = _first_true(out.any(2))
        frame["frame_steps_to_first_output"] = torch.where(has, _at(f_steps, j), nan)
        frame["frame_spikes_to_first_output"] = torch.where(has, _at(f_before, j), nan)
        newly = has & torch.isnan(st.first_out_step)
        st.first_out_step = torch.where(newly, st.steps + _at(f_steps, j), st.first_out_step)
        st.first_out_spikes = torch.where(newly, st.spikes + _at(f_before, j), st.first_out_spikes)
        if y is not None:
            corr = out.gather(2, y.view(1, B, 1).expand(S, B, 1)).squeeze(2)
            j, has = _first_true(corr)
            frame["frame_steps_to_first_correct"] = torch.where(has, _at(f_steps, j), nan)
            frame["frame_spikes_to_first_correct"] = torch.where(has, _at(f_before, j), nan)
            newly = has & torch.isnan(st.first_correct_spikes)
            st.first_correct_spikes = torch.where(newly, st.spikes + _at(f_before, j), st.first_correct_spikes)
        prev = st.score if st.score is not None else torch.zeros(out.shape[1:], dtype=torch.float64, device=dev)
        score = prev.to(torch.float64) + out.to(torch.float64).cumsum(0)  # running counts after each step
    else:
        score = out.to(torch.float64)  # the LI membrane after each step
    if y is not None:
        yi = y.view(1, B, 1).expand(S, B, 1)
        ok = score.gather(2, yi).squeeze(2) > score.scatter(2, yi, -math.inf).amax(2)
        prev_ok = torch.cat([st.correct_prev[None], ok[:-1]])
        j, became = _last_true(ok & ~prev_ok & stepped)
        end = ok[-1]
        steps_cum, spk_cum = st.steps + f_steps, st.spikes + f_spk
        st.dec_step = torch.where(end, torch.where(became, _at(steps_cum, j), st.dec_step), nan)
        st.dec_spikes = torch.where(end, torch.where(became, _at(spk_cum, j), st.dec_spikes), nan)
        st.correct_prev = end
    st.score = score[-1]
    st.steps = st.steps + f_steps[-1]
    st.spikes = st.spikes + f_spk[-1]
    qlen = torch.stack(tr.qlen).to(torch.float64)
    st.queue_sum = st.queue_sum + qlen.sum(0)
    st.queue_max = torch.maximum(st.queue_max, qlen.amax(0))
    st.max_emitted = torch.maximum(st.max_emitted, torch.stack(tr.emitted).to(torch.float64).amax(0))
    st.frame["frame_spikes"].append(f_spk[-1])
    for key, val in frame.items():
        st.frame[key].append(val)


def frame_latency(stats: dict[str, torch.Tensor]) -> dict[str, float]:
    """Means of the per-frame observables of ``RunRecord.stats`` over the (frame, sample) pairs that have
    one (``nan`` if none), and the fraction of pairs with an output spike / a correct-class output spike."""
    res: dict[str, float] = {}
    for key in FRAME_STATS[1:]:
        v = stats[key].double()
        ok = torch.isfinite(v)
        res[key[len("frame_") :]] = float(v[ok].mean()) if bool(ok.any()) else math.nan
    for key, name in (
        ("frame_steps_to_first_output", "frames_with_output"),
        ("frame_steps_to_first_correct", "frames_with_correct_output"),
    ):
        res[name] = float(torch.isfinite(stats[key]).double().mean())
    return res
