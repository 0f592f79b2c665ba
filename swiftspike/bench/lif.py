r"""``swiftspike bench lif``: Linear -> LIF, forward + backward, against snnTorch, SpikingJelly and Norse.

Every library runs the same discrete dynamics on the same input through a PyTorch ``nn.Linear`` with the
same weights. swiftspike's convention (:mod:`swiftspike.neurons.functional`), with input current ``c``::

    h_t = beta * v_{t-1} + c_t;   s_t = [h_t >= v_threshold];   v_t = h_t * (1 - s_t)   (hard reset to 0)

Each peer's parameters are chosen so that it runs these equations (read from the installed sources):

* **snnTorch** ``snn.Leaky(beta, threshold, reset_mechanism="zero", spike_grad=surrogate.atan())``, stepped
  over time with an explicit membrane: ``mem = beta * (1 - reset) * mem + c`` where ``reset`` is the (detached)
  spike of the previous step, ``s = [mem > threshold]``. It keeps the pre-reset membrane and zeroes it one
  step later, which gives the same spikes. The reset is not differentiated (snnTorch detaches it).
* **SpikingJelly** ``neuron.LIFNode(tau = 1 / (1 - beta), decay_input=False, v_reset=0.0,
  surrogate_function=surrogate.ATan(), step_mode="m")``: ``h = v - (v - v_reset) / tau + c``,
  ``s = [h >= v_threshold]``, ``v = s v_reset + (1 - s) h``.
* **Norse** ``norse.torch.LIF(LIFParameters(tau_mem_inv = (1 - beta) / dt, tau_syn_inv = 1 / dt, v_leak=0,
  v_reset=0, v_th, method="super"), dt=dt)``: its feed-forward step adds the input to a synaptic current
  ``i``, integrates ``v <- v + dt tau_mem_inv ((v_leak - v) + i)`` and decays ``i`` by ``dt tau_syn_inv``;
  with ``dt tau_syn_inv = 1`` the current is exactly this step's input, so ``v <- beta v + (1 - beta) i``,
  and Norse gets the same Linear with weights and bias scaled by ``1 / (1 - beta)`` (8 by default, a power
  of two: the scaled products are exact). Norse has no ATan surrogate; it uses its default SuperSpike.

``beta = 0.875 = 1 - 1/8`` by default: exact in binary, so ``beta v`` (swiftspike, snnTorch) and SpikingJelly's
``v - v / 8`` round identically and those spike trains agree bit for bit. Norse's Euler form rounds
differently, and snnTorch / Norse fire on ``>`` instead of ``>=``: near-threshold ties can flip a few spikes.
Before timing, every peer's spikes are compared with swiftspike's on the full input; a peer whose
fraction of differing spikes exceeds ``tolerance`` is reported as disagreeing and not timed.

Timings (median of ``repeats`` interleaved runs, after ``warmup``; ``threads`` torch threads; ``clock`` wall or,
on a shared machine with one thread, the process's CPU time): the Linear
layer alone (forward + weight gradient: the floor, the neuron cannot make the matmul faster), each
library's neuron alone on the precomputed current, and each library end to end (Linear -> neuron,
forward + backward). Ratios: ``neuron_speedup`` = peer neuron time / swiftspike neuron time (> 1: swiftspike
faster), ``e2e_vs_floor`` = end-to-end time / Linear-alone time.
"""

from __future__ import annotations

import importlib.metadata
import math
import platform
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from ..errors import SwiftSpikeError, check_positive_int
from .timing import CLOCKS, time_interleaved

PEERS = ("snntorch", "spikingjelly", "norse")


