"""greenwatch: observability and green-efficiency monitoring for a national computing network."""

__version__ = "0.1.0"
__all__ = ["__version__"]
