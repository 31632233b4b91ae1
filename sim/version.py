"""The package version, recorded in every result's metadata."""

__version__ = "0.1.0"
