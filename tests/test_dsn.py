"""Dynamic-decay spiking neuron: parallel (chunked scan) == serial, gradients, segments, stability."""

import math

import pytest
import torch

from swiftspike.errors import SwiftSpikeError
from swiftspike.neurons import DSN, expand_integer_spikes, integer_spike, reset, spike_time_metrics
from swiftspike.neurons.factory import make_neuron
from swiftspike.neurons.scan import auto_chunk, linear_scan, linear_scan_serial


def _rel(a, b):
    return float((a - b).detach().norm() / b.detach().norm().clamp_min(1e-30))


def _dsn(C, gate_bias=1.0, seed=0, **kw):
    torch.manual_seed(seed)
    n = DSN(channels=C, gate_bias=gate_bias, **kw)
    with torch.no_grad():
        n.bias.add_(torch.randn(C))  # different gates per channel
    return n


@pytest.mark.parametrize("T,chunk", [(1, None), (7, 4), (64, 8), (300, 8), (1000, None), (5000, 16)])
def test_scan_matches_serial_float64(T, chunk):
    g = torch.Generator().manual_seed(T)
    la = -torch.rand(T, 3, 5, generator=g, dtype=torch.float64) * 4
    b = torch.randn(T, 3, 5, generator=g, dtype=torch.float64)
    h0 = torch.randn(3, 5, generator=g, dtype=torch.float64)
    for t in (la, b, h0):
        t.requires_grad_()
    H = linear_scan(la, b, h0, chunk=chunk)
    Hs = linear_scan_serial(la, b, h0)
    assert torch.allclose(H, Hs, rtol=1e-12, atol=1e-12)
    w = torch.randn(H.shape, generator=g, dtype=torch.float64)
    g1 = torch.autograd.grad((H * w).sum(), (la, b, h0))
    g2 = torch.autograd.grad((Hs * w).sum(), (la, b, h0))
    for x, y in zip(g1, g2):
        assert torch.allclose(x, y, rtol=1e-10, atol=1e-12)


def test_scan_analytic_constant_decay():
    # H_t = a H_{t-1} + 1 from 0 -> (1 - a^{t+1}) / (1 - a)
    a, T = 0.9, 500
    H = linear_scan(torch.full((T, 1), math.log(a), dtype=torch.float64), torch.ones(T, 1, dtype=torch.float64))
    t = torch.arange(T, dtype=torch.float64)
    assert torch.allclose(H[:, 0], (1 - a ** (t + 1)) / (1 - a), rtol=1e-12)


def test_auto_chunk_and_bad_input():
    assert auto_chunk(1) == 8 and auto_chunk(256) == 16 and auto_chunk(1024) == 32 and auto_chunk(16384) == 32
    with pytest.raises(SwiftSpikeError):
        linear_scan(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(SwiftSpikeError):
        linear_scan(torch.zeros(3, 2), torch.zeros(3, 2), chunk=1)


@pytest.mark.parametrize("gate", ["random", "near0", "near1"])
def test_parallel_equals_serial_membrane_and_spikes(gate):
    T, B, C = 400, 3, 6
    bias = {"random": 1.0, "near0": -12.0, "near1": 12.0}[gate]
    n = _dsn(C, gate_bias=bias)
    torch.manual_seed(1)
    x = torch.randn(T, B, C) * 2 + 1
    Hp = n.membrane(x, path="parallel")
    n.reset_state()
    Hs = n.membrane(x, path="serial")
    assert _rel(Hp, Hs) < 1e-5
    # spikes identical away from rounding ties (x.5) and the [0, N] clip edges
    sp, ss = integer_spike(Hp, 4), integer_spike(Hs, 4)
    frac = (Hs - Hs.floor() - 0.5).abs()
    away = frac > 1e-4
    assert away.float().mean() > 0.99
    assert torch.equal(sp[away], ss[away])


def test_single_step_mode_matches_multistep():
    T, B, C = 50, 2, 4
    n = _dsn(C)
    x = torch.randn(T, B, C) + 0.8
    s_multi = n(x)
    reset(n)
    n.step_mode = "s"
    s_single = torch.stack([n(x[t]) for t in range(T)])
    H_state = n.state.h
    assert torch.equal(s_multi, s_single)
    n.step_mode = "m"
    reset(n)
    n(x)
    assert torch.allclose(n.state.h, H_state, rtol=1e-5, atol=1e-6)


def test_gradients_parallel_equal_serial():
    T, B, C = 120, 2, 3
    torch.manual_seed(0)
    x0 = torch.randn(T, B, C, dtype=torch.float64) + 1
    grads = []
    for path in ("parallel", "serial"):
        n = _dsn(C, path=path).double()
        x = x0.clone().requires_grad_()
        H = n.membrane(x)
        s = n.spikes(H)
        loss = (H * torch.linspace(-1, 1, T, dtype=torch.float64)[:, None, None]).sum() + (s * H).sum()
        loss.backward()
        grads.append((x.grad, n.weight.grad, n.bias.grad))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-10)
        assert a.abs().sum() > 0


