"""The ingest pipeline shared by pulls (collectors, simulator) and pushes (HTTP APIs)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pandas as pd

from greenwatch.model import validate_batch

Sink = Callable[[pd.DataFrame], int]


class Ingest:
    """Validate each batch against the contract and pass it to ``sink`` (e.g. ``store.write``).

    Counts what it saw so the service can expose ingest rates; a bad batch raises
    :class:`greenwatch.model.BatchError` before anything reaches the sink.
    """

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self.received = 0
        self.stored = 0
        self.rejected_batches = 0

    def submit(self, batch: pd.DataFrame) -> int:
        """Validate and store one batch; returns the number of samples newly stored."""
        try:
            checked = validate_batch(batch)
        except Exception:
            with self._lock:
                self.rejected_batches += 1
            raise
        stored = self._sink(checked)
        with self._lock:
            self.received += len(checked)
            self.stored += stored
        return stored
