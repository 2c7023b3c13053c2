"""The ingest pipeline shared by pulls (collectors, simulator) and pushes (HTTP APIs)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import pandas as pd

from greenwatch.model import SystemFailureError, validate_batch

Sink = Callable[[pd.DataFrame], int]
RECENT_IDS = 100_000


class IngestClosedError(SystemFailureError):
    """The pipeline is shutting down and takes no more batches."""


class Ingest:
    """Validate each batch against the contract and pass it to ``sink`` (e.g. ``store.write``).

    Counts what it saw so the service can expose ingest rates; a bad batch raises
    :class:`greenwatch.model.BatchError` before anything reaches the sink.

    A batch may carry an id (an agent's ``X-Greenwatch-Batch-Id``): the ids of the last
    ``recent_ids`` stored batches are remembered, and a batch whose id is known is not written
    again — a retry after a lost response costs nothing. (The store is idempotent on
    (metric, labels, ts) anyway; the ids are remembered in memory only.)

    :meth:`close` stops taking batches and waits for those in flight, so a service can close
    its store afterwards without cutting a write in half.
    """

    def __init__(self, sink: Sink, recent_ids: int = RECENT_IDS) -> None:
        self._sink = sink
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._closed = False
        self._recent: OrderedDict[str, int] = OrderedDict()
        self._recent_max = recent_ids
        self.received = 0
        self.stored = 0
        self.rejected_batches = 0
        self.repeated_batches = 0

    def seen(self, batch_id: str) -> int | None:
        """Samples stored by the batch with this id, if it is among the recent ones.

        A known id counts as a repeated batch (a client asks before sending it again).
        """
        with self._lock:
            stored = self._recent.get(batch_id)
            if stored is not None:
                self.repeated_batches += 1
            return stored

    def submit(self, batch: pd.DataFrame, batch_id: str | None = None) -> int:
        """Validate and store one batch; returns the number of samples newly stored.

        Raises :class:`IngestClosedError` once :meth:`close` has been called.
        """
        with self._lock:
            if self._closed:
                raise IngestClosedError("greenwatch is shutting down")
            if batch_id is not None and batch_id in self._recent:
                self.repeated_batches += 1
                return 0
            self._in_flight += 1
        try:
            return self._submit(batch, batch_id)
        finally:
            with self._lock:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.notify_all()

    def _submit(self, batch: pd.DataFrame, batch_id: str | None) -> int:
        try:
            checked = validate_batch(batch)
        except Exception:
            with self._lock:
                self.rejected_batches += 1
            raise
        stored = self._sink(checked) if len(checked) else 0
        with self._lock:
            self.received += len(checked)
            self.stored += stored
            if batch_id is not None:
                self._recent[batch_id] = stored
                while len(self._recent) > self._recent_max:
                    self._recent.popitem(last=False)
        return stored

    def close(self, timeout: float = 30.0) -> bool:
        """Take no more batches; wait up to ``timeout`` s for those in flight (True if done)."""
        with self._lock:
            self._closed = True
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)
