"""Shared CLI pieces: every option used by more than one command is defined here, once.

A command module (``cli/baseline.py``, ``cli/asynch.py``, ``cli/convert.py``, ``cli/topspark.py``,
``cli/tune.py``, ``cli/bench.py``, ``cli/files.py``) only calls the helpers below and turns the parsed
arguments into a study or library config; it never computes. The file has five parts:

1. **Argument types** (``positive_int``, ``nonneg_int``, ``positive_float``, ``nonneg_float``,
   ``fraction``, ``int_list``, ``output_file``, ``output_dir``, ``energy_table``, ``device_name``): each
   checks its value while the command line is parsed, so a bad value, or an output path that cannot be
   written, fails with one ``error:`` line before any data is loaded or any model trained.
2. **Option groups**, one definition per option:

   ===========================  ==================================================================
   ``add_output_flags(p)``      ``--json --out FILE --plot DIR --quiet`` (every command)
   ``add_data_flags(p)``        ``--dataset --path --limit --seed --bins``
   ``add_seed_flag(p)``         ``--seed`` alone (commands without a dataset)
   ``add_time_steps_flag(p)``   ``--T`` (one int, or a comma list with ``many=True``)
   ``add_train_flags(p)``       ``--epochs --batch-size --lr`` (defaults per command)
   ``add_spike_reg_flag(p)``    ``--spike-reg``
   ``add_energy_flag(p)``       ``--energy-table``
   ``add_checkpoint_flags(p)``  ``--checkpoint`` (written each epoch), ``--resume``,
                                ``--resume-missing error|fresh``, ``--override``
   ``add_tracking_flags(p)``    ``--metrics-log FILE --log-dir DIR --num-workers N`` (Trainer commands)
   ``add_runtime_flags(p)``     ``--device --precision --compile --threads``: added to *every* leaf
                                command by :func:`swiftspike.cli.build_parser`, never by a command
   ===========================  ==================================================================

3. **Cross-option checks**: :func:`check_args` (``--resume`` needs an existing ``--checkpoint``, a
   runtime option the command does not honour, ...), run by :func:`swiftspike.cli.main` after parsing
   and before the command.
4. **Runtime settings**: a command says which runtime options it honours with
   ``p.set_defaults(runtime=("device", "precision", "compile", "threads"))`` (default: ``threads`` only)
   and reads ``args.device`` etc. into its config. :func:`runtime` wraps every command in
   :func:`swiftspike.devices.defaults`, so that ``--threads`` (the one thread policy of
   :mod:`swiftspike.devices`) and ``--device`` also reach every ``Trainer`` a study builds without an
   explicit argument. A command that does not honour ``--device`` runs on the CPU: ``--device auto``
   means the CPU there and any other device is one error, as are ``--precision`` and ``--compile``.
5. **Output and errors**: :func:`emit` (table for people, JSON as the last line; rank 0 only under
   ``torchrun``), :func:`emit_study` (a study result with its plots), :func:`plot_dir`, :class:`Parser`
   (usage errors on one line) and :func:`error_line` (any exception a user can cause -> one line).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import SwiftSpikeError
from ..studies.base import json_safe

# -- 1. argument types ---------------------------------------------------------------------------------
# Messages read after the option name: "--T must be a positive integer, got '0'".


def _number(s: str, kind: Callable[[str], Any]) -> Any:
    try:
        return kind(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {'an integer' if kind is int else 'a number'}, got {s!r}") from None


def positive_int(s: str) -> int:
    v = _number(s, int)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {s!r}")
    return v


def nonneg_int(s: str) -> int:
    v = _number(s, int)
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {s!r}")
    return v


def positive_float(s: str) -> float:
    v = _number(s, float)
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {s!r}")
    return v


def nonneg_float(s: str) -> float:
    v = _number(s, float)
    if not (math.isfinite(v) and v >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {s!r}")
    return v


def fraction(s: str) -> float:
    """A probability or share in ``[0, 1]``."""
    v = _number(s, float)
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {s!r}")
    return v


def int_list(s: str) -> list[int]:
    """Comma-separated positive integers (``"1,2,4"``); the empty string is the empty list."""
    try:
        v = [int(t) for t in s.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated integers, got {s!r}") from None
    if any(t <= 0 for t in v):
        raise argparse.ArgumentTypeError(f"must be positive integers, got {s!r}")
    return v


def nonempty_int_list(s: str) -> list[int]:
    v = int_list(s)
    if not v:
        raise argparse.ArgumentTypeError("must name at least one positive integer")
    return v


def _probe_dir(d: Path) -> None:
    """Create ``d`` if needed and prove that a file can be written in it (create and remove one)."""
    for parent in (d, *d.parents):  # a file where a folder must go: say which
        if parent.exists():
            if not parent.is_dir():
                raise argparse.ArgumentTypeError(f"cannot be written: {parent} is a file, not a folder")
            break
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".swiftspike-probe-", dir=d)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise argparse.ArgumentTypeError(
            f"cannot be written: no file can be created in {d} ({e.strerror or type(e).__name__})"
        ) from None


def output_file(s: str) -> str:
    """A file the command will write: its folder is created and tested for writing now."""
    p = Path(s).expanduser()
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"must name a file, {s} is a directory")
    if p.exists() and not os.access(p, os.W_OK):
        raise argparse.ArgumentTypeError(f"cannot be written: {s} (permission denied)")
    _probe_dir(p.parent)
    return s


def output_dir(s: str) -> str:
    """A folder the command will write into: created and tested for writing now."""
    p = Path(s).expanduser()
    if p.exists() and not p.is_dir():
        raise argparse.ArgumentTypeError(f"needs a directory, {s} is a file")
    _probe_dir(p)
    return s


def device_name(s: str) -> str:
    """``auto | cpu | cuda | cuda:N | mps``, checked against this machine (``cuda`` without a GPU fails now)."""
    from ..devices import check_device

    try:
        return check_device(s)
    except SwiftSpikeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def energy_table(s: str) -> str:
    from ..metrics.energy import get_energy_table

    try:
        return get_energy_table(s).name
    except SwiftSpikeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


# -- 2. option groups -------------------------------------------------------------------------------


def add_output_flags(p: argparse.ArgumentParser, plots: bool = True, out: bool = True) -> None:
    """``--json --out --plot --quiet`` (``out=False`` for a command whose own ``--out`` names another file)."""
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    if out:
        p.add_argument("--out", metavar="FILE", type=output_file, help="also write the JSON result to FILE")
    if plots:
        p.add_argument("--plot", metavar="DIR", type=output_dir, help="save PNG plots into DIR")
    p.add_argument(
        "--quiet", action="store_true", help="no progress bars or log lines (with --json: only the JSON line)"
    )


def add_seed_flag(
    p: argparse.ArgumentParser, default: int | None = 0, help: str = "random seed (data split, init, encoder noise)"
) -> None:
    p.add_argument("--seed", type=nonneg_int, default=default, help=help)


def add_data_flags(
    p: argparse.ArgumentParser,
    default: str | None = "digits",
    *,
    dataset_help: str | None = None,
    limit: bool = True,
    bins: bool = True,
    seed: bool = True,
) -> None:
    p.add_argument(
        "--dataset",
        default=default,
        help=dataset_help or "digits | mnist5k | fashion-mnist | randman | shd | nmnist | dvs-gesture",
    )
    p.add_argument("--path", help="file or folder for datasets read from disk (fashion-mnist, shd, nmnist)")
    if limit:
        p.add_argument("--limit", type=positive_int, help="use at most this many training samples")
    if seed:
        add_seed_flag(p)
    if bins:
        p.add_argument(
            "--bins", type=positive_int, help=f"time bins (frames) for event datasets: {', '.join(EVENT_DATASETS)}"
        )


def add_time_steps_flag(
    p: argparse.ArgumentParser,
    default: Any = None,
    help: str = "time steps",
    many: bool = False,
    nargs: str | None = None,
) -> None:
    """``--T``: one positive integer, with ``many`` a comma list (``--T 100,50,35``), with ``nargs="+"``
    a space-separated list (``--T 1024 4096``)."""
    if nargs is not None:
        p.add_argument("--T", type=positive_int, nargs=nargs, default=default, help=help)
        return
    p.add_argument(
        "--T",
        type=nonempty_int_list if many else positive_int,
        default=default,
        help=help + (" (comma-separated)" if many else ""),
    )


def add_repeats_flag(
    p: argparse.ArgumentParser,
    default: int,
    help: str = "timed repeats per contestant, interleaved (the median is reported)",
) -> None:
    """``--repeats`` of the benchmarks."""
    p.add_argument("--repeats", type=positive_int, default=default, help=f"{help} (default {default})")


def add_train_flags(
    p: argparse.ArgumentParser,
    *,
    epochs: int | None,
    lr: float | None,
    batch_size: int = 64,
    epochs_help: str = "training epochs",
    lr_flag: bool = True,
) -> None:
    """``--epochs --batch-size --lr`` with this command's defaults (a default of ``None`` leaves the value
    to the command's config, e.g. a protocol's; ``lr_flag=False``: no ``--lr``, e.g. when a sweep
    chooses it)."""
    p.add_argument("--epochs", type=positive_int, default=epochs, help=epochs_help)
    p.add_argument("--batch-size", type=positive_int, default=batch_size)
    if lr_flag:
        p.add_argument("--lr", type=positive_float, default=lr, help="learning rate (Adam)")


def add_spike_reg_flag(p: argparse.ArgumentParser, help: str = "weight of the spike-count regulariser") -> None:
    p.add_argument("--spike-reg", type=nonneg_float, default=0.0, help=help)


def add_energy_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--energy-table", type=energy_table, default="45nm-fp32", help="45nm-fp32 | 45nm-int32")


def add_checkpoint_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", type=output_file, help="save an atomic checkpoint here after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint (which must exist)")
    p.add_argument(
        "--resume-missing",
        dest="resume_missing",
        choices=("error", "fresh"),
        default="error",
        help="with --resume and no checkpoint file yet: fail (error, default) or start a new run "
        "(fresh; for job scripts that always pass --resume)",
    )
    p.add_argument(
        "--override",
        action="store_true",
        help="with --resume: continue even if learning settings differ from the checkpoint's "
        "(by default that is refused, naming what differs)",
    )


def add_tracking_flags(p: argparse.ArgumentParser) -> None:
    """Options of commands that train with :class:`swiftspike.training.Trainer` (see docs/reference/training.md)."""
    p.add_argument(
        "--metrics-log",
        dest="metrics_log",
        metavar="FILE",
        type=output_file,
        help="JSON-lines metrics, one line per epoch (default with --checkpoint: CHECKPOINT.metrics.jsonl)",
    )
    p.add_argument(
        "--log-dir",
        dest="log_dir",
        metavar="DIR",
        type=output_dir,
        help="also write TensorBoard scalars here (needs tensorboard: pip install 'swiftspike[tensorboard]')",
    )
    p.add_argument(
        "--num-workers",
        dest="num_workers",
        type=nonneg_int,
        default=0,
        help="DataLoader worker processes for datasets read from disk (0: read in this process)",
    )


#: frame-binned event datasets: ``--bins`` sets their number of frames (``n_bins``)
EVENT_DATASETS = ("shd", "nmnist", "dvs-gesture", "nmnist-sim", "fashion-sim")


def data_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Extra load_dataset keywords from the data flags (the frame count of event datasets)."""
    if getattr(args, "bins", None) is None:
        return {}
    if args.dataset not in EVENT_DATASETS:
        raise SwiftSpikeError(f"--bins applies to event datasets ({', '.join(EVENT_DATASETS)}), not {args.dataset!r}")
    return {"n_bins": args.bins}


