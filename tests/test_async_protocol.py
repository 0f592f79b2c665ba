"""Protocol options of the async engine on hand-made graphs (per-frame stop and metrics, refractory dropout at
inference, refractory clamp, redrawn random priorities, the asynctorch membrane regime and preset)."""

import math

import pytest
import torch
from torch import nn

from swiftspike import IF, LIF
from swiftspike.asynch import ASYNCTORCH_NEURON, AsyncConfig, AsyncEngine, AsyncGraph, RandomScheduler, frame_latency
from swiftspike.errors import SwiftSpikeError


def _linear(n_in, n_out, w):
    lin = nn.Linear(n_in, n_out, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.as_tensor(w, dtype=torch.float32).reshape(n_out, n_in))
    return lin


def _fan_in_graph(w_out=((1.0, 1.0, 1.0),)):
    """input(1) -> A (3 IF, all fire in step 1) -> O (output neurons, weights ``w_out``; their membrane decays
    by exp(-100) per frame, so that every frame starts alike)."""
    g = AsyncGraph((1,))
    a = g.add_population("A", IF(), (3,))
    o = g.add_population("O", LIF(tau=0.01), (len(w_out),))
    g.connect(-1, a, _linear(1, 3, [[2.0], [2.0], [2.0]]))
    g.connect(a, o, _linear(3, len(w_out), w_out))
    return g


def test_frame_stop_cuts_each_frame_k_steps_after_its_first_output_spike():
    """F=1: A fires 3 spikes in step 1, one reaches O per step, O fires in step 2; quiescence after 4 steps."""
    g = _fan_in_graph()
    x = torch.ones(3, 2, 1)
    with torch.no_grad():
        quiet = AsyncEngine(g, AsyncConfig(F=1)).run(x)
        cut = {k: AsyncEngine(g, AsyncConfig(F=1, stop="frame_first_output", k=k)).run(x) for k in (0, 1, 2)}
        whole = AsyncEngine(g, AsyncConfig(F=1, stop="first_output", k=0)).run(x)
    assert (quiet.frame_steps == 4).all()
    for k, steps in ((0, 2), (1, 3), (2, 4)):
        rec = cut[k]
        assert (rec.frame_steps == steps).all()  # every frame is cut k steps after its first output spike
        assert (rec.output.sum(2) == 1).all()  # and every frame runs again from its start: one output per frame
        assert (rec.stats["frame_steps_to_first_output"] == 2).all()
        assert torch.equal(rec.stats["frames_cut"], torch.full((2,), 3.0 if k < 2 else 0.0, dtype=torch.float64))
    assert torch.equal(cut[0].stats["frame_spikes"], torch.full((3, 2), 4.0, dtype=torch.float64))
    # the whole-sample rule stops for good: later frames take no step and give no output
    assert whole.frame_steps[0].tolist() == [2.0, 2.0] and (whole.frame_steps[1:] == 0).all()
    assert whole.output.sum() == 2


def test_per_frame_metrics_count_steps_and_spikes_within_each_frame():
    """O0 fires at frame step 2 (after A's 3 spikes), O1 (0.4 per event) at step 4 (after 3 A + 1 O0 spikes)."""
    g = _fan_in_graph(((1.0, 1.0, 1.0), (0.4, 0.4, 0.4)))
    x = torch.ones(2, 2, 1)
    y = torch.tensor([0, 1])
    with torch.no_grad():
        rec = AsyncEngine(g, AsyncConfig(F=1)).run(x, y)
    s = rec.stats
    assert s["frame_steps_to_first_output"].shape == (2, 2)
    assert (s["frame_steps_to_first_output"] == 2).all() and (s["frame_spikes_to_first_output"] == 3).all()
    assert s["frame_steps_to_first_correct"][:, 0].tolist() == [2, 2]
    assert s["frame_steps_to_first_correct"][:, 1].tolist() == [4, 4]
    assert s["frame_spikes_to_first_correct"][:, 1].tolist() == [4, 4]
    assert s["spikes_to_first_output"].tolist() == [3, 3] and s["steps_to_first_output"].tolist() == [2, 2]
    lat = frame_latency(s)
    assert lat["steps_to_first_output"] == 2 and lat["spikes_to_first_correct"] == pytest.approx(3.5)
    assert lat["frames_with_output"] == 1.0
    # a frame without output spikes has no latency (nan), and is left out of the means
    x0 = torch.tensor([[[1.0], [0.0]], [[1.0], [1.0]]])
    with torch.no_grad():
        rec0 = AsyncEngine(g, AsyncConfig(F=1)).run(x0, y)
    assert math.isnan(float(rec0.stats["frame_steps_to_first_output"][0, 1]))
    assert frame_latency(rec0.stats)["frames_with_output"] == 0.75


def _self_exciting():
    """input -> A (one IF neuron) with a self-connection of weight 1: each of its spikes drives it over threshold."""
    g = AsyncGraph((1,))
    a = g.add_population("A", IF(), (1,))
    g.connect(-1, a, _linear(1, 1, [[1.0]]))
    g.connect(a, a, _linear(1, 1, [[1.0]]))
    return g


def test_refractory_dropout_at_inference_lets_neurons_fire_again():
    g = _self_exciting()
    x = torch.ones(2, 400, 1)
    with torch.no_grad():
        strict = AsyncEngine(g, AsyncConfig(F=1, refractory_dropout=0.5)).run(x)
        refire = AsyncEngine(
            g,
            AsyncConfig(F=1, refractory_dropout=0.5, refractory_dropout_eval=True, max_steps_per_frame=200),
            generator=torch.Generator().manual_seed(0),
        ).run(x)
    assert (strict.output == 1).all()  # without gradients dropout is off by default: one spike per frame
    assert refire.output.max() > 3
    # a spike locks the neuron with probability 1 - p = 0.5: spikes per frame ~ geometric with mean 2
    assert 1.8 < float(refire.output.mean()) < 2.2


