"""swiftspike: spiking neural networks that decide fast with few spikes."""

from ._version import __version__
from .conversion import convert
from .engines.sync import SNN, run_step, run_sync
from .errors import SwiftSpikeError
from .metrics.report import Report
from .neurons import IF, LI, LIF, reset

__all__ = [
    "IF",
    "LI",
    "LIF",
    "SNN",
    "Report",
    "SwiftSpikeError",
    "__version__",
    "convert",
    "export_nir",
    "import_nir",
    "reset",
    "run_step",
    "run_sync",
]


def __getattr__(name: str):
    """``export_nir`` / ``import_nir`` load :mod:`swiftspike.interop.nir` on first use (``nir`` is an optional
    extra)."""
    if name in ("export_nir", "import_nir"):
        from .interop import nir as _nir_interop

        return getattr(_nir_interop, name)
    raise AttributeError(f"module 'swiftspike' has no attribute {name!r}")
