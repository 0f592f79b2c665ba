"""NIR export/import: exact round trips through swiftspike, snnTorch and Norse, the discretisation rules,
converted SNNs, and one clear error for every bad input.

Peers (snnTorch 1.0, Norse 1.1, both on nirtorch) are skipped cleanly when absent. What they can run:

* snnTorch's ``import_from_nir`` needs one threshold and one ``tau`` per layer (it rescales the threshold by
  the first neuron's gain only), maps ``IF`` to a leaky neuron with beta 0.9 (so IF is not tested), always
  resets hard, and returns float32 spikes (``(v > 0).float()``): the test swaps that Heaviside for a
  dtype-preserving one so that it can compare in float64;
* Norse's ``from_nir`` takes per-neuron arrays and IF, resets hard, has no AvgPool2d or LI, keeps its
  neuron parameters in float32;
* both turn NIR's ``Flatten(start_dim=0)`` (batch excluded) into torch's ``Flatten(0)``, so conv nets run
  on one unbatched sample at a time there.
"""

import itertools
import json
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import swiftspike
from swiftspike.engines.sync import SNN, run_sync
from swiftspike.errors import SwiftSpikeError
from swiftspike.neurons import IF, LI, LIF, reset

nir = pytest.importorskip("nir", reason="NIR export/import needs the optional package 'nir'")

from swiftspike.interop.nir import DEFAULT_DT, Scale, build_layers, export_nir, import_nir, layer_spec

T = 60


# ---------------------------------------------------------------------------------------------------- helpers
def lif(shape, g, soft=False, tau=(2.0, 20.0), th=(0.5, 1.5)):
    """LIF with one tau and threshold per neuron (drawn with generator ``g``)."""
    m = LIF(tau=5.0, reset="soft" if soft else "hard")
    m.tau = torch.empty(shape).uniform_(*tau, generator=g)
    m.v_threshold = torch.empty(shape).uniform_(*th, generator=g)
    return m


def if_(shape, g, soft=False):
    m = IF(reset="soft" if soft else "hard")
    m.v_threshold = torch.empty(shape).uniform_(0.5, 1.5, generator=g)
    return m


