"""Ingest: validate and normalise batches from collectors and pushes, then hand them on.

Ingest sits left of the store in the flow, so it never imports a store: the sink that stores
a batch is given to it.
"""

from greenwatch.ingest._pipeline import Ingest, Sink

__all__ = ["Ingest", "Sink"]
