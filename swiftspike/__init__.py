"""swiftspike: spiking neural networks that decide fast with few spikes."""
from .conversion import convert
from .engines.sync import SNN, run_step, run_sync
from .errors import SwiftSpikeError
from .metrics.report import Report
from .neurons import IF, LI, LIF, reset

__version__ = "0.1.0"
__all__ = ["convert", "SNN", "run_sync", "run_step", "SwiftSpikeError", "Report", "LIF", "IF", "LI", "reset", "__version__"]