# -- 3. cross-option checks ----------------------------------------------------------------------------


def check_args(args: argparse.Namespace) -> None:
    """Rules between options, checked before the command starts."""
    if getattr(args, "resume", False):
        ck = getattr(args, "checkpoint", None)
        if not ck:
            raise SwiftSpikeError("--resume needs --checkpoint FILE (the checkpoint to continue from)")
        if not Path(ck).is_file() and getattr(args, "resume_missing", "error") != "fresh":
            raise SwiftSpikeError(
                f"--resume: checkpoint not found: {ck} (drop --resume to start a new run, or "
                "add --resume-missing fresh to start one whenever the file is missing)"
            )
    data_kwargs(args)
    check_runtime(args)


# -- 4. runtime settings -------------------------------------------------------------------------------


RUNTIME_OPTIONS = ("device", "precision", "compile", "threads")


def add_runtime_flags(p: argparse.ArgumentParser) -> None:
    """``--device --precision --compile --threads`` (one group; :func:`swiftspike.cli.build_parser` adds it
    to every leaf command). A command changes a default with ``p.set_defaults(device=..., threads=...)``."""
    from ..devices import PRECISIONS

    g = p.add_argument_group("runtime")
    device = p.get_default("device") or "auto"
    g.add_argument(
        "--device",
        type=device_name,
        default=device,
        help=f"auto (CUDA when present, else CPU) | cpu | cuda | cuda:N | mps (default {device}); "
        "a device this machine lacks is an error",
    )
    g.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=p.get_default("precision") or "float32",
        help="float32 (default) | bf16 (CUDA, CPU) | fp16 (CUDA; loss scaling): autocast, weights stay float32",
    )
    g.add_argument("--compile", action="store_true", help="run the model's layers through torch.compile")
    threads = p.get_default("threads")
    g.add_argument(
        "--threads",
        type=nonneg_int,
        default=threads,
        help="CPU threads of torch (0: every core; default "
        + (f"{threads})" if threads is not None else "$OMP_NUM_THREADS, else half the cores, 1 to 4)"),
    )


