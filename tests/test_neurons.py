import math

import pytest
import torch
from torch import nn

from swiftspike import SNN, SwiftSpikeError, reset, run_step
from swiftspike.neurons import (
    IF,
    LI,
    LIF,
    ATan,
    FastSigmoid,
    HardReset,
    LIFParameters,
    LIFState,
    NoReset,
    Rectangular,
    Sigmoid,
    SoftReset,
    Triangular,
    get_surrogate,
    lif_multistep,
)

SURROGATES = [ATan(2.0), FastSigmoid(5.0), Sigmoid(4.0), Rectangular(0.8), Triangular(0.7)]


def run_trace(neuron, inputs):
    x = torch.tensor(inputs, dtype=torch.float32).view(-1, 1, 1)
    return neuron(x).view(-1).tolist(), float(neuron.state.v)


def test_if_hard_vs_soft_reset_hand_computed():
    # IF, threshold 1, constant input 0.7
    # hard: v = .7, 1.4->spike->0, .7, 1.4->spike->0, .7
    # soft: v = .7, 1.4->spike->.4, 1.1->spike->.1, .8, 1.5->spike->.5
    hard, v_hard = run_trace(IF(v_threshold=1.0, reset="hard"), [0.7] * 5)
    soft, v_soft = run_trace(IF(v_threshold=1.0, reset="soft"), [0.7] * 5)
    assert hard == [0, 1, 0, 1, 0]
    assert v_hard == pytest.approx(0.7)
    assert soft == [0, 1, 1, 0, 1]
    assert v_soft == pytest.approx(0.5)


def test_lif_leak_and_v_reset_hand_computed():
    # beta = 0.5 (tau = 1/ln 2), threshold 1.2, input 1.0, v_reset = -0.5
    # t0: h=1.0 ; t1: h=1.5 spike -> -0.5 ; t2: h=-0.25+1=0.75 ; t3: h=0.375+1=1.375 spike
    lif = LIF(tau=1 / math.log(2), v_threshold=1.2, v_reset=-0.5)
    spikes, v = run_trace(lif, [1.0] * 4)
    assert spikes == [0, 1, 0, 1]
    assert v == pytest.approx(-0.5)
    lif_soft = LIF(tau=1 / math.log(2), v_threshold=1.2, reset="soft")
    spikes, v = run_trace(lif_soft, [1.0] * 4)
    # soft: t1 h=1.5 -> .3 ; t2 h=.15+1=1.15 ; t3 h=.575+1=1.575 spike -> .375
    assert spikes == [0, 1, 0, 1]
    assert v == pytest.approx(0.375)


def test_refractory_steps_hand_computed():
    spikes, _ = run_trace(IF(v_threshold=1.0, refractory_steps=2), [1.0] * 7)
    assert spikes == [1, 0, 0, 1, 0, 0, 1]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(reset="hard"),
        dict(reset="soft"),
        dict(reset="hard", refractory_steps=2),
        dict(reset="soft", v_reset=0.0, tau=3.0),
        dict(reset="hard", v_reset=-0.3, detach_reset=True),
    ],
)
def test_single_step_equals_multi_step(kwargs):
    torch.manual_seed(0)
    x = torch.randn(30, 5, 8) * 1.2
    multi = LIF(step_mode="m", **kwargs)
    single = LIF(step_mode="s", **kwargs)
    out_m = multi(x)
    out_s = torch.stack([single(x[t]) for t in range(x.shape[0])])
    assert torch.equal(out_m, out_s)
    assert torch.allclose(multi.state.v, single.state.v, atol=1e-6)
    assert out_m.sum() > 0  # the test exercises firing


def test_network_single_step_equals_multi_step():
    torch.manual_seed(1)
    layers = lambda mode: [nn.Linear(6, 10), LIF(step_mode=mode), nn.Linear(10, 3), LIF(step_mode=mode, reset="soft")]
    net_m = SNN(*layers("m"))
    net_s = SNN(*layers("s"))
    net_s.load_state_dict(net_m.state_dict())
    x = torch.rand(12, 4, 6) * 2
    out_m = net_m(x)
    out_s = torch.stack([run_step(net_s, x[t]) for t in range(12)])
    assert torch.equal(out_m, out_s)


