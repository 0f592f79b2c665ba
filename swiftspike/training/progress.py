"""Progress bars through tqdm when it is installed (optional extra), silent otherwise."""

from __future__ import annotations

from collections.abc import Iterable


def progress(
    iterable: Iterable, *, desc: str = "", total: int | None = None, enabled: bool = True, leave: bool = False
):
    """Wrap ``iterable`` in a tqdm bar on a terminal; return it unchanged otherwise."""
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=None, dynamic_ncols=True)