def test_gradients_float32_and_binary_mode():
    T, B, C = 200, 2, 4
    torch.manual_seed(2)
    x0 = torch.randn(T, B, C)
    grads = []
    for path in ("parallel", "serial"):
        n = _dsn(C, path=path, mode="binary")
        x = x0.clone().requires_grad_()
        n(x).sum().backward()
        grads.append((x.grad, n.weight.grad, n.bias.grad))
    for a, b in zip(*grads):
        assert _rel(a, b) < 1e-4


def test_segments_equal_whole_sequence():
    T, B, C = 333, 2, 5
    n = _dsn(C)
    x = torch.randn(T, B, C) + 0.5
    whole = n.membrane(x)
    reset(n)
    parts = [n.membrane(seg) for seg in torch.split(x, [1, 2, 100, 30, 200])]
    assert _rel(torch.cat(parts), whole) < 1e-6
    # mixed: parallel segments then serial steps
    reset(n)
    first = n.membrane(x[:150])
    rest = n.membrane(x[150:], path="serial")
    assert _rel(torch.cat([first, rest]), whole) < 1e-5


@pytest.mark.parametrize("bias", [-40.0, 40.0, 0.0])
def test_long_sequence_is_finite(bias):
    T = 16384
    n = _dsn(8, gate_bias=bias)
    x = (torch.randn(T, 2, 8) * 3).requires_grad_()
    s = n(x)
    assert torch.isfinite(n.state.h).all()
    s.sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(n.weight.grad).all()
    # mid-range gates: parallel still equals serial at the end of a long run
    if bias == 0.0:
        with torch.no_grad():
            reset(n)
            Hp = n.membrane(x[:4096].detach())
            reset(n)
            Hs = n.membrane(x[:4096].detach(), path="serial")
        assert _rel(Hp, Hs) < 1e-5


def test_gates_near_zero_follow_input_and_near_one_hold():
    x = torch.randn(100, 1, 3)
    n0 = DSN(channels=3, gate_bias=-40.0)
    with torch.no_grad():
        n0.weight.zero_()
    assert torch.allclose(n0.membrane(x), x, atol=1e-6)  # a ~ 0: H_t = X_t (acts as reset)
    n1 = DSN(channels=3, gate_bias=40.0)
    with torch.no_grad():
        n1.weight.zero_()
    assert n1.membrane(x).abs().max() < 1e-6  # a ~ 1: H stays at its initial 0


def test_integer_spike_straight_through():
    h = torch.tensor([-0.7, 0.2, 0.5001, 2.4, 3.6, 4.0, 5.2], requires_grad=True)
    s = integer_spike(h, 4)
    assert s.tolist() == [0.0, 0.0, 1.0, 2.0, 4.0, 4.0, 4.0]
    s.sum().backward()
    assert h.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]


def test_expand_integer_spikes_and_metrics():
    s = torch.tensor([[0.0, 3.0], [4.0, 1.0]])  # [T=2, B=2]
    b = expand_integer_spikes(s, 4)
    assert b.shape == (8, 2)
    assert torch.equal(b.sum(0), s.sum(0))
    assert b[:, 1].tolist() == [1, 1, 1, 0, 1, 0, 0, 0]
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    m = spike_time_metrics(s, 4)
    assert m["logical_T"] == 2 and m["effective_T"] == 8 and m["binary_events"] == 8.0


def test_channels_shared_and_conv_shapes():
    n = DSN()  # one gate kernel shared by all channels
    y = n(torch.randn(10, 2, 3, 4, 4))
    assert y.shape == (10, 2, 3, 4, 4)
    nc = DSN(channels=3)
    x = torch.randn(10, 2, 3, 4, 4)
    hp = nc.membrane(x)
    reset(nc)
    assert _rel(nc.membrane(x, path="serial"), hp) < 1e-5


