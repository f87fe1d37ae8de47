"""The package version, importable without importing the app factory."""

__version__ = "0.1.0"
