"""Reader for the IDX format of (Fashion-)MNIST, plain or gzip-compressed.

Layout: two zero bytes, one type byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), one byte with the number of dimensions ``n``, then ``n``
big-endian uint32 sizes, then the values in big-endian C order.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from ..errors import SwiftSpikeError

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(raw: bytes, name: str = "idx data") -> np.ndarray:
    """Decode the bytes of one IDX file into a numpy array (native byte order)."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise SwiftSpikeError(f"{name} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    head = 4 + 4 * ndim
    if ndim == 0 or len(raw) < head:
        raise SwiftSpikeError(f"{name} is corrupt: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - head != expected:
        raise SwiftSpikeError(
            f"{name} is corrupt or truncated: header says shape {dims} ({expected} bytes of data) "
            f"but the file holds {len(raw) - head}"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=head).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file; ``.gz`` files (or any gzip stream) are decompressed first."""
    p = Path(path)
    if not p.is_file():
        raise SwiftSpikeError(f"IDX file {p} does not exist")
    try:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise SwiftSpikeError(f"cannot read {p}: corrupt gzip data ({e})") from None
    return parse_idx(raw, str(p))