@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_refractory_clamp_holds_the_membrane_at_zero_and_discards_input(reset):
    """Queued inputs 2 and 1 (weights 1 and 0.7) reach A one per step: A fires on the first; the second arrives
    while it is refractory."""
    g = AsyncGraph((2,))
    a = g.add_population("A", IF(reset=reset), (1,))
    g.connect(-1, a, _linear(2, 1, [[1.0, 0.7]]))
    x_t = torch.tensor([[2.0, 1.0]])
    ends = {}
    for clamp in (False, True):
        eng = AsyncEngine(g, AsyncConfig(F=1, input_mode="queued", refractory_clamp=clamp))
        st = eng.init_state(1)
        with torch.no_grad():
            out, _, _ = eng.run_frame(st, x_t)
            assert out.tolist() == [[1.0]]
            v1 = float(st.v)
            eng.run_frame(st, torch.zeros(1, 2))  # the next frame starts from what is left
        ends[clamp] = (v1, float(st.v))
    assert ends[False][0] == pytest.approx(0.7 if reset == "hard" else 1.7)  # kept integrating
    assert ends[True] == (0.0, 0.0)  # held at 0, the input discarded, nothing carried over


def test_redrawn_random_priorities_change_the_emission_order():
    """A fires 3 spikes in step 1 (F=1); one reaches B, whose spike competes in step 2 with the 2 A spikes that
    lost the first draw. Keys fixed at enqueue: B's spike wins with probability 1/2 (the losers hold the two
    lowest of three keys); keys redrawn at every step: 1/3. C fires in step 3 exactly when B's spike won."""
    g = AsyncGraph((1,))
    a = g.add_population("A", IF(), (3,))
    b = g.add_population("B", IF(), (3,))
    c = g.add_population("C", IF(), (3,))
    g.connect(-1, a, _linear(1, 3, [[2.0]] * 3))
    g.connect(a, b, _linear(3, 3, torch.eye(3) * 2))
    g.connect(b, c, _linear(3, 3, torch.eye(3) * 2))
    x = torch.ones(1, 4000, 1)
    share = {}
    for redraw in (False, True):
        eng = AsyncEngine(
            g, AsyncConfig(F=1, scheduler=RandomScheduler(redraw=redraw)), generator=torch.Generator().manual_seed(0)
        )
        with torch.no_grad():
            rec = eng.run(x)
        share[redraw] = float((rec.stats["frame_steps_to_first_output"][0] == 3).double().mean())
    assert 0.46 < share[False] < 0.54
    assert 0.30 < share[True] < 0.37


def test_membrane_regime_of_the_asynctorch_examples():
    """tau = 0.1 frame: the membrane decays by exp(-10) per frame (wiped); threshold 0.3, hard reset to 0."""
    lif = LIF(**ASYNCTORCH_NEURON)
    assert float(lif.beta) == pytest.approx(math.exp(-10)) and float(lif.v_threshold) == pytest.approx(0.3)
    for neuron, fires in ((lif, False), (LIF(tau=5.0, v_threshold=0.3), True)):
        g = AsyncGraph((1,))
        a = g.add_population("A", neuron, (1,))
        g.connect(-1, a, _linear(1, 1, [[0.2]]))  # bias-free
        assert not g.has_bias()
        eng = AsyncEngine(g, AsyncConfig.asynctorch(F=4))
        st = eng.init_state(1)
        with torch.no_grad():
            o1, _, _ = eng.run_frame(st, torch.ones(1, 1))  # 0.2 < 0.3
            v1 = float(st.v)
            o2, _, _ = eng.run_frame(st, torch.ones(1, 1))  # beta * 0.2 + 0.2
            eng.run_frame(st, torch.zeros(1, 1))  # no input: the frame settles with its leak
        assert float(o1) == 0 and v1 == pytest.approx(0.2)
        assert float(o2) == float(fires)
        if not fires:
            assert float(st.v) == pytest.approx(float(neuron.beta) * (0.2 * float(neuron.beta) + 0.2), rel=1e-5)


def test_asynctorch_preset_sets_every_engine_option():
    cfg = AsyncConfig.asynctorch(F=8)
    assert cfg.F == 8 and cfg.input_mode == "start" and cfg.refractory_dropout == 0.8
    assert cfg.refractory_dropout_eval and cfg.refractory_clamp
    assert isinstance(cfg.scheduler, RandomScheduler) and cfg.scheduler.redraw
    mom = AsyncConfig.preset("asynctorch", F=4, scheduler="momentum", stop="frame_first_output", k=1)
    assert mom.scheduler.name == "momentum" and mom.stop == "frame_first_output" and mom.k == 1
    assert AsyncConfig.preset("swiftspike", F=3) == AsyncConfig(F=3)
    with pytest.raises(SwiftSpikeError, match="protocol"):
        AsyncConfig.preset("asynctorch2")
    with pytest.raises(SwiftSpikeError, match="unknown async engine option"):
        AsyncConfig.asynctorch(colour="blue")
    with pytest.raises(SwiftSpikeError, match="currents"):
        AsyncConfig(currents="sparse").validate()
    with pytest.raises(SwiftSpikeError, match="refractory_clamp"):
        AsyncConfig(refractory_clamp="yes").validate()
    # the preset runs a network end to end, re-firing allowed at inference
    g = _self_exciting()
    with torch.no_grad():
        rec = AsyncEngine(
            g, AsyncConfig.asynctorch(F=1, max_steps_per_frame=100), generator=torch.Generator().manual_seed(1)
        ).run(torch.ones(2, 300, 1))
    assert rec.output.max() > 1
