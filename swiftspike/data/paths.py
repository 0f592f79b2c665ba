"""Where user-provided data files live: an explicit ``path``, then an environment variable.

Nothing in swiftspike downloads data. A loader that reads files calls :func:`resolve_dir` and,
when nothing is found, raises one :class:`SwiftSpikeError` saying where to put the files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Union

from ..errors import SwiftSpikeError

PathLike = Union[str, "os.PathLike[str]"]

#: Umbrella variable: ``$SWIFTSPIKE_DATA/<subdir>`` is tried after the dataset's own variable.
DATA_ROOT_ENV = "SWIFTSPIKE_DATA"


def resolve_dir(
    path: PathLike | None,
    *,
    env: str,
    subdir: str,
    what: str,
    default: str | None = None,
    hint: str = "",
) -> Path:
    """Return the data folder: ``path``, else ``$env``, else ``$SWIFTSPIKE_DATA/subdir``, else ``default``.

    Raises :class:`SwiftSpikeError` naming every place tried when none of them exists.
    """
    tried: list[str] = []
    candidates: list[Path] = []
    if path is not None:
        candidates.append(Path(path).expanduser())
    else:
        if os.environ.get(env):
            candidates.append(Path(os.environ[env]).expanduser())
        if os.environ.get(DATA_ROOT_ENV):
            candidates.append(Path(os.environ[DATA_ROOT_ENV]).expanduser() / subdir)
        if default is not None:
            candidates.append(Path(default))
    for c in candidates:
        if c.exists():
            return c
        tried.append(str(c))
    status = f"{what} not found (looked in: {', '.join(tried)})" if tried else f"no {what} given"
    raise SwiftSpikeError(
        f"{status}; pass path=... (CLI: --path DIR) or set ${env}{hint}; swiftspike never downloads data"
    )


def need_file(folder: Path, names: Sequence[str], what: str, hint: str = "") -> Path:
    """Return the first of ``names`` that exists inside ``folder`` (or raise a clear error)."""
    for n in names:
        p = folder / n
        if p.is_file():
            return p
    raise SwiftSpikeError(f"{what}: none of {', '.join(names)} found in {folder}{hint}")
