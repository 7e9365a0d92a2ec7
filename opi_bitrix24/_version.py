"""The package's version, in its own module: the core and the CLI read it without importing the package root."""

__all__ = ["__version__"]

__version__ = "0.1.0"