@pytest.mark.parametrize("chunk", [7, 1 << 17], ids=["tiny-chunks", "default-chunks"])
@pytest.mark.parametrize("soft", [False, True])
@pytest.mark.parametrize("detach", [False, True])
def test_fused_gradients_equal_reference(soft, detach, chunk, monkeypatch):
    from swiftspike.neurons import functional

    monkeypatch.setattr(functional, "_CHUNK_ELEMS", chunk)
    torch.manual_seed(2)
    x = (torch.randn(25, 3, 6) * 1.5).requires_grad_()
    v0 = (torch.randn(3, 6) * 0.3).requires_grad_()
    beta = torch.tensor(0.8, requires_grad=True)
    th = torch.full((6,), 0.9).requires_grad_()  # per-neuron threshold
    weights = torch.randn(25, 3, 6)
    grads = []
    for fused in (True, False):
        p = LIFParameters(beta, th, SoftReset() if soft else HardReset(-0.1), 0, ATan(), detach)
        s, st = lif_multistep(x, LIFState(v0), p, fused=fused)
        ((s * weights).sum() + (st.v**2).sum()).backward()
        grads.append([s.detach()] + [t.grad.clone() for t in (x, v0, beta, th)])
        for t in (x, v0, beta, th):
            t.grad = None
    (s1, *g1), (s2, *g2) = grads
    assert torch.equal(s1, s2)
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)
        assert a.abs().sum() > 0


@pytest.mark.parametrize("sg", SURROGATES, ids=lambda s: s.name)
def test_surrogate_derivative_matches_finite_difference(sg):
    x = torch.linspace(-2.0, 2.0, 401, dtype=torch.float64)
    # stay away from the kinks of the piecewise surrogates
    width = getattr(sg, "width", None)
    if width is not None:
        kinks = torch.tensor(
            [-width / 2, width / 2] if sg.name == "rectangular" else [-width, 0.0, width], dtype=torch.float64
        )
        x = x[(x.view(-1, 1) - kinks.view(1, -1)).abs().min(1).values > 1e-3]
    eps = 1e-6
    fd = (sg.smooth(x + eps) - sg.smooth(x - eps)) / (2 * eps)
    assert torch.allclose(sg.derivative(x), fd, atol=1e-5)
    # smooth goes from 0 to 1
    assert float(sg.smooth(torch.tensor(-50.0))) == pytest.approx(0, abs=0.02)
    assert float(sg.smooth(torch.tensor(50.0))) == pytest.approx(1, abs=0.02)


@pytest.mark.parametrize("sg", SURROGATES, ids=lambda s: s.name)
def test_surrogate_forward_is_heaviside_backward_is_derivative(sg):
    x = torch.tensor([-1.0, -0.1, 0.0, 0.2, 3.0], requires_grad=True)
    y = sg(x)
    assert y.tolist() == [0, 0, 1, 1, 1]
    y.sum().backward()
    assert torch.allclose(x.grad, sg.derivative(x.detach()))


def test_learnable_tau_and_threshold_receive_gradients():
    lif = LIF(tau=4.0, learn_tau=True, learn_threshold=True)
    assert {n for n, _ in lif.named_parameters()} == {"tau", "v_threshold"}
    x = torch.rand(10, 4, 5) * 1.5
    lif(x).sum().backward()
    assert lif.tau.grad is not None and lif.tau.grad != 0
    assert lif.v_threshold.grad is not None and lif.v_threshold.grad != 0


def test_reset_is_scoped_to_the_given_network():
    a, b = LIF(), LIF()
    net = SNN(nn.Linear(2, 2), a)
    x = torch.ones(3, 1, 2)
    net(x)
    b(torch.ones(3, 1, 2))
    assert a.state is not None and b.state is not None
    reset(net)
    assert a.state is None
    assert b.state is not None


def test_state_carries_across_segments():
    torch.manual_seed(3)
    x = torch.randn(40, 2, 4) * 1.3
    whole = LIF()(x)
    seg = LIF()
    parts = torch.cat([seg(x[:13]), seg(x[13:29]), seg(x[29:])])
    assert torch.equal(whole, parts)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LIF(tau=-1.0),
        lambda: LIF(tau=0.0),
        lambda: LIF(reset="sideways"),
        lambda: LIF(refractory_steps=-1),
        lambda: LIF(v_threshold=float("nan")),
        lambda: LIF(surrogate="nope"),
        lambda: IF(tau=3.0),
        lambda: LIF(step_mode="x"),
        lambda: get_surrogate("tanh"),
        lambda: ATan(alpha=0),
    ],
)
def test_bad_neuron_arguments(make):
    with pytest.raises(SwiftSpikeError):
        make()


def test_bad_neuron_inputs():
    lif = LIF()
    with pytest.raises(SwiftSpikeError, match="T=0"):
        lif(torch.zeros(0, 2, 3))
    with pytest.raises(SwiftSpikeError):
        lif(torch.zeros(5))
    lif(torch.zeros(3, 2, 3))
    with pytest.raises(SwiftSpikeError, match="reset"):
        lif(torch.zeros(3, 4, 3))  # state of another shape