def gain(net, k):
    """Scale every weight by ``k`` so that every layer spikes."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                m.weight.mul_(k)
    return net


def fc_net(seed=0):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    return gain(
        SNN(
            nn.Linear(20, 40),
            lif(40, g),
            nn.Linear(40, 30, bias=False),
            lif(30, g, soft=True),
            nn.Linear(30, 20),
            if_(20, g),
            nn.Linear(20, 16, bias=False),
            if_(16, g, soft=True),
            nn.Linear(16, 10),
            LI(tau=6.0),
        ),
        2.0,
    )


def conv_net(seed=0):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    return gain(
        SNN(
            nn.Conv2d(2, 4, 3, padding=1),
            lif((4, 8, 8), g),  # a tau per pixel: exported with a Scale node
            nn.AvgPool2d(2),
            nn.Conv2d(4, 6, 3, padding=1, bias=False),
            lif((6, 1, 1), g, soft=True),
            nn.AvgPool2d(2, divisor_override=1),  # sum pooling
            nn.Flatten(),
            nn.Linear(24, 10),
            lif(10, g),
            nn.Linear(10, 5),
            LI(tau=math.inf),
        ),
        2.5,
    )


def spikes(net, x):
    reset(net)
    rec = run_sync(net, x, record_spikes=True)
    reset(net)
    return [layer.spikes for layer in rec.layers], rec.output


def assert_same_run(a, b, x):
    sa, oa = spikes(a, x)
    sb, ob = spikes(b, x)
    assert len(sa) == len(sb) and len(sa) > 0
    for la, lb in zip(sa, sb):
        assert torch.equal(la, lb)
        assert 0 < la.sum() < la.numel()  # every layer really spikes (the comparison can fail)
    assert torch.equal(oa, ob)


def export_quiet(net, path=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return export_nir(net, path, **kw)


# -------------------------------------------------------------------------------------- swiftspike -> NIR -> swiftspike
def test_fc_round_trip_through_a_file_is_exact(tmp_path):
    net = fc_net()
    with pytest.warns(UserWarning, match="hard reset"):
        graph = swiftspike.export_nir(net, tmp_path / "fc.nir")
    assert isinstance(graph, nir.NIRGraph)
    back = swiftspike.import_nir(tmp_path / "fc.nir")
    x = torch.rand(T, 4, 20, generator=torch.Generator().manual_seed(1)) * 1.5
    assert_same_run(net, back, x)
    # same architecture, same weights bit for bit, same decays (tau itself may differ by float rounding)
    assert [type(m) for m in back] == [type(m) for m in net]
    for a, b in zip(net.state_dict().items(), back.state_dict().items()):
        assert a[0] == b[0] and a[1].shape == b[1].shape
        if not a[0].endswith("tau"):
            assert torch.equal(a[1], b[1]), a[0]
    for a, b in zip(net, back):
        if isinstance(a, (LIF, LI)):
            assert torch.equal(a.beta, b.beta)
        if isinstance(a, LIF):
            assert a.reset_mechanism == b.reset_mechanism
    assert back.input_shape == (20,) and back.dt == DEFAULT_DT


def test_file_holds_the_documented_nir_form(tmp_path):
    net = fc_net()
    export_quiet(net, tmp_path / "fc.nir", dt=1e-3)
    g = nir.read(tmp_path / "fc.nir")
    assert float(g.metadata["dt"]) == 1e-3
    n = g.nodes  # node names: <position>_<type>
    assert [type(n[k]).__name__ for k in ("0_affine", "1_lif", "2_linear", "3_lif", "5_if", "7_if", "9_li")] == [
        "Affine",
        "LIF",
        "Linear",
        "LIF",
        "IF",
        "IF",
        "LI",
    ]
    assert [n[k].metadata.get("reset") for k in ("1_lif", "3_lif", "5_if", "7_if")] == [
        None,
        "subtract",
        None,
        "subtract",
    ]
    first = n["1_lif"]
    beta = net[1].beta.double().numpy()
    assert np.allclose(first.tau, 1e-3 / (1 - beta), rtol=1e-12)  # tau = DT / (1 - beta)
    assert np.all(first.r == 1) and np.all(first.v_leak == 0) and np.all(first.v_reset == 0)
    assert np.allclose(first.v_threshold, net[1].v_threshold.double().numpy())
    assert np.all(n["5_if"].r == 1)
    # the gain 1/(1 - beta) is folded into the weights and the bias of the layer feeding the neuron
    w = net[0].weight.detach().double().numpy()
    assert np.allclose(n["0_affine"].weight, w / (1 - beta)[:, None], rtol=1e-12)
    assert np.allclose(n["0_affine"].bias, net[0].bias.detach().double().numpy() / (1 - beta), rtol=1e-12)
    # the readout LI(tau=6) is an LI node; the graph imports back on the stored dt
    assert any(isinstance(v, nir.LI) for v in g.nodes.values())
    assert swiftspike.import_nir(tmp_path / "fc.nir").dt == 1e-3


def test_conv_round_trip_through_a_graph_is_exact():
    net = conv_net()
    with pytest.raises(SwiftSpikeError, match="input_shape"):
        export_quiet(net)
    graph = export_quiet(net, input_shape=(2, 8, 8))
    kinds = [type(v).__name__ for v in graph.nodes.values()]
    assert {"Conv2d", "Scale", "AvgPool2d", "SumPool2d", "Flatten", "Affine", "LIF", "I"} <= set(kinds)
    back = import_nir(graph)
    assert [type(m) for m in back] == [type(m) for m in net]  # the gain Scale node folds back into nothing
    assert back[5].divisor_override == 1 and back[1].tau.shape == (4, 8, 8)
    x = (torch.rand(T, 3, 2, 8, 8, generator=torch.Generator().manual_seed(2)) < 0.3).float()
    assert_same_run(net, back, x)
    # a re-export of the import is the same graph
    again = export_quiet(back)
    for (ka, a), (kb, b) in zip(graph.nodes.items(), again.nodes.items()):
        assert ka == kb and type(a) is type(b)
        for f in ("weight", "bias", "tau", "v_threshold", "scale"):
            if hasattr(a, f):
                assert np.allclose(getattr(a, f), getattr(b, f), rtol=1e-6), (ka, f)


def test_conv1d_and_amplitude_scale_round_trip():
    g = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    net = gain(
        SNN(
            nn.Conv1d(3, 5, 3, stride=2, padding=1),
            lif((5, 8), g),
            Scale(torch.full((5, 8), 0.7)),
            nn.Flatten(),
            nn.Linear(40, 6),
            if_(6, g),
        ),
        2.0,
    )
    back = import_nir(export_quiet(net, input_shape=(3, 16)))
    assert isinstance(back[0], nn.Conv1d) and isinstance(back[2], Scale)
    x = (torch.rand(T, 4, 3, 16, generator=g) < 0.4).float()
    assert_same_run(net, back, x)


def test_import_follows_forward_euler_exactly():
    """A hand-written NIR graph (r != 1, v_leak != 0, IF with r = 1/DT, an integrator) against a float64
    forward-Euler simulation of the NIR equations written here."""
    rng = np.random.default_rng(0)
    dt = 1e-3
    W1, b1 = rng.normal(0, 1.0, (6, 4)), rng.normal(0, 0.2, 6)
    tau, r, v_leak, th = (
        rng.uniform(3e-3, 2e-2, 6),
        rng.uniform(0.5, 3, 6),
        rng.uniform(-0.2, 0.4, 6),
        rng.uniform(0.5, 1, 6),
    )
    W2 = rng.normal(0, 1.0, (3, 6))
    th2 = rng.uniform(0.5, 1.5, 3)
    W3 = rng.normal(0, 1.0, (2, 3))
    g = nir.NIRGraph.from_list(
        nir.Affine(weight=W1, bias=b1),
        nir.LIF(tau=tau, r=r, v_leak=v_leak, v_threshold=th),
        nir.Linear(weight=W2),
        nir.IF(r=np.full(3, 1 / dt), v_threshold=th2),
        nir.Linear(weight=W3),
        nir.I(r=np.full(2, 1 / dt)),
    )
    g.metadata = {"dt": dt}
    net = import_nir(g, dtype=torch.float64)
    x = rng.uniform(0, 1, (T, 5, 4))
    with torch.no_grad():
        out = run_sync(net, torch.from_numpy(x)).numpy()
    v1, v2, v3 = np.zeros((5, 6)), np.zeros((5, 3)), np.zeros((5, 2))
    ref, n1, n2 = [], 0, 0
    for t in range(T):
        v1 = v1 + dt / tau * (v_leak - v1 + r * (x[t] @ W1.T + b1))
        s1 = (v1 >= th).astype(float)
        v1 = v1 * (1 - s1)
        v2 = v2 + dt * (1 / dt) * (s1 @ W2.T)
        s2 = (v2 >= th2).astype(float)
        v2 = v2 * (1 - s2)
        v3 = v3 + s2 @ W3.T
        ref.append(v3.copy())
        n1, n2 = n1 + s1.sum(), n2 + s2.sum()
    assert n1 > 10 and n2 > 5
    assert np.allclose(out, np.stack(ref), atol=1e-9)
    # IF and I written with r = 1 (snnTorch, Norse) read the same
    g1 = nir.NIRGraph.from_list(
        nir.Linear(weight=W2), nir.IF(r=np.ones(3), v_threshold=th2), nir.Linear(weight=W3), nir.I(r=np.ones(2))
    )
    g2 = nir.NIRGraph.from_list(
        nir.Linear(weight=W2),
        nir.IF(r=np.full(3, 1e4), v_threshold=th2),
        nir.Linear(weight=W3),
        nir.I(r=np.full(2, 1e4)),
    )
    xs = torch.rand(T, 5, 6, generator=torch.Generator().manual_seed(0)) < 0.5
    assert torch.equal(run_sync(import_nir(g1), xs.float()), run_sync(import_nir(g2), xs.float()))


def test_layer_spec_rebuilds_an_imported_network():
    net = import_nir(export_quiet(conv_net(), input_shape=(2, 8, 8)))
    spec = json.loads(json.dumps(layer_spec(net)))
    rebuilt = build_layers(spec)
    rebuilt.load_state_dict(net.state_dict())
    x = (torch.rand(20, 2, 2, 8, 8, generator=torch.Generator().manual_seed(4)) < 0.3).float()
    assert_same_run(net, rebuilt, x)


# ---------------------------------------------------------------------------------------------------- converted SNN
@pytest.mark.slow  # trains a small ANN (a few seconds)
def test_converted_snn_round_trip_keeps_outputs_and_accuracy(tmp_path):
    from swiftspike.conversion import ClippedReLU, convert, train_ann
    from swiftspike.data import load_digits

    d = load_digits(flatten=False)
    torch.manual_seed(0)
    ann = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False),
        nn.BatchNorm2d(8),
        ClippedReLU(4.0),
        nn.AvgPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False),
        nn.BatchNorm2d(16),
        ClippedReLU(4.0),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4, 10),
    )
    train_ann(ann, d.x_train, d.y_train, epochs=3, lr=1e-2, show_progress=False)
    snn = convert(ann, d.x_train[:128], T=2, method="distribution-aware")
    with pytest.warns(UserWarning, match="subtraction"):
        graph = export_nir(snn, tmp_path / "converted.nir", input_shape=d.input_shape)
    assert sum(isinstance(v, nir.Scale) for v in graph.nodes.values()) == 3  # two amplitudes and the 1/T mean
    net = import_nir(tmp_path / "converted.nir")
    with torch.no_grad():
        want = snn(d.x_test)
        got = run_sync(net, d.x_test.unsqueeze(0).expand(2, *d.x_test.shape))[-1]  # direct encoding, T = 2
    assert torch.allclose(got, want, atol=1e-5)
    acc = lambda o: (o.argmax(1) == d.y_test).float().mean().item()
    assert acc(want) > 0.8 and acc(got) == acc(want)


# ---------------------------------------------------------------------------------------------------- peers
def _run_peer(m, x, unbatched=False, before_sample=None):
    """Run a nirtorch module step by step (``out, state = m(x_t, state)``); ``unbatched``: one sample at a time."""
    if unbatched:
        return torch.stack([_run_peer(m, x[:, b], before_sample=before_sample) for b in range(x.shape[1])], 1)
    if before_sample is not None:
        before_sample(m)
    state, outs = None, []
    with torch.no_grad():
        for t in range(x.shape[0]):
            out = m(x[t]) if state is None else m(x[t], state)
            if isinstance(out, tuple):
                out, state = out
            outs.append(out)
    return torch.stack(outs)


def _uniform_fc(seed=0):
    torch.manual_seed(seed)
    return gain(
        SNN(
            nn.Linear(20, 40),
            LIF(tau=8.0, v_threshold=1.0),
            nn.Linear(40, 30, bias=False),
            LIF(tau=5.0, v_threshold=0.8),
            nn.Linear(30, 10),
            LIF(tau=3.0, v_threshold=0.6),
        ),
        2.0,
    ).double()


def _sumpool_conv(seed=0, per_neuron=False):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    l1 = lif((4, 8, 8), g) if per_neuron else LIF(tau=8.0, v_threshold=1.0)
    if per_neuron:  # a tau per channel folds into the conv; a tau per pixel needs a Scale node, which Norse drops
        l1.tau = torch.empty(4, 1, 1).uniform_(2.0, 20.0, generator=g)
    l2 = lif(10, g) if per_neuron else LIF(tau=4.0, v_threshold=0.8)
    return gain(
        SNN(
            nn.Conv2d(2, 4, 3, padding=1), l1, nn.AvgPool2d(2, divisor_override=1), nn.Flatten(), nn.Linear(64, 10), l2
        ),
        1.5,
    ).double()


def _snntorch_importer():
    snn = pytest.importorskip("snntorch", reason="snnTorch is not installed")
    pytest.importorskip("nirtorch", reason="snnTorch's NIR importer needs nirtorch, which is not installed")
    from snntorch.import_nir import import_from_nir

    def load(path):
        m = import_from_nir(nir.read(path)).double()
        for mod in m.modules():
            if isinstance(mod, snn.Leaky):  # snnTorch's Heaviside returns float32; keep the dtype to compare in float64
                mod.spike_grad = lambda v: (v > 0).to(v.dtype)
        return m

    def fresh(m):  # init_hidden=True keeps the membrane inside each Leaky
        for mod in m.modules():
            if isinstance(mod, snn.Leaky):
                mod.reset_mem()

    return load, fresh


def test_swiftspike_to_snntorch(tmp_path, capsys):
    load, fresh = _snntorch_importer()
    net = _uniform_fc()
    export_nir(net, tmp_path / "fc.nir")
    x = torch.rand(T, 4, 20, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 1.5
    ref, out = spikes(net, x), _run_peer(load(tmp_path / "fc.nir"), x, before_sample=fresh)
    assert all(0 < s.sum() < s.numel() for s in ref[0])
    assert torch.equal(out, ref[1])
    net = _sumpool_conv()
    export_nir(net, tmp_path / "conv.nir", input_shape=(2, 8, 8))
    x = (torch.rand(T, 3, 2, 8, 8, generator=torch.Generator().manual_seed(6), dtype=torch.float64) < 0.3).double()
    ref, out = spikes(net, x), _run_peer(load(tmp_path / "conv.nir"), x, unbatched=True, before_sample=fresh)
    assert all(0 < s.sum() < s.numel() for s in ref[0])
    assert torch.equal(out, ref[1])
    capsys.readouterr()  # snnTorch prints its weight-rescaling warnings


def test_swiftspike_to_norse(tmp_path):
    norse = pytest.importorskip("norse.torch", reason="Norse is not installed")
    pytest.importorskip("nirtorch", reason="Norse's NIR importer needs nirtorch, which is not installed")
    g = torch.Generator().manual_seed(7)
    torch.manual_seed(7)
    net = gain(
        SNN(nn.Linear(20, 40), lif(40, g), nn.Linear(40, 30, bias=False), if_(30, g), nn.Linear(30, 10), lif(10, g)),
        2.0,
    ).double()
    export_nir(net, tmp_path / "fc.nir")
    x = torch.rand(T, 4, 20, generator=g, dtype=torch.float64) * 1.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # nirtorch.load
        m = norse.from_nir(nir.read(tmp_path / "fc.nir"), dt=DEFAULT_DT).double()
    ref = spikes(net, x)
    assert all(0 < s.sum() < s.numel() for s in ref[0])
    assert torch.equal(_run_peer(m, x), ref[1])
    net = _sumpool_conv(per_neuron=True)
    export_nir(net, tmp_path / "conv.nir", input_shape=(2, 8, 8))
    x = (torch.rand(T, 3, 2, 8, 8, generator=g, dtype=torch.float64) < 0.3).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        m = norse.from_nir(nir.read(tmp_path / "conv.nir"), dt=DEFAULT_DT).double()
    ref = spikes(net, x)
    assert all(0 < s.sum() < s.numel() for s in ref[0])
    assert torch.equal(_run_peer(m, x, unbatched=True), ref[1])


def test_snntorch_export_to_swiftspike():
    snn = pytest.importorskip("snntorch", reason="snnTorch is not installed")
    pytest.importorskip("nirtorch", reason="snnTorch's NIR exporter needs nirtorch, which is not installed")
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(8)

    def leaky(beta, th):  # snnTorch exports a layer's parameters with the shape they have: give one per neuron
        return snn.Leaky(beta=beta, threshold=th, reset_mechanism="zero", init_hidden=True, reset_delay=False)

    fc = gain(
        nn.Sequential(
            nn.Linear(20, 30),
            leaky(torch.rand(30) * 0.5 + 0.45, torch.rand(30) + 0.5),
            nn.Linear(30, 10),
            leaky(torch.full((10,), 0.9), torch.full((10,), 0.7)),
        ),
        2.0,
    )
    conv = gain(
        nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1),
            leaky(torch.full((4, 8, 8), 0.8), torch.full((4, 8, 8), 1.0)),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(64, 10),
            leaky(torch.full((10,), 0.9), torch.full((10,), 0.5)),
        ),
        2.0,
    )
    for peer, x in ((fc, torch.rand(T, 4, 20) * 1.5), (conv, (torch.rand(T, 4, 2, 8, 8) < 0.3).float())):
        graph = export_to_nir(peer, x[0, :1], ignore_dims=[0])  # without ignore_dims the batch enters the shapes
        net = import_nir(graph)
        assert net.dt == DEFAULT_DT  # snnTorch writes no dt; its own is 1e-4 s
        for mod in peer.modules():
            if isinstance(mod, snn.Leaky):
                mod.reset_mem()
        with torch.no_grad():
            want = torch.stack([peer(x[t]) for t in range(T)])
        sp, got = spikes(net, x)
        assert all(0 < s.sum() < s.numel() for s in sp)
        assert torch.equal(got, want)


# ---------------------------------------------------------------------------------------------------- bad input: export
def test_export_refuses_what_nir_cannot_hold(tmp_path):
    from swiftspike.neurons import DSN, PSN, LIFNoReset

    cases = [
        (SNN(nn.Linear(4, 3), DSN(channels=3)), "layer '1' \\(DSN\\) has no NIR primitive"),
        (SNN(nn.Linear(4, 3), PSN(T=4)), "layer '1' \\(PSN\\) has no NIR primitive"),
        (SNN(nn.Linear(4, 3), LIFNoReset()), "LIFNoReset"),
        (SNN(nn.Linear(4, 3), LIF(refractory_steps=2)), "refractory"),
        (SNN(nn.Linear(4, 3), LIF(reset="none")), "never resets"),
        (SNN(nn.Linear(4, 3), nn.ReLU()), "layer '1' \\(ReLU\\) has no NIR primitive"),
        (SNN(nn.Linear(4, 3), nn.AvgPool2d(2, ceil_mode=True)), "ceil_mode"),
        (SNN(nn.Conv2d(1, 2, 3, padding_mode="reflect"), LIF()), "pads"),
        (SNN(nn.Flatten(0), nn.Linear(4, 3)), "batch dimension"),
    ]
    mixed = LIF()
    mixed.tau = torch.tensor([2.0, math.inf, 3.0])
    cases.append((SNN(nn.Linear(4, 3), mixed), "mixes leaky and non-leaky"))
    for net, match in cases:
        with pytest.raises(SwiftSpikeError, match=match):
            export_nir(net, input_shape=(1, 4, 4) if isinstance(net[0], nn.Conv2d) else (4,))
    with pytest.raises(SwiftSpikeError, match="ConvertedSNN"):
        export_nir(nn.Linear(3, 2))
    with pytest.raises(SwiftSpikeError, match="does not exist"):
        export_nir(SNN(nn.Linear(4, 3), LIF()), tmp_path / "missing" / "x.nir")
    with pytest.raises(SwiftSpikeError, match="dt"):
        export_nir(SNN(nn.Linear(4, 3), LIF()), dt=0)
    with pytest.raises(SwiftSpikeError, match="cannot take input"):
        export_nir(SNN(nn.Linear(4, 3), LIF()), input_shape=(5,))


def test_export_refuses_converted_networks_with_no_nir_form():
    from swiftspike.conversion import build_ann, convert

    x = torch.rand(16, 1, 8, 8)
    torch.manual_seed(0)
    with pytest.raises(SwiftSpikeError, match="SpikingMaxPool"):  # the zoo's 'conv' max-pools
        export_nir(convert(build_ann("conv", (1, 8, 8), 10), x, T=2), input_shape=(1, 8, 8))
    with pytest.raises(SwiftSpikeError, match="branches or merges"):  # residual add
        export_nir(convert(build_ann("resnet-tiny", (1, 8, 8), 10), x, T=2), input_shape=(1, 8, 8))


# ---------------------------------------------------------------------------------------------------- bad input: import
def _io(n):
    return np.array([n])


def _write(path, nodes, edges, metadata=None):
    g = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata or {}, type_check=False)
    nir.write(path, g)
    return path


def _chain_nodes(*mid, n_in=4, n_out=3):
    nodes = {"input": nir.Input(input_type=_io(n_in))}
    names = ["input"]
    for i, node in enumerate(mid):
        nodes[f"n{i}"] = node
        names.append(f"n{i}")
    nodes["output"] = nir.Output(output_type=_io(n_out))
    names.append("output")
    return nodes, list(itertools.pairwise(names))


def lif_node(n, **kw):
    p = {"tau": np.full(n, 1e-3), "r": np.ones(n), "v_leak": np.zeros(n), "v_threshold": np.ones(n)}
    p.update(kw)
    return nir.LIF(**p)


def test_import_bad_files(tmp_path):
    with pytest.raises(SwiftSpikeError, match="does not exist"):
        import_nir(tmp_path / "nope.nir")
    (tmp_path / "junk.nir").write_bytes(b"\x89HDF not really" * 10)
    with pytest.raises(SwiftSpikeError, match="not a valid NIR"):
        import_nir(tmp_path / "junk.nir")
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("x", data=np.ones(3))
    with pytest.raises(SwiftSpikeError, match="not a valid NIR"):
        import_nir(tmp_path / "other.h5")
    good = _write(
        tmp_path / "good.nir", *_chain_nodes(nir.Affine(weight=np.ones((3, 4)), bias=np.zeros(3)), lif_node(3))
    )
    data = good.read_bytes()
    (tmp_path / "cut.nir").write_bytes(data[: len(data) // 2])
    with pytest.raises(SwiftSpikeError, match="not a valid NIR"):
        import_nir(tmp_path / "cut.nir")
    with pytest.raises(SwiftSpikeError, match="import_nir needs"):
        import_nir(42)


def test_import_bad_graphs(tmp_path):
    W = nir.Affine(weight=np.ones((3, 4)), bias=np.zeros(3))
    cases = {
        "unsupported NIR type Threshold": _chain_nodes(W, nir.Threshold(threshold=np.ones(3))),
        "unsupported NIR type Delay": _chain_nodes(W, nir.Delay(delay=np.ones(3))),
        "current-based": _chain_nodes(
            W,
            nir.CubaLIF(
                tau_syn=np.ones(3), tau_mem=np.ones(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3)
            ),
        ),
        "mismatched shapes: node 'n1' has 7 neurons": _chain_nodes(W, lif_node(7)),
        "mismatched shapes: node 'n1'.*input of shape \\(3,\\)": _chain_nodes(
            nir.Linear(weight=np.ones((3, 4))), nir.IF(r=np.ones(7), v_threshold=np.ones(7))
        ),
        "mismatched shapes: node 'n1' \\(Linear\\)": _chain_nodes(W, nir.Linear(weight=np.ones((2, 5))), n_out=2),
        "below the time step": _chain_nodes(W, lif_node(3, tau=np.full(3, 1e-5))),
        "r = 1 or r = 1/DT": _chain_nodes(W, nir.IF(r=np.full(3, 0.3), v_threshold=np.ones(3))),
        "v_leak": _chain_nodes(nir.Flatten(input_type=_io(4)), lif_node(4, v_leak=np.ones(4)), n_out=4),
        "different v_reset per neuron": _chain_nodes(W, lif_node(3, v_reset=np.arange(3.0))),
        "unknown reset": _chain_nodes(
            W,
            nir.LIF(
                tau=np.full(3, 1e-3),
                r=np.ones(3),
                v_leak=np.zeros(3),
                v_threshold=np.ones(3),
                metadata={"reset": "sideways"},
            ),
        ),
    }
    for i, (match, (nodes, edges)) in enumerate(cases.items()):
        path = _write(tmp_path / f"bad{i}.nir", nodes, edges)
        with pytest.raises(SwiftSpikeError, match=match):
            import_nir(path)
    # structure: branches, cycles, nested (recurrent) subgraphs
    nodes, edges = _chain_nodes(W, lif_node(3))
    with pytest.raises(SwiftSpikeError, match="branches or merges"):
        import_nir(nir.NIRGraph(nodes=nodes, edges=edges + [("input", "n1")], type_check=False))
    with pytest.raises(SwiftSpikeError, match=r"cycle|entry nodes"):
        import_nir(nir.NIRGraph(nodes={"a": W, "b": lif_node(3)}, edges=[("a", "b"), ("b", "a")], type_check=False))
    with pytest.raises(SwiftSpikeError, match="nested subgraph"):
        sub = nir.NIRGraph(nodes=dict(nodes), edges=list(edges), type_check=False)
        import_nir(
            nir.NIRGraph(
                nodes={"input": nir.Input(input_type=_io(4)), "rnn": sub, "output": nir.Output(output_type=_io(3))},
                edges=[("input", "rnn"), ("rnn", "output")],
                type_check=False,
            )
        )


def test_import_time_step_rules(tmp_path):
    nodes, edges = _chain_nodes(nir.Affine(weight=np.ones((3, 4)), bias=np.zeros(3)), lif_node(3))
    nodes["n1"].metadata = {"dt": 1e-3}
    path = _write(tmp_path / "nonuniform.nir", nodes, edges, {"dt": 1e-4})
    with pytest.raises(SwiftSpikeError, match="non-uniform time step"):
        import_nir(path)
    nodes["n1"].metadata = {}
    path = _write(tmp_path / "array.nir", nodes, edges, {"dt": np.array([1e-4, 2e-4])})
    with pytest.raises(SwiftSpikeError, match="non-uniform time step"):
        import_nir(path)
    path = _write(tmp_path / "ok.nir", nodes, edges, {"dt": 1e-4})
    with pytest.raises(SwiftSpikeError, match=r"written for dt=0\.0001"):
        import_nir(path, dt=1e-3)
    assert import_nir(path, dt=1e-4).dt == 1e-4
    path = _write(tmp_path / "none.nir", nodes, edges)
    assert import_nir(path).dt == DEFAULT_DT and import_nir(path, dt=5e-4).dt == 5e-4  # tau = 1e-3 >= DT
    assert float(import_nir(path, dt=5e-4)[1].beta) == pytest.approx(0.5)  # beta = 1 - DT/tau
    with pytest.raises(SwiftSpikeError, match="dt"):
        import_nir(path, dt=-1.0)


def test_missing_nir_package_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "nir", None)  # import nir -> ImportError
    with pytest.raises(SwiftSpikeError, match=r"swiftspike\[nir\]"):
        export_nir(SNN(nn.Linear(2, 2), LIF()))
    assert swiftspike.export_nir is export_nir and swiftspike.import_nir is import_nir
