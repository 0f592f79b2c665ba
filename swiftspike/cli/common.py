"""Shared CLI pieces: every option used by more than one command is defined here, once.

A command module (``cli/baseline.py``, ``cli/asynch.py``, ``cli/convert.py``, ``cli/topspark.py``,
``cli/bench.py``) only calls the helpers below and turns the parsed arguments into a study or
library config; it never computes. The file has five parts:

1. **Argument types** (``positive_int``, ``nonneg_int``, ``positive_float``, ``nonneg_float``,
   ``fraction``, ``int_list``, ``output_file``, ``output_dir``, ``energy_table``): each checks its
   value while the command line is parsed, so a bad value, or an output path that cannot be written,
   fails with one ``error:`` line before any data is loaded or any model trained.
2. **Option groups**, one definition per option:

   ===========================  ==================================================================
   ``add_output_flags(p)``      ``--json --out FILE --plot DIR --quiet`` (every command)
   ``add_data_flags(p)``        ``--dataset --path --limit --seed --bins``
   ``add_seed_flag(p)``         ``--seed`` alone (commands without a dataset)
   ``add_time_steps_flag(p)``   ``--T`` (one int, or a comma list with ``many=True``)
   ``add_train_flags(p)``       ``--epochs --batch-size --lr`` (defaults per command)
   ``add_spike_reg_flag(p)``    ``--spike-reg``
   ``add_energy_flag(p)``       ``--energy-table``
   ``add_checkpoint_flags(p)``  ``--checkpoint`` (written each epoch) and ``--resume``
   ===========================  ==================================================================

3. **Cross-option checks**: :func:`check_args` (``--resume`` needs an existing ``--checkpoint``, ...),
   run by :func:`swiftspike.cli.main` after parsing and before the command.
4. **Runtime settings**: :func:`runtime` wraps every command and applies process-wide settings for
   its duration; today only the default thread count (:func:`swiftspike.devices.resolve_threads`).
   This is the one place where ``--device``, ``--precision``, ``--compile``, ``--threads`` and
   ``--log-dir`` go: define them as one option group next to :func:`runtime`, add that group to
   every leaf command in :func:`swiftspike.cli.build_parser` (one loop over the sub-parsers, so
   ``bench ...`` commands get them too; the benches' own ``--threads``/``--device`` in
   ``cli/bench.py`` then fold into it), and apply them inside :func:`runtime`.
5. **Output and errors**: :func:`emit` (table for people, JSON as the last line), :func:`emit_study`
   (a study result with its plots), :func:`plot_dir`, :class:`Parser` (usage errors on one line) and
   :func:`error_line` (any exception a user can cause -> one line).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

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
        raise argparse.ArgumentTypeError(f"cannot be written: no file can be created in {d} "
                                         f"({e.strerror or type(e).__name__})") from None


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


def energy_table(s: str) -> str:
    from ..metrics.energy import get_energy_table

    try:
        return get_energy_table(s).name
    except SwiftSpikeError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


# -- 2. option groups -------------------------------------------------------------------------------


def add_output_flags(p: argparse.ArgumentParser, plots: bool = True) -> None:
    p.add_argument("--json", action="store_true", help="print the result as one JSON object on the last line")
    p.add_argument("--out", metavar="FILE", type=output_file, help="also write the JSON result to FILE")
    if plots:
        p.add_argument("--plot", metavar="DIR", type=output_dir, help="save PNG plots into DIR")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars or log lines (with --json: only the JSON line)")


def add_seed_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=nonneg_int, default=0, help="random seed (data split, init, encoder noise)")


def add_data_flags(p: argparse.ArgumentParser, default: Optional[str] = "digits", *, dataset_help: Optional[str] = None,
                   limit: bool = True, bins: bool = True) -> None:
    p.add_argument("--dataset", default=default,
                   help=dataset_help or "digits | mnist5k | fashion-mnist | randman | shd | nmnist | dvs-gesture")
    p.add_argument("--path", help="file or folder for datasets read from disk (fashion-mnist, shd, nmnist)")
    if limit:
        p.add_argument("--limit", type=positive_int, help="use at most this many training samples")
    add_seed_flag(p)
    if bins:
        p.add_argument("--bins", type=positive_int,
                       help="time bins (frames) for event datasets: shd, nmnist, dvs-gesture")


def add_time_steps_flag(p: argparse.ArgumentParser, default: Any = None, help: str = "time steps",
                        many: bool = False) -> None:
    """``--T``: one positive integer, or with ``many`` a comma list (``--T 100,50,35``)."""
    p.add_argument("--T", type=nonempty_int_list if many else positive_int, default=default,
                   help=help + (" (comma-separated)" if many else ""))


def add_train_flags(p: argparse.ArgumentParser, *, epochs: int, lr: Optional[float], batch_size: int = 64,
                    epochs_help: str = "training epochs") -> None:
    """``--epochs --batch-size --lr`` with this command's defaults (``lr=None``: no ``--lr``, e.g. when
    a sweep chooses it)."""
    p.add_argument("--epochs", type=positive_int, default=epochs, help=epochs_help)
    p.add_argument("--batch-size", type=positive_int, default=batch_size)
    if lr is not None:
        p.add_argument("--lr", type=positive_float, default=lr, help="learning rate (Adam)")


def add_spike_reg_flag(p: argparse.ArgumentParser, help: str = "weight of the spike-count regulariser") -> None:
    p.add_argument("--spike-reg", type=nonneg_float, default=0.0, help=help)


def add_energy_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--energy-table", type=energy_table, default="45nm-fp32", help="45nm-fp32 | 45nm-int32")


def add_checkpoint_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", type=output_file, help="save an atomic checkpoint here after every epoch")
    p.add_argument("--resume", action="store_true", help="continue from --checkpoint (which must exist)")


EVENT_DATASETS = ("shd", "nmnist", "dvs-gesture")


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
        if not Path(ck).is_file():
            raise SwiftSpikeError(f"--resume: checkpoint not found: {ck} (drop --resume to start a new run)")
    data_kwargs(args)


# -- 4. runtime settings -------------------------------------------------------------------------------


@contextlib.contextmanager
def runtime(args: argparse.Namespace) -> Iterator[None]:
    """Process-wide settings for one command, restored afterwards (so ``main()`` called from Python
    leaves the caller's settings as they were).

    Today: torch's CPU threads, set to :func:`swiftspike.devices.resolve_threads` ``(None)``
    (``$OMP_NUM_THREADS`` when set, else half the usable cores, 1 to 4). torch's own default (every
    core) spins idle threads on cores that other jobs need: on a shared 2-core machine the demo
    trained in 8 s with 1 thread and 91 s with 2 (docs/cli.md)."""
    import torch

    from ..devices import set_threads

    before = torch.get_num_threads()
    set_threads(None)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# -- 5. output and errors ------------------------------------------------------------------------------


def show_text(args: argparse.Namespace) -> bool:
    """Human-readable tables are printed unless ``--json --quiet`` asks for the JSON line alone."""
    return not (getattr(args, "json", False) and getattr(args, "quiet", False))


def log_fn(args: argparse.Namespace) -> Callable[[str], None]:
    """Progress lines for people (none with ``--quiet``)."""
    if getattr(args, "quiet", False):
        return lambda s: None
    return lambda s: print(s, flush=True)


def emit(args: argparse.Namespace, result: dict[str, Any], text: Optional[str] = None) -> None:
    """Print ``text`` for people, then (with ``--json``) the result as the last line."""
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


def plot_dir(args: argparse.Namespace) -> Optional[Path]:
    d = getattr(args, "plot", None)
    if not d:
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


def error_line(e: BaseException) -> Optional[str]:
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
