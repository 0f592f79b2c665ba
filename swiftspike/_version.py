"""The version, in one place (read by pyproject.toml, ``swiftspike --version`` and every record)."""

__version__ = "0.2.0"