def test_bad_inputs():
    with pytest.raises(SwiftSpikeError):
        DSN(channels=4)(torch.randn(5, 2, 3))
    with pytest.raises(SwiftSpikeError):
        DSN(backend="triton")
    with pytest.raises(SwiftSpikeError):
        DSN(mode="ternary")
    with pytest.raises(SwiftSpikeError):
        DSN(tau=0.0)
    with pytest.raises(SwiftSpikeError):
        DSN()(torch.zeros(0, 2, 3))
    n = DSN()
    n(torch.randn(4, 2, 3))
    with pytest.raises(SwiftSpikeError):
        n(torch.randn(4, 5, 3))
    with pytest.raises(SwiftSpikeError):
        make_neuron("dsn", channels=0)


def test_factory_names():
    assert make_neuron("dsn-binary", channels=2).mode == "binary"
    assert make_neuron("dsn").mode == "integer"
    assert isinstance(make_neuron("dsn", path="serial"), DSN)
    with pytest.raises(SwiftSpikeError):
        make_neuron("dsn-binary", mode="integer")


def test_gradients_flow_through_carried_state_across_segments():
    T, B, C = 90, 2, 3
    torch.manual_seed(4)
    x0 = torch.randn(T, B, C, dtype=torch.float64)
    grads = []
    for split in (None, [40, 50], [1, 3, 86], [5, 1, 1, 2, 81], [2, 1, 87]):
        n = _dsn(C).double()
        x = x0.clone().requires_grad_()
        H = n.membrane(x) if split is None else torch.cat([n.membrane(s) for s in torch.split(x, split)])
        (H**2).sum().backward()
        grads.append((x.grad, n.weight.grad, n.bias.grad))
    for other in grads[1:]:
        for a, b in zip(grads[0], other):
            assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


def test_kernel_size_one_has_no_window():
    n = DSN(channels=2, kernel_size=1)
    x = torch.randn(20, 1, 2)
    hp = n.membrane(x)
    reset(n)
    assert _rel(n.membrane(x, path="serial"), hp) < 1e-5


# --- fused block-wise parallel path: blocks, fused spikes, gate accuracy, memory, bad values ---


@pytest.mark.parametrize(
    "T,k,chunk", [(1, 4, None), (3, 11, None), (50, 11, 8), (97, 4, 8), (130, 1, 8), (300, 6, None)]
)
def test_many_small_blocks_equal_serial_float64(monkeypatch, T, k, chunk):
    from swiftspike.neurons import scan

    monkeypatch.setattr(scan, "BLOCK_ELEMS", 64)  # many blocks, partial last chunks, halos across blocks
    C = 3
    grads = []
    for path in ("parallel", "serial"):
        n = _dsn(C, seed=1, kernel_size=k, chunk=chunk, path=path).double()
        torch.manual_seed(2)
        x = (torch.randn(T, 2, C, dtype=torch.float64) + 1).requires_grad_()
        s = T // 3
        H = torch.cat([n.membrane(x[:s]), n.membrane(x[s:])]) if s else n.membrane(x)
        ((H * torch.linspace(-1, 1, T, dtype=torch.float64)[:, None, None]).sum() + (H**2).sum()).backward()
        grads.append((H.detach(), x.grad, n.weight.grad, n.bias.grad))
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fused_integer_spikes_equal_membrane_then_spikes(monkeypatch, dtype):
    from swiftspike.neurons import scan

    monkeypatch.setattr(scan, "BLOCK_ELEMS", 256)
    n = _dsn(5).to(dtype)
    x0 = torch.randn(700, 3, 5, dtype=dtype) * 2 + 1.5
    res = []
    for fused in (True, False):
        reset(n)
        n.zero_grad()
        x = x0.clone().requires_grad_()
        if fused:  # forward() of an integer DSN: spikes from the fused node
            s = torch.cat([n(x[:300]), n(x[300:])])
        else:
            s = torch.cat([integer_spike(n.membrane(x[:300]), 4), integer_spike(n.membrane(x[300:]), 4)])
        (s * torch.linspace(-1, 2, 700, dtype=dtype)[:, None, None]).sum().backward()
        res.append((s.detach(), x.grad, n.weight.grad, n.bias.grad, n.state.h.detach()))
    assert res[0][0].sum() > 100  # spikes of several sizes
    for a, b in zip(*res):
        assert torch.equal(a, b)


