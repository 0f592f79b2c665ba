"""Safe, atomic checkpoints: tensors in safetensors, everything else in JSON, one file, never a pickle.

Layout (format ``swiftspike-checkpoint`` version 2): one `safetensors <https://huggingface.co/docs/safetensors>`_
file. Its tensors are the payload's tensors under their path in the payload (``model/0.weight``,
``optimizer/state/0/exp_avg``, ``rng/torch`` ...); its header's ``__metadata__`` holds ``format``,
``version`` and ``swiftspike``: the whole payload as JSON, with every tensor replaced by
``{"__tensor__": "<name>"}`` (tuples become ``{"__tuple__": [...]}``, dicts with non-string keys
``{"__dict__": [[key, value], ...]}``). Reading parses the header as JSON and the tensor bytes as raw
numbers: nothing in a checkpoint can run code, and the JSON alone (:func:`read_checkpoint_info`, which
reads no tensor data) is enough to rebuild the model (see :mod:`swiftspike.training.restore`).

Writing (:func:`save_checkpoint`) goes to a hidden temporary file ``.<name>.<pid>.<random>.tmp`` beside
the target, which is flushed, fsync-ed, read back (header) and then ``os.replace``-d over the target: an
interruption leaves either the old or the new checkpoint, never a half-written one. Temporary files that
a killed save left behind (their process no longer runs) are removed by the next save to the same path.

Checkpoints of swiftspike 0.1 were ``torch.save`` pickles; :func:`load_checkpoint` refuses them with one
message naming :func:`convert_legacy_checkpoint`, which reads them with ``torch.load(weights_only=True)``
(tensors and plain containers only) and unpickles arbitrary objects only when asked with ``trust=True``.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import SwiftSpikeError

FORMAT = "swiftspike-checkpoint"
VERSION = 2
META_KEY = "swiftspike"
_MARKERS = ("__tensor__", "__tuple__", "__dict__", "__ndarray__", "__float__")


def need_safetensors():
    """The ``safetensors.torch`` module, or one clear error naming the extra."""
    try:
        import safetensors.torch as st
    except ImportError:
        raise SwiftSpikeError(
            "checkpoints need the optional package 'safetensors': pip install 'swiftspike[safetensors]'"
        ) from None
    return st


def swiftspike_version() -> str:
    from .._version import __version__

    return __version__


# -- payload <-> (JSON, tensors) -------------------------------------------------------------------
def _encode(obj: Any, path: list[str], tensors: dict[str, torch.Tensor], seen: set[int]) -> Any:
    where = "/".join(path) or "<root>"
    if isinstance(obj, torch.Tensor):
        if obj.layout != torch.strided:
            raise SwiftSpikeError(f"cannot store the {obj.layout} tensor at {where} in a checkpoint; make it dense")
        name, i = where, 1
        while name in tensors:
            i += 1
            name = f"{where}#{i}"
        t = obj.detach().to("cpu").contiguous()
        if t.numel() and t.untyped_storage().data_ptr() in seen:  # safetensors refuses shared memory
            t = t.clone()
        if t.numel():
            seen.add(t.untyped_storage().data_ptr())
        tensors[name] = t
        return {"__tensor__": name}
    if isinstance(obj, np.ndarray):
        return {
            "__ndarray__": _encode(
                torch.from_numpy(
                    np.ascontiguousarray(obj).astype(np.int64) if obj.dtype.kind in "ui" else np.ascontiguousarray(obj)
                ),
                path,
                tensors,
                seen,
            )["__tensor__"],
            "dtype": str(obj.dtype),
        }
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"__float__": repr(obj)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, path + [str(i)], tensors, seen) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, path + [str(i)], tensors, seen) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and k not in _MARKERS for k in obj):
            return {k: _encode(v, path + [k], tensors, seen) for k, v in obj.items()}
        return {
            "__dict__": [
                [_encode(k, path + ["key"], tensors, seen), _encode(v, path + [str(k)], tensors, seen)]
                for k, v in obj.items()
            ]
        }
    raise SwiftSpikeError(
        f"cannot store a {type(obj).__name__} at {where} in a checkpoint "
        "(only tensors, numbers, strings, None, lists, tuples and dicts)"
    )


def _decode(obj: Any, tensors: dict[str, torch.Tensor] | None) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if len(obj) == 1 and "__tensor__" in obj:
        if tensors is None:
            return obj
        try:
            return tensors[obj["__tensor__"]]
        except KeyError:
            raise SwiftSpikeError(f"checkpoint is corrupt: tensor {obj['__tensor__']!r} is missing") from None
    if len(obj) == 2 and "__ndarray__" in obj:
        if tensors is None:
            return obj
        return _decode({"__tensor__": obj["__ndarray__"]}, tensors).numpy().astype(obj["dtype"])
    if len(obj) == 1 and "__float__" in obj:
        return float(obj["__float__"])
    if len(obj) == 1 and "__tuple__" in obj:
        return tuple(_decode(v, tensors) for v in obj["__tuple__"])
    if len(obj) == 1 and "__dict__" in obj:
        return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__dict__"]}
    return {k: _decode(v, tensors) for k, v in obj.items()}


# -- writing ---------------------------------------------------------------------------------------
def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # a leftover of this process: its save is not running any more
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # exists (another user's) or cannot tell: keep it
    return True


def clean_stale_temps(path: str | os.PathLike) -> list[Path]:
    """Remove temporary files that interrupted saves to ``path`` left behind; returns what was removed.

    A temporary file of a save still running in another process (its pid is in the name) is kept."""
    path = Path(path)
    prefix = _temp_prefix(path)
    removed: list[Path] = []
    if not path.parent.is_dir():
        return removed
    for p in path.parent.iterdir():
        if not (p.name.startswith(prefix) and p.name.endswith(".tmp")) or not p.is_file():
            continue
        pid = p.name[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and _pid_alive(int(pid)):
            continue
        try:
            p.unlink()
            removed.append(p)
        except FileNotFoundError:
            pass
    return removed


def _write(tmp: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write the safetensors file ``tmp`` and force it to disk."""
    need_safetensors().save_file(tensors, str(tmp), metadata=metadata)
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)  # as an ordinary new file, not private like a temporary one
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def check_writable(path: str | os.PathLike, what: str = "checkpoint") -> Path:
    """Raise one clear error now if ``path`` cannot be written later (checked before long work starts)."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise SwiftSpikeError(f"{what} path {path} is a directory; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.parent / f"{_temp_prefix(path)}{os.getpid()}.probe.tmp"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise SwiftSpikeError(f"cannot write the {what} {path}: {e.strerror or e}") from None
    return path


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Atomically write ``payload`` (tensors, numbers, strings, lists, tuples, dicts) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temps(path)
    tensors: dict[str, torch.Tensor] = {}
    body = _encode({"format": FORMAT, "version": VERSION, **payload}, [], tensors, set())
    metadata = {"format": FORMAT, "version": str(VERSION), META_KEY: json.dumps(body)}
    tmp = path.parent / f"{_temp_prefix(path)}{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        _write(tmp, tensors, metadata)
        _read_header(tmp)  # a file that does not read back never replaces the old one
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    _fsync_dir(path.parent)
    return path


# -- reading ---------------------------------------------------------------------------------------
def sniff(path: str | os.PathLike) -> str:
    """``'safetensors'``, ``'torch-zip'`` (torch.save), ``'pickle'`` (old torch.save / raw pickle) or ``'unknown'``."""
    with open(path, "rb") as f:
        head = f.read(9)
        size = os.fstat(f.fileno()).st_size
    # safetensors first: its 8-byte header length can begin with any byte, 0x80 (a pickle's first byte) too
    if len(head) == 9 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") <= size - 8:
        return "safetensors"
    if head[:4] == b"PK\x03\x04":
        return "torch-zip"
    if head[:1] == b"\x80":
        return "pickle"
    return "unknown"


def _mentions_swiftspike(path: Path, kind: str) -> bool:
    """Whether a torch.save file holds a swiftspike 0.1 checkpoint (its pickle bytes name the format);
    read as bytes, never unpickled."""
    try:
        if kind == "torch-zip":
            with zipfile.ZipFile(path) as z:
                names = [n for n in z.namelist() if n.endswith("data.pkl")]
                return bool(names) and FORMAT.encode() in z.read(names[0])
        with open(path, "rb") as f:
            return FORMAT.encode() in f.read(1 << 20)
    except (OSError, zipfile.BadZipFile, RuntimeError):
        return False


def _legacy_error(path: Path, kind: str) -> SwiftSpikeError:
    if _mentions_swiftspike(path, kind):
        return SwiftSpikeError(
            f"{path} is a checkpoint in the old pickle format (torch.save, swiftspike 0.1), which is no longer "
            f"read because unpickling can run code stored in the file; convert it once with "
            f"'swiftspike convert-checkpoint {path} NEW' (Python: swiftspike.training.convert_legacy_checkpoint)"
        )
    return SwiftSpikeError(
        f"{path} is not a swiftspike checkpoint (it is a torch.save pickle file, which swiftspike does not unpickle)"
    )


def _read_header(path: Path) -> dict[str, str]:
    st = need_safetensors()  # noqa: F841 - clear error when missing
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != FORMAT or META_KEY not in meta:
        raise SwiftSpikeError(f"{path} is not a swiftspike checkpoint (a safetensors file without its metadata)")
    try:
        version = int(meta.get("version", "0"))
    except ValueError:
        version = 10**9
    if version > VERSION:
        raise SwiftSpikeError(
            f"checkpoint {path} has version {meta.get('version')}, newer than this swiftspike "
            f"({swiftspike_version()}); update swiftspike to read it"
        )
    return meta


def _open(path: str | os.PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise SwiftSpikeError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise SwiftSpikeError(f"checkpoint path is not a file: {path}")
    kind = sniff(path)
    if kind in ("torch-zip", "pickle"):
        raise _legacy_error(path, kind)
    if kind != "safetensors":
        raise SwiftSpikeError(f"checkpoint {path} is corrupt or unreadable (not a safetensors file)")
    return path


def read_checkpoint_info(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON part of a checkpoint (spec, config, encoder, meta, history ...) without reading any tensor
    data; tensors appear as ``{"__tensor__": name}``."""
    path = _open(path)
    try:
        meta = _read_header(path)
        return _decode(json.loads(meta[META_KEY]), None)
    except SwiftSpikeError:
        raise
    except Exception as e:  # safetensors / JSON errors of many kinds
        raise SwiftSpikeError(f"checkpoint {path} is corrupt or unreadable ({type(e).__name__})") from None


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (tensors on ``map_location``); one clear
    :class:`SwiftSpikeError` for a missing, truncated, foreign, too new or old-format file."""
    path = _open(path)
    from safetensors import safe_open

    try:
        meta = _read_header(path)
        with safe_open(str(path), framework="pt", device=str(map_location)) as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118  safe_open is not iterable
        data = _decode(json.loads(meta[META_KEY]), tensors)
    except SwiftSpikeError:
        raise
    except Exception as e:
        raise SwiftSpikeError(f"checkpoint {path} is corrupt or unreadable ({type(e).__name__})") from None
    if not isinstance(data, dict):
        raise SwiftSpikeError(f"checkpoint {path} is corrupt (its metadata is not an object)")
    return data


def torch_load_safe(path: str | os.PathLike, what: str = "file") -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain containers only, any other pickled object
    refused before it is built; failures become one :class:`SwiftSpikeError`."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        text = str(e)
        if "weights_only" in text or "Unsupported global" in text or "Unpickl" in type(e).__name__:
            raise SwiftSpikeError(
                f"{what} {path} holds pickled Python objects other than tensors and plain "
                "containers; refused without running them, because unpickling can run code "
                "stored in the file"
            ) from None
        raise SwiftSpikeError(f"{what} {path} is corrupt or unreadable ({type(e).__name__})") from None


def convert_legacy_checkpoint(path: str | os.PathLike, out: str | os.PathLike, *, trust: bool = False) -> Path:
    """Rewrite a swiftspike 0.1 ``torch.save`` checkpoint at ``path`` in the safe format at ``out``.

    The old file is read with ``torch.load(weights_only=True)``, which builds tensors and plain
    containers only (every checkpoint swiftspike 0.1 wrote is of that kind). A file holding other pickled
    objects is refused unless ``trust=True``: then it is unpickled with ``weights_only=False``, which runs
    whatever code the file carries -- only for files whose origin you trust (a warning says so)."""
    path = Path(path)
    if not path.is_file():
        raise SwiftSpikeError(f"checkpoint not found: {path}")
    kind = sniff(path)
    if kind == "safetensors":
        raise SwiftSpikeError(f"{path} is already a safetensors file; nothing to convert")
    if kind not in ("torch-zip", "pickle"):
        raise SwiftSpikeError(f"{path} is corrupt or not a torch.save file")
    try:
        data = torch_load_safe(path, "checkpoint")
    except SwiftSpikeError as e:
        if not trust or "refused" not in str(e):
            if "refused" in str(e):
                raise SwiftSpikeError(
                    f"{e}; if you trust where the file came from, convert it with trust=True (--trust)"
                ) from None
            raise
        warnings.warn(f"unpickling {path} with weights_only=False: this runs any code stored in the file", stacklevel=2)
        data = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise SwiftSpikeError(f"{path} is not a swiftspike checkpoint")
    payload = {k: v for k, v in data.items() if k not in ("format", "version")}
    payload.setdefault("converted_from", {"path": str(path), "version": data.get("version", 1)})
    return save_checkpoint(out, payload)