def honoured(args: argparse.Namespace) -> tuple[str, ...]:
    """The runtime options the command honours (``p.set_defaults(runtime=(...))``; default: threads only)."""
    return tuple(getattr(args, "runtime", None) or ("threads",))


def _prog(args: argparse.Namespace) -> str:
    return getattr(args, "prog", None) or "this command"


def check_runtime(args: argparse.Namespace) -> None:
    """Refuse runtime options the command cannot honour, and a precision the device cannot run."""
    from ..devices import check_precision, resolve_device

    if not hasattr(args, "device"):
        return
    ok = honoured(args)
    if "device" not in ok and args.device not in ("auto", "cpu"):
        raise SwiftSpikeError(f"'{_prog(args)}' runs on the CPU only; drop --device {args.device}")
    if "precision" not in ok and args.precision != "float32":
        raise SwiftSpikeError(f"'{_prog(args)}' computes in float32 only; drop --precision {args.precision}")
    if "compile" not in ok and args.compile:
        raise SwiftSpikeError(f"'{_prog(args)}' has no model to compile; drop --compile")
    check_precision(args.precision, resolve_device(device_of(args)))


def device_of(args: argparse.Namespace) -> str:
    """The device name the command runs on (``cpu`` for commands that do not honour ``--device``)."""
    if "device" not in honoured(args):
        return "cpu"
    return getattr(args, "device", "auto")


