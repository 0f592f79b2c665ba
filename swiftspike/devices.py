"""Devices, numeric precision and CPU threads: the one place that turns a user's choice into torch settings.

* :func:`resolve_device`: ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``,
  ``"mps"`` or a :class:`torch.device` -> a :class:`torch.device`; a device this machine does not have is one
  :class:`~swiftspike.errors.SwiftSpikeError`.
* :func:`autocast`: the mixed-precision context of a ``precision`` (``"float32"`` = none, ``"bf16"``,
  ``"fp16"``) on a device, checked by :func:`check_precision`.
* :func:`resolve_threads` / :func:`set_threads`: the CPU thread count. torch's default (every core) is
  slow for the small layers of an SNN and, on a shared machine, very slow (each parallel region waits for
  its slowest thread). The default here is ``$OMP_NUM_THREADS`` when set, else half the cores this process
  may use, between 1 and 4. This is the one thread policy of swiftspike (the CLI uses it too).
* :func:`defaults`: a region in which ``device="auto"`` and ``threads=None`` mean given values (the CLI runs
  every command inside one, so that ``--device`` and ``--threads`` reach every ``Trainer`` and study the
  command builds, including those that take no explicit argument); restored on exit.
* :func:`compile_layers`: ``torch.compile`` a network layer by layer, in place.

Determinism: on the CPU the same seed and the same thread count give the same numbers, run after run.
Another thread count changes how reductions are split, so float sums -- and after many steps, spikes,
weights and accuracies -- differ slightly; so do another device or another torch version.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

from .errors import SwiftSpikeError

DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
PRECISIONS = ("float32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
# autocast dtypes each device type supports here (fp16 on the CPU is slow and poorly covered: refused)
_AUTOCAST = {"cuda": ("bf16", "fp16"), "cpu": ("bf16",)}

DeviceLike = str | torch.device | None

# what "auto" and threads=None mean inside a `defaults(...)` region (None: the machine's defaults)
_default_device: str | None = None
_default_threads: int | None = None


def _cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device: DeviceLike = "auto", *, local_rank: int | None = None) -> torch.device:
    """The :class:`torch.device` for ``device`` (see module docstring); ``None`` means ``"auto"``.

    ``local_rank`` (one process per GPU under ``torchrun``) picks ``cuda:local_rank`` for ``"auto"`` and
    ``"cuda"``. Inside a :func:`defaults` region ``"auto"`` means the region's device."""
    if isinstance(device, torch.device):
        device = str(device)
    name = "auto" if device is None else str(device).strip().lower()
    if name == "auto" and _default_device is not None:
        name = _default_device
    if name == "auto":
        name = "cuda" if _cuda_count() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise SwiftSpikeError(
                "device 'mps' was asked for, but this machine has no Apple MPS backend; use device 'cpu' or 'auto'"
            )
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        n = _cuda_count()
        if n == 0:
            raise SwiftSpikeError(
                f"device {name!r} was asked for, but torch finds no CUDA GPU on this machine "
                f"(torch {torch.__version__}); use device 'cpu' or 'auto'"
            )
        if name == "cuda":
            index = local_rank if local_rank is not None else 0
        else:
            try:
                index = int(name.split(":", 1)[1])
            except ValueError:
                raise SwiftSpikeError(f"bad device {name!r}; use cuda:N with N a GPU number") from None
        if not 0 <= index < n:
            raise SwiftSpikeError(
                f"device cuda:{index} was asked for, but this machine has {n} CUDA GPU(s) (cuda:0 to cuda:{n - 1})"
            )
        return torch.device("cuda", index)
    raise SwiftSpikeError(f"unknown device {device!r}; choose one of: {', '.join(DEVICES)}")


def module_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s first parameter or buffer (the CPU for a module that holds none)."""
    return next((t.device for t in [*model.parameters(), *model.buffers()]), torch.device("cpu"))


def check_precision(precision: str, device: torch.device) -> str:
    """Return ``precision`` if ``device`` can autocast to it, else raise."""
    if precision not in PRECISIONS:
        raise SwiftSpikeError(f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    if precision != "float32" and precision not in _AUTOCAST.get(device.type, ()):
        ok = ", ".join(f"{p} on {d}" for d, ps in _AUTOCAST.items() for p in ps)
        raise SwiftSpikeError(
            f"precision {precision!r} is not available on device {device.type!r} "
            f"(available: {ok}); use precision float32"
        )
    return precision


@contextlib.contextmanager
def autocast(device: torch.device, precision: str = "float32") -> Iterator[None]:
    """Mixed-precision region for ``precision`` on ``device`` (nothing for ``float32``)."""
    if precision == "float32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=_DTYPES[check_precision(precision, device)]):
        yield


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def resolve_threads(threads: int | None = None) -> int:
    """The thread count for ``threads``: itself when >= 1; ``0`` = every available core; ``None`` = the
    count of the enclosing :func:`defaults` region, else ``$OMP_NUM_THREADS`` (or ``$MKL_NUM_THREADS``) when
    set, else half the available cores, at least 1 and at most 4."""
    if threads is None and _default_threads is not None:
        return _default_threads
    if threads is None:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env = os.environ.get(var, "").strip()
            if env.isdigit() and int(env) > 0:
                return int(env)
        return max(1, min(4, available_cores() // 2))
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise SwiftSpikeError(f"threads must be an integer >= 0 (0: every core), got {threads!r}")
    return threads if threads > 0 else available_cores()


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op CPU thread count (process-wide) to :func:`resolve_threads` ``(threads)``; returns it."""
    n = resolve_threads(threads)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def check_device(device: DeviceLike) -> str:
    """``device`` as a name, after checking that this machine has it (``"auto"`` stays ``"auto"``)."""
    resolve_device(device)
    return "auto" if device is None else str(device).strip().lower()


@contextlib.contextmanager
def defaults(device: DeviceLike = None, threads: int | None = None) -> Iterator[int]:
    """A region in which ``device="auto"`` means ``device`` (``None``: unchanged) and ``threads=None``
    means :func:`resolve_threads` ``(threads)``; torch's thread count is set to it for the region. Both,
    and torch's thread count, are restored on exit. Yields the thread count."""
    global _default_device, _default_threads
    name = None if device is None else check_device(device)
    n = resolve_threads(threads)
    saved = _default_device, _default_threads, torch.get_num_threads()
    if name is not None and name != "auto":
        _default_device = name
    _default_threads = n
    if saved[2] != n:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        _default_device, _default_threads = saved[0], saved[1]
        if torch.get_num_threads() != saved[2]:
            torch.set_num_threads(saved[2])


def compile_layers(model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile`` every layer of ``model`` in place and return it. The engines walk the layers of a
    ``Sequential`` one by one, so each layer with parameters, and each neuron layer, is compiled
    (``Module.compile()``) and the model stays a ``Sequential``; any other model is compiled as a whole."""
    from .neurons.modules import SpikingModule

    mods = list(model.children()) if isinstance(model, torch.nn.Sequential) else [model]
    for m in mods:
        if isinstance(m, SpikingModule) or any(True for _ in m.parameters()):
            m.compile()
    return model