@dataclass
class LIFBenchConfig:
    """What ``bench lif`` measures (see the module docstring)."""

    sizes: Sequence[int] = (256, 1024, 4096)
    steps: Sequence[int] = (100, 500)
    batch: int = 16
    repeats: int = 5
    warmup: int = 1
    threads: int = 1
    peers: Sequence[str] = PEERS
    beta: float = 0.875
    v_threshold: float = 1.0
    tolerance: float = 1e-4
    seed: int = 0
    device: str = "cpu"
    clock: str = "wall"

    def validate(self) -> LIFBenchConfig:
        for name in ("sizes", "steps"):
            vals = list(getattr(self, name))
            if not vals:
                raise SwiftSpikeError(f"{name} must not be empty")
            for v in vals:
                check_positive_int(v, name)
        for name in ("batch", "repeats", "threads"):
            check_positive_int(getattr(self, name), name)
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) or self.warmup < 0:
            raise SwiftSpikeError(f"warmup must be an integer >= 0, got {self.warmup!r}")
        if not 0.0 < self.beta < 1.0:
            raise SwiftSpikeError(f"beta must lie in (0, 1), got {self.beta}")
        if not math.isfinite(self.v_threshold) or self.v_threshold <= 0:
            raise SwiftSpikeError(f"v_threshold must be a finite number > 0, got {self.v_threshold}")
        if self.clock not in CLOCKS:
            raise SwiftSpikeError(f"unknown clock {self.clock!r}; choose one of: {', '.join(CLOCKS)}")
        if self.clock == "cpu" and torch.device(self.device).type != "cpu":
            raise SwiftSpikeError("clock 'cpu' measures this process's CPU time and cannot see GPU work; use 'wall'")
        if not 0.0 <= self.tolerance < 1.0:
            raise SwiftSpikeError(f"tolerance must lie in [0, 1), got {self.tolerance}")
        try:
            torch.empty(0, device=self.device)
        except (RuntimeError, AssertionError) as e:
            raise SwiftSpikeError(f"device {self.device!r} is not available: {e}") from None
        return self


@dataclass
class Peer:
    """One library's LIF layer: ``neuron(c)`` maps a current ``[T, B, N]`` (in the library's units) to spikes,
    starting from rest on every call; ``input_scale`` is the library's current per unit of swiftspike input."""

    name: str
    version: str
    neuron: Callable[[torch.Tensor], torch.Tensor]
    input_scale: float = 1.0
    note: str = ""


Builder = Callable[[int, LIFBenchConfig, torch.device], Peer]


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _swiftspike(n: int, cfg: LIFBenchConfig, device: torch.device) -> Peer:
    from ..neurons.modules import LIF

    lif = LIF(
        tau=-1.0 / math.log(cfg.beta), v_threshold=cfg.v_threshold, v_reset=0.0, reset="hard", surrogate="atan"
    ).to(device)

    def neuron(c: torch.Tensor) -> torch.Tensor:
        lif.reset_state()
        return lif(c)

    from .._version import __version__

    return Peer("swiftspike", __version__, neuron, note="LIF(tau=-1/ln beta, reset='hard'), ATan")


def _snntorch(n: int, cfg: LIFBenchConfig, device: torch.device) -> Peer:
    import snntorch as snn
    from snntorch import surrogate

    lif = snn.Leaky(beta=cfg.beta, threshold=cfg.v_threshold, reset_mechanism="zero", spike_grad=surrogate.atan()).to(
        device
    )

    def neuron(c: torch.Tensor) -> torch.Tensor:
        mem = torch.zeros_like(c[0])
        out = []
        for t in range(c.shape[0]):
            spk, mem = lif(c[t], mem)
            out.append(spk)
        return torch.stack(out)

    return Peer("snntorch", _version("snntorch"), neuron, note="Leaky(beta, reset_mechanism='zero'), atan")


def _spikingjelly(n: int, cfg: LIFBenchConfig, device: torch.device) -> Peer:
    from spikingjelly.activation_based import functional, surrogate
    from spikingjelly.activation_based import neuron as sj_neuron

    node = sj_neuron.LIFNode(
        tau=1.0 / (1.0 - cfg.beta),
        decay_input=False,
        v_threshold=cfg.v_threshold,
        v_reset=0.0,
        surrogate_function=surrogate.ATan(),
        step_mode="m",
    ).to(device)

    def neuron(c: torch.Tensor) -> torch.Tensor:
        functional.reset_net(node)
        return node(c)

    return Peer(
        "spikingjelly",
        _version("spikingjelly"),
        neuron,
        note="LIFNode(tau=1/(1-beta), decay_input=False, v_reset=0), ATan",
    )


def _norse(n: int, cfg: LIFBenchConfig, device: torch.device) -> Peer:
    from norse.torch import LIF, LIFParameters

    dt = 1.0
    p = LIFParameters(
        tau_syn_inv=torch.as_tensor(1.0 / dt),
        tau_mem_inv=torch.as_tensor((1.0 - cfg.beta) / dt),
        v_leak=torch.as_tensor(0.0),
        v_th=torch.as_tensor(cfg.v_threshold),
        v_reset=torch.as_tensor(0.0),
        method="super",
        alpha=torch.as_tensor(100.0),
    )
    lif = LIF(p, dt=dt).to(device)

    def neuron(c: torch.Tensor) -> torch.Tensor:
        return lif(c)[0]

    return Peer(
        "norse",
        _version("norse"),
        neuron,
        input_scale=1.0 / (1.0 - cfg.beta),
        note="LIF(tau_mem_inv=(1-beta)/dt, tau_syn_inv=1/dt, dt=1), input x 1/(1-beta), SuperSpike",
    )