# -- one kernel: fused path == step loop, NoReset via the scan, bad values ------------------------------
@pytest.mark.parametrize("reset", [HardReset(0.0), HardReset(-0.2), SoftReset()], ids=["hard0", "hard-0.2", "soft"])
@pytest.mark.parametrize("per_neuron", [False, True])
def test_fused_forward_is_bit_identical_to_the_step_loop(reset, per_neuron):
    torch.manual_seed(4)
    x = torch.randn(120, 6, 32) * 1.3
    beta = torch.rand(32) * 0.5 + 0.5 if per_neuron else torch.tensor(0.8187)
    p = LIFParameters(beta, torch.tensor(0.9), reset)
    ref_s, ref = lif_multistep(x, LIFState(torch.zeros(6, 32)), p, fused=False)
    val_s, val = lif_multistep(x, LIFState(torch.zeros(6, 32)), p)  # value path (no gradients)
    grd_s, grd = lif_multistep(x.clone().requires_grad_(), LIFState(torch.zeros(6, 32)), p)  # autograd function
    assert ref_s.sum() > 100
    for s, st in ((val_s, val), (grd_s, grd)):
        assert torch.equal(s, ref_s) and torch.equal(st.v, ref.v)


def test_noreset_runs_on_the_scan_with_the_step_loops_spikes_and_gradients():
    torch.manual_seed(5)
    x = (torch.randn(70, 3, 5) * 0.6).requires_grad_()  # T = 70 > one scan chunk
    v0 = (torch.randn(3, 5) * 0.2).requires_grad_()
    beta = torch.tensor(0.85, requires_grad=True)
    th = torch.full((5,), 0.7, requires_grad=True)
    w = torch.randn(70, 3, 5)
    out = []
    for fused in (True, False):
        s, st = lif_multistep(x, LIFState(v0), LIFParameters(beta, th, NoReset()), fused=fused)
        ((s * w).sum() + (st.v**2).sum()).backward()
        out.append([s.detach(), st.v.detach()] + [t.grad.clone() for t in (x, v0, beta, th)])
        for t in (x, v0, beta, th):
            t.grad = None
    (s1, v1, *g1), (s2, v2, *g2) = out
    assert torch.equal(s1, s2) and s1.sum() > 0
    assert torch.allclose(v1, v2, atol=1e-5)
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5) and a.abs().sum() > 0


def test_lif_noreset_module_is_the_kernel_with_noreset():
    from swiftspike.neurons import LIFNoReset

    n = LIFNoReset(tau=3.0, v_threshold=0.5)
    assert isinstance(n.reset_mechanism, NoReset) and n.params.reset == NoReset()
    x = torch.randn(40, 2, 3)
    ref, _ = lif_multistep(x, LIFState(torch.zeros(2, 3)), n.params, fused=False)
    assert torch.equal(n(x), ref)


def test_all_finite_is_exact():
    from swiftspike.errors import all_finite

    x = torch.rand(50, 7)
    assert all_finite(x) and all_finite(torch.zeros(0)) and all_finite(torch.tensor([1, 2]))
    for bad in (math.nan, math.inf, -math.inf):
        y = x.clone()
        y[13, 4] = bad
        assert not all_finite(y)
    assert all_finite(torch.tensor([3e38, 3e38]))  # large but finite: no false alarm from overflow


@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda: LIF(), (4, 2, 3)),
        (lambda: LIF(step_mode="s"), (2, 3)),
        (lambda: IF(reset="soft"), (4, 2, 3)),
        (lambda: LIF(refractory_steps=2), (4, 2, 3)),
        (lambda: LI(), (4, 2, 3)),
        (lambda: LI(step_mode="s"), (2, 3)),
        (lambda: __import__("swiftspike.neurons", fromlist=["LIFNoReset"]).LIFNoReset(), (4, 2, 3)),
        (lambda: __import__("swiftspike.neurons", fromlist=["PSN"]).PSN(4), (4, 2, 3)),
        (lambda: __import__("swiftspike.neurons", fromlist=["SlidingPSN"]).SlidingPSN(), (4, 2, 3)),
    ],
    ids=["lif", "lif-s", "if", "lif-refrac", "li", "li-s", "lif-noreset", "psn", "sliding-psn"],
)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_or_inf_into_a_neuron_module_is_a_clear_error(make, shape, bad):
    x = torch.rand(shape)
    x.view(-1)[3] = bad
    with pytest.raises(SwiftSpikeError, match="NaN or inf"):
        make()(x)