@contextlib.contextmanager
def runtime(args: argparse.Namespace) -> Iterator[None]:
    """Process-wide settings for one command, restored afterwards (so ``main()`` called from Python
    leaves the caller's settings as they were): inside, ``device="auto"`` means the command's device and
    ``threads=None`` its ``--threads`` (see :func:`swiftspike.devices.defaults`)."""
    from ..devices import defaults

    with defaults(device_of(args), getattr(args, "threads", None)):
        yield


# -- 5. output and errors ------------------------------------------------------------------------------


def is_main() -> bool:
    """Whether this process reports: rank 0 under ``torchrun`` (or the only process)."""
    from ..training.distributed import is_main as main_rank

    return main_rank()


def show_text(args: argparse.Namespace) -> bool:
    """Human-readable tables are printed unless ``--json --quiet`` asks for the JSON line alone (and only
    by rank 0 under ``torchrun``)."""
    return not (getattr(args, "json", False) and getattr(args, "quiet", False)) and is_main()


def log_fn(args: argparse.Namespace) -> Callable[[str], None]:
    """Progress lines for people (none with ``--quiet``, none from ranks other than 0)."""
    if getattr(args, "quiet", False) or not is_main():
        return lambda s: None
    return lambda s: print(s, flush=True)


def emit(args: argparse.Namespace, result: dict[str, Any], text: str | None = None) -> None:
    """Print ``text`` for people, then (with ``--json``) the result as the last line; write ``--out``.
    Under ``torchrun`` only rank 0 prints and writes."""
    if not is_main():
        return
    result = json_safe(result)
    if text:
        print(text)
    if getattr(args, "out", None):
        path = Path(args.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2))
    if getattr(args, "json", False):
        print(json.dumps(result), flush=True)


