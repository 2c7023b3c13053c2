"""greenwatch's own health as plain data, read when ``/metrics`` is scraped.

The service gathers it from its parts (ingest counters, collection scheduler, alert engine)
with reads that take no lock held by a long job, so a scrape never waits for an evaluation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class CollectorHealth:
    """The last poll of one collection target (``collect`` scheduler)."""

    target: str
    profile: str
    site: str
    up: bool
    duration_s: float
    last_success: float | None = None  # Unix seconds


@dataclass(frozen=True)
class ServiceHealth:
    """Counters and gauges of a running ``greenwatch serve``.

    ``alert_rules`` is None when alerting is off; ``alert_evaluation_s`` and
    ``alert_last_evaluation`` (Unix seconds) are None before the first evaluation.
    """

    samples_received: int = 0
    samples_stored: int = 0
    batches_rejected: int = 0
    pending_batches: int = 0
    collectors: tuple[CollectorHealth, ...] = ()
    alert_rules: int | None = None
    alert_rule_errors: int = 0
    alert_evaluation_s: float | None = None
    alert_last_evaluation: float | None = None
    # The ingest boundary: requests refused, samples refused by reason (``format``: lines),
    # samples flagged by what (implausible, dropped_attributes, quarantined), unknown sources.
    boundary_refused_requests: int = 0
    boundary_refused: Mapping[str, int] = field(default_factory=dict)
    boundary_flagged: Mapping[str, int] = field(default_factory=dict)
    unregistered_sources: int = 0
    store_up: bool = True
    # The embedded store's memory (block cache and working memory) and its bound, in bytes;
    # None for stores that do not say.
    store_memory_bytes: int | None = None
    store_memory_limit_bytes: int | None = None


@dataclass
class ExportStats:
    """Outcomes of pushes per exporter (``otlp``, ``influx``) and of snapshot refreshes."""

    pushes: dict[tuple[str, str], int] = field(default_factory=dict)
    last_success: dict[str, float] = field(default_factory=dict)
    refresh_failures: int = 0
    clock: Callable[[], float] = time.time  # Unix seconds
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, exporter: str, ok: bool) -> None:
        key = (exporter, "success" if ok else "failure")
        with self._lock:
            self.pushes[key] = self.pushes.get(key, 0) + 1
            if ok:
                self.last_success[exporter] = self.clock()

    def refresh_failed(self) -> None:
        with self._lock:
            self.refresh_failures += 1

    def copy(self) -> ExportStats:
        with self._lock:
            return ExportStats(
                dict(self.pushes), dict(self.last_success), self.refresh_failures, self.clock
            )
