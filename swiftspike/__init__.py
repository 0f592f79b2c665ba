"""swiftspike: spiking neural networks that decide fast with few spikes."""
from .conversion import convert
from .engines.sync import SNN, run_step, run_sync
from .errors import SwiftSpikeError
from .metrics.report import Report
from .neurons import IF, LI, LIF, reset

from ._version import __version__
__all__ = ["convert", "SNN", "run_sync", "run_step", "SwiftSpikeError", "Report", "LIF", "IF", "LI", "reset",
           "export_nir", "import_nir", "__version__"]


def __getattr__(name: str):
    """``export_nir`` / ``import_nir`` load :mod:`swiftspike.interop.nir` on first use (``nir`` is an optional extra)."""
    if name in ("export_nir", "import_nir"):
        from .interop import nir as _nir_interop

        return getattr(_nir_interop, name)
    raise AttributeError(f"module 'swiftspike' has no attribute {name!r}")