def emit_study(args: argparse.Namespace, result: Any, always_plots: bool = False) -> dict[str, Any]:
    """Emit a study result (:class:`swiftspike.studies.base.StudyResult`): its table, its JSON and,
    with ``--plot DIR``, its plots (their paths under the JSON key ``plots``, present even without
    ``--plot`` when ``always_plots``)."""
    d = result.to_dict()
    out = plot_dir(args)
    if out is not None or always_plots:
        d["plots"] = [str(p) for p in result.plots(out)] if out is not None else []
    emit(args, d, result.table() if show_text(args) else None)
    return d


def plot_dir(args: argparse.Namespace) -> Path | None:
    """The ``--plot`` folder (created), or ``None`` without ``--plot`` and on ranks other than 0."""
    d = getattr(args, "plot", None)
    if not d or not is_main():
        return None
    p = Path(d)
    if p.exists() and not p.is_dir():
        raise SwiftSpikeError(f"--plot needs a directory, {p} is a file")
    p.mkdir(parents=True, exist_ok=True)
    return p


class UsageError(SwiftSpikeError):
    """A command line that does not parse; ``prog`` names the (sub)command."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line (raised as :class:`UsageError`,
    printed by ``main``) instead of the usage block; sub-parsers inherit the class."""

    def error(self, message: str) -> None:  # type: ignore[override]
        m = re.match(r"argument ([^:]+): (.*)", message, re.S)
        if m:
            opt, msg = m.group(1).split("/")[0], m.group(2)
            message = f"{opt} {msg}" if re.match(r"(must|cannot|needs|is) ", msg) else f"{opt}: {msg}"
        raise UsageError(self.prog, f"{message} (see '{self.prog} --help')")


#: optional packages -> the swiftspike extra that installs them
EXTRAS = {"sklearn": "data", "mlxtend": "data", "h5py": "data", "matplotlib": "plots", "tqdm": "progress"}


def error_line(e: BaseException) -> str | None:
    """One line for an exception a user can cause (bad input, missing file or optional package),
    or ``None`` for anything else (a bug: let its traceback show)."""
    if isinstance(e, SwiftSpikeError):
        return str(e)
    if isinstance(e, ModuleNotFoundError):
        mod = (e.name or "").split(".")[0]
        if mod in EXTRAS:
            return f"this needs the optional package {mod!r}: pip install 'swiftspike[{EXTRAS[mod]}]'"
        if mod and not mod.startswith("swiftspike"):
            return f"this needs the optional package {mod!r}, which is not installed: pip install {mod}"
        return None
    if isinstance(e, OSError):  # missing, unreadable or unwritable files, full disks, corrupt HDF5 ...
        if e.filename:
            return f"cannot access {e.filename}: {e.strerror or e}"
        return f"input/output error: {e}"
    if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError":
        return "out of memory: try a smaller --batch-size, --limit or model"
    return None