BUILDERS: dict[str, Builder] = {
    "swiftspike": _swiftspike,
    "snntorch": _snntorch,
    "spikingjelly": _spikingjelly,
    "norse": _norse,
}


def machine_info(threads: int) -> dict[str, Any]:
    """Where the numbers were measured: platform, CPU model, Python / torch versions, threads."""
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": cpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": threads,
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name()
    return info


@dataclass
class _Contestant:
    peer: Peer
    fc: nn.Linear
    current: torch.Tensor  # [T, B, N] leaf requiring grad (neuron-alone timing)
    check: dict[str, Any] = field(default_factory=dict)


def _linear(n: int, gen: torch.Generator, device: torch.device, scale: float = 1.0) -> nn.Linear:
    fc = nn.Linear(n, n).to(device)
    bound = 1.0 / math.sqrt(n)
    with torch.no_grad():
        fc.weight.copy_((torch.rand(n, n, generator=gen) * 2 - 1) * bound * scale)
        fc.bias.copy_((torch.rand(n, generator=gen) * 2 - 1) * bound * scale)
    return fc


def _apply(fc: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    T, B = x.shape[:2]
    return fc(x.flatten(0, 1)).view(T, B, -1)


def _measure(T: int, n: int, cfg: LIFBenchConfig, peers: dict[str, Peer], device: torch.device) -> dict[str, Any]:
    gen = torch.Generator().manual_seed(cfg.seed)
    x = torch.rand(T, cfg.batch, n, generator=gen).to(device)
    w_state = gen.get_state()
    contestants: dict[str, _Contestant] = {}
    floor_fc = None
    for name, peer in peers.items():
        gen.set_state(w_state)  # the same weights for everyone (scaled by the library's input unit)
        fc = _linear(n, gen, device, peer.input_scale)
        if floor_fc is None:
            floor_fc = fc
        with torch.no_grad():
            cur = _apply(fc, x)
        contestants[name] = _Contestant(peer, fc, cur.clone().requires_grad_())
    # 1) equal spikes before any timing
    ref = None
    row: dict[str, Any] = {"T": T, "N": n, "B": cfg.batch, "check": {}, "skipped": {}, "ms": {}}
    with torch.no_grad():
        for name, c in list(contestants.items()):
            try:
                s = c.peer.neuron(c.current.detach()).to(torch.float32)
            except Exception as e:  # a peer that fails at run time is skipped, not fatal
                if name == "swiftspike":
                    raise
                row["skipped"][name] = f"failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                del contestants[name]
                continue
            if ref is None:
                ref = s
                row["check"][name] = {"differing_spikes": 0, "fraction": 0.0, "agree": True, "spikes": int(s.sum())}
                continue
            diff = int((s != ref).sum()) if s.shape == ref.shape else ref.numel()
            frac = diff / ref.numel()
            ok = s.shape == ref.shape and frac <= cfg.tolerance
            row["check"][name] = {"differing_spikes": diff, "fraction": frac, "agree": ok, "spikes": int(s.sum())}
            if not ok:
                row["skipped"][name] = (
                    f"spikes disagree with swiftspike: {diff} of {ref.numel()} differ "
                    f"({100 * frac:.3g} % > tolerance {100 * cfg.tolerance:.3g} %)"
                )
                del contestants[name]
    # 2) timing, interleaved round-robin
    fns: dict[str, Callable[[], object]] = {}
    if floor_fc is not None:

        def linear(fc=floor_fc):
            fc.weight.grad = fc.bias.grad = None
            _apply(fc, x).sum().backward()

        fns["linear"] = linear
    for name, c in contestants.items():

        def neuron(c=c):
            c.current.grad = None
            c.peer.neuron(c.current).sum().backward()

        def e2e(c=c):
            c.fc.weight.grad = c.fc.bias.grad = None
            c.peer.neuron(_apply(c.fc, x)).sum().backward()

        fns[f"{name}:neuron"] = neuron
        fns[f"{name}:e2e"] = e2e
    timed = time_interleaved(fns, repeats=cfg.repeats, warmup=cfg.warmup, clock=cfg.clock)
    row["ms"] = {k: 1e3 * v for k, v in timed.items()}
    floor = timed.get("linear")
    ours = timed.get("swiftspike:neuron")
    row["neuron_speedup"] = {
        name: timed[f"{name}:neuron"] / ours for name in contestants if ours and name != "swiftspike"
    }
    row["e2e_vs_floor"] = {name: timed[f"{name}:e2e"] / floor for name in contestants if floor}
    return row


def run(
    cfg: LIFBenchConfig | None = None, *, builders: Mapping[str, Builder] | None = None, **overrides: Any
) -> dict[str, Any]:
    """Run the benchmark (see the module docstring); ``overrides`` replace fields of ``cfg``; ``builders`` adds
    or replaces peer builders by name (tests use it to plant a wrong peer). Returns a JSON-able dict."""
    from dataclasses import replace

    cfg = replace(cfg or LIFBenchConfig(), **overrides).validate()
    table_b = dict(BUILDERS, **(builders or {}))
    unknown = [p for p in cfg.peers if p not in table_b]
    if unknown:
        raise SwiftSpikeError(
            f"unknown peer(s) {', '.join(unknown)}; choose from: {', '.join(sorted(set(table_b) - {'swiftspike'}))}"
        )
    device = torch.device(cfg.device)
    prev_threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    result: dict[str, Any] = {
        "benchmark": "lif",
        "config": {k: (list(v) if isinstance(v, (tuple, list)) else v) for k, v in asdict(cfg).items()},
        "machine": machine_info(cfg.threads),
        "versions": {},
        "skipped_peers": {},
        "notes": {},
        "rows": [],
    }
    try:
        for T in cfg.steps:
            for n in cfg.sizes:
                peers: dict[str, Peer] = {}
                for name in ("swiftspike", *[p for p in cfg.peers if p != "swiftspike"]):
                    if name in result["skipped_peers"]:
                        continue
                    try:
                        peer = table_b[name](n, cfg, device)
                    except ImportError as e:
                        result["skipped_peers"][name] = f"not installed ({e.name or e}); pip install {name}"
                        continue
                    peers[name] = peer
                    result["versions"][name] = peer.version
                    result["notes"][name] = peer.note
                result["rows"].append(_measure(T, n, cfg, peers, device))
    finally:
        torch.set_num_threads(prev_threads)
    return result


def table(result: dict[str, Any]) -> str:
    """The result as a text table: one line per (T, N, library)."""
    m = result["machine"]
    cfg = result["config"]
    lines = [
        (
            f"bench lif: {m['cpu']}, {m['platform']}, torch {m['torch']}, {m['threads']} thread(s); "
            f"median of {cfg['repeats']} interleaved runs ({cfg['clock']} time); forward + backward"
        ),
        (
            f"{'T':>5} {'N':>6}  {'library':<13} {'neuron ms':>10} {'e2e ms':>9} {'e2e/floor':>9} "
            f"{'neuron: peer/swiftspike':>23}  spikes vs swiftspike"
        ),
    ]
    for r in result["rows"]:
        ms = r["ms"]
        if "linear" in ms:
            lines.append(f"{r['T']:>5} {r['N']:>6}  {'Linear alone':<13} {'':>10} {ms['linear']:>9.2f} {1.0:>8.2f}x")
        names = list(r["check"]) + [k for k in r["skipped"] if k not in r["check"]]
        for name in names:
            chk = r["check"].get(name)
            if name in r["skipped"]:
                lines.append(
                    f"{r['T']:>5} {r['N']:>6}  {name:<13} {'-':>10} {'-':>9} {'-':>9} {'-':>23}  "
                    f"SKIPPED: {r['skipped'][name]}"
                )
                continue
            sp = r["neuron_speedup"].get(name)
            agree = (
                "reference"
                if name == "swiftspike"
                else f"agree ({chk['differing_spikes']} of {r['T'] * r['B'] * r['N']} differ)"
            )
            lines.append(
                f"{r['T']:>5} {r['N']:>6}  {name:<13} {ms[name + ':neuron']:>10.2f} {ms[name + ':e2e']:>9.2f} "
                f"{r['e2e_vs_floor'][name]:>8.2f}x {(f'{sp:.2f}x' if sp else '1.00x'):>23}  {agree}"
            )
    for name, why in result["skipped_peers"].items():
        lines.append(f"skipped {name}: {why}")
    lines.append("versions: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()))
    return "\n".join(lines)