@pytest.mark.parametrize("tau", [0.25, 0.5, 1.0, 0.3, 1 / 3])
def test_gate_is_accurate_where_tiny(tau):
    from swiftspike.neurons.dsn import dsn_gate

    def ref(pre):  # a = exp(log sigma / tau), 1 - a = -expm1(log sigma / tau), float64 throughout
        la = torch.nn.functional.logsigmoid(pre.double()) / tau
        return la.exp(), -torch.expm1(la)

    pre = torch.linspace(-30, 30, 2001, dtype=torch.float64)
    a_ref, omb_ref = ref(pre)
    a, omb = dsn_gate(torch.sigmoid(-pre), tau, s=torch.sigmoid(pre))
    assert ((a - a_ref).abs() / a_ref).max() < 1e-13  # also where a ~ 1e-52
    assert ((omb - omb_ref).abs() / omb_ref).max() < 1e-13  # also where 1 - a ~ 1e-13
    p32 = pre.float()
    a_ref, omb_ref = ref(p32)
    a, omb = dsn_gate(torch.sigmoid(-p32), tau, s=torch.sigmoid(p32))
    normal = a_ref > 1e-30  # float32 keeps relative precision above its denormal range
    whole = abs(1 / tau - round(1 / tau)) < 1e-9  # else a = exp(log(s) / tau): |log a| ulps of error
    assert ((a.double() - a_ref).abs() / a_ref)[normal].max() < (2e-6 if whole else 1e-5)
    assert ((omb.double() - omb_ref).abs() / omb_ref).max() < 2e-6
    _, omb_u = dsn_gate(torch.sigmoid(-p32), tau, need_a=False)  # without s: 1 - a still exact
    assert ((omb_u.double() - omb_ref).abs() / omb_ref).max() < 2e-6


@pytest.mark.parametrize("bias", [-12.0, 1.0, 12.0])
def test_float32_parallel_close_to_float64_reference(bias):
    # gates near 0 (bias -12), mid, near 1 (+12): membrane and gradients within float32 rounding
    T, C = 2000, 4
    out = {}
    for name, dt, path in (("ref", torch.float64, "serial"), ("par", torch.float32, "parallel")):
        n = _dsn(C, gate_bias=bias, path=path).to(dt)
        torch.manual_seed(3)
        x = (torch.randn(T, 2, C, dtype=torch.float64) * 2 + 1).to(dt).requires_grad_()
        H = n.membrane(x)
        (H * torch.linspace(-1, 1, T, dtype=dt)[:, None, None]).sum().backward()
        out[name] = [t.double() for t in (H.detach(), x.grad, n.weight.grad, n.bias.grad)]
    for a, b in zip(out["par"], out["ref"]):
        assert _rel(a, b) < 2e-5


def test_parallel_path_keeps_only_input_and_membrane_for_backward():
    T, B, C = 2048, 4, 16
    n = DSN(channels=C)
    x = torch.randn(T, B, C, requires_grad=True)
    saved = {}

    def pack(t):
        if t.untyped_storage().data_ptr() != x.untyped_storage().data_ptr():
            saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        n(x).sum().backward()
    # the membrane H (one [T, B, C] tensor) plus the small state, kernel and window; nothing else
    assert sum(saved.values()) <= x.numel() * 4 * 1.01 + 4096


def test_state_does_not_keep_the_input_or_membrane_alive():
    n = DSN(channels=3)
    x = torch.randn(100, 2, 3)
    n(x)
    for t in n.state:
        assert t.untyped_storage().nbytes() <= 3 * 2 * 3 * 4  # h [B, C] and window [k - 1, B, C], own storage


@pytest.mark.parametrize(
    "path,step_mode,mode",
    [
        ("parallel", "m", "integer"),
        ("parallel", "m", "binary"),
        ("serial", "m", "integer"),
        ("parallel", "s", "integer"),
    ],
)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("where", [0, 37, 99])
def test_nan_or_inf_input_is_one_clear_error(path, step_mode, mode, bad, where):
    n = _dsn(3, path=path, mode=mode)
    n.step_mode = step_mode
    x = torch.randn(100, 2, 3)
    x[where, 1, 2] = bad
    with pytest.raises(SwiftSpikeError, match="DSN input contains NaN or inf"):
        if step_mode == "s":
            for t in range(100):
                n(x[t])
        else:
            n(x)
    if step_mode == "m":
        assert n.state is None  # a failed call leaves the state as it was
    n.reset_state()
    n.step_mode = "m"
    assert torch.isfinite(n(x[:where] if where else x[1:])).all()  # the clean part runs


def test_non_finite_gate_or_unchecked_input():
    n = _dsn(3)
    with torch.no_grad():
        n.weight[1, 2] = float("nan")
    with pytest.raises(SwiftSpikeError, match="gate weight or bias"):
        n(torch.randn(20, 2, 3))
    m = _dsn(3, check_finite=False)  # opt-out: no check, NaN passes through as before
    x = torch.randn(20, 2, 3)
    x[5] = float("nan")
    assert torch.isnan(m.membrane(x)[5:]).all()
