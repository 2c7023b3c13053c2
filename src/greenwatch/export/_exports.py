"""The export side of a running service: the KPI snapshot job and the exporters reading it.

:class:`KpiExports` keeps the latest :class:`KpiSnapshot`, refreshed by a scheduler job (first
run at start, then every ``refresh_s``), and hands it to the Prometheus registry behind
``GET /metrics``, to the OTLP push (its own reader thread) and to the Influx push (a job).
A failing refresh or push is logged and counted and never stops the service: the previous
snapshot stays in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
from apscheduler.schedulers.base import BaseScheduler
from prometheus_client import CollectorRegistry

from greenwatch.export._health import ExportStats, ServiceHealth
from greenwatch.export._influx import InfluxExport, InfluxSettings
from greenwatch.export._otlp import OtlpExport, OtlpSettings
from greenwatch.export._prometheus import build_registry
from greenwatch.export._samples import LatestSamples, latest_samples, samples_registry
from greenwatch.export._snapshot import WINDOWS, KpiSnapshot, take_snapshot
from greenwatch.inventory import Inventory
from greenwatch.model import Clock
from greenwatch.query import ComputeSource, fresh_reads
from greenwatch.store import Store

log = logging.getLogger("greenwatch.export")


@dataclass(frozen=True)
class ExportSettings:
    """What a service exports; the defaults export nothing but health (``greenwatch serve``
    turns the KPI snapshot on, every 60 s).

    - ``refresh_s``: how often the KPI snapshot is recomputed (None, the default: never, or as
      often as a configured push; ``/metrics`` then carries health only);
    - ``windows``: the trailing windows, by label;
    - ``metrics_token``: ``GET /metrics`` needs a token with the ``read`` scope (default: open,
      like ``/healthz``; the page holds aggregates, no raw samples);
    - ``otlp``, ``influx``: push targets, off when None.
    """

    refresh_s: float | None = None
    windows: Mapping[str, pd.Timedelta] = field(default_factory=lambda: dict(WINDOWS))
    metrics_token: bool = False
    otlp: OtlpSettings | None = None
    influx: InfluxSettings | None = None


def _no_health() -> ServiceHealth:
    return ServiceHealth()


class KpiExports:
    """The latest snapshot, the registry that exposes it, and the push exporters.

    ``compute`` lists the compute pools and their verification records (default: the
    inventory's pools, no records; a service passes its registry's)."""

    def __init__(
        self,
        store: Store,
        inventory: Inventory,
        clock: Clock,
        settings: ExportSettings | None = None,
        health: Callable[[], ServiceHealth] = _no_health,
        compute: ComputeSource | None = None,
    ) -> None:
        self.store = store
        self.inventory = inventory
        self.clock = clock
        self.settings = settings or ExportSettings()
        self.compute = compute
        self.stats = ExportStats()
        self.snapshot: KpiSnapshot | None = None
        self.month: KpiSnapshot | None = None  # since the start of the month: counters
        self.samples: LatestSamples | None = None
        self._pushed: pd.Timestamp | None = None
        self.registry: CollectorRegistry = build_registry(
            self._latest, health, self.stats, lambda: self.month
        )
        self.samples_registry = samples_registry(lambda: self.samples, inventory.sites)
        self.otlp: OtlpExport | None = None
        self.influx: InfluxExport | None = None

    def _latest(self) -> KpiSnapshot | None:
        return self.snapshot

    def refresh(self) -> KpiSnapshot | None:
        """Recompute the snapshot, the month-to-date counters and the latest samples now, then
        publish them together; on failure keep the previous ones (logged, counted once)."""
        now = self.clock()
        try:
            with fresh_reads():
                samples = latest_samples(self.store, now)
                snapshot = take_snapshot(
                    self.store,
                    self.inventory,
                    now,
                    self.settings.windows,
                    compute=self.compute,
                )
                month = self._month(now)
        except Exception:  # telemetry never crashes its host; the old pages stay
            log.exception("KPI snapshot failed")
            self.stats.refresh_failed()
            return None
        self.samples, self.snapshot, self.month = samples, snapshot, month
        return snapshot

    def _month(self, now: pd.Timestamp) -> KpiSnapshot | None:
        """Energies and carbon since the start of the month (UTC), for the counters of
        ``/metrics``; None in the month's first minute (an empty window)."""
        end = now.floor("min")
        span = end - end.floor("D").replace(day=1)
        if span <= pd.Timedelta(0):
            return None
        return take_snapshot(self.store, self.inventory, now, {"month": span})

    def push_influx(self) -> int:
        """Write the latest snapshot to Influx unless it was written already; points written."""
        snapshot = self.snapshot
        if self.influx is None or snapshot is None or snapshot.taken_at == self._pushed:
            return 0
        try:
            written = self.influx.write(snapshot)
        except Exception as exc:  # the engine is down or refuses: count it, try the next one
            log.warning("Influx export to %s failed: %s", self.influx.settings.url, exc)
            self.stats.record("influx", ok=False)
            return 0
        self._pushed = snapshot.taken_at
        self.stats.record("influx", ok=True)
        return written

    def install(self, scheduler: BaseScheduler) -> None:
        """Add the refresh and Influx jobs to ``scheduler``; start the OTLP reader."""
        settings = self.settings
        pushes = [p.interval_s for p in (settings.otlp, settings.influx) if p is not None]
        # a push needs a snapshot: without a refresh interval, refresh as often as the pushes
        refresh_s = settings.refresh_s or (min(pushes) if pushes else None)
        if refresh_s is not None:
            scheduler.add_job(
                self.refresh,
                "interval",
                seconds=refresh_s,
                id="kpi-snapshot",
                next_run_time=datetime.now(UTC),  # the first snapshot at start
                misfire_grace_time=None,  # however long after construction the service starts
                max_instances=1,
                coalesce=True,
            )
        if settings.influx is not None:
            self.influx = InfluxExport(settings.influx)
            scheduler.add_job(
                self.push_influx,
                "interval",
                seconds=settings.influx.interval_s,
                id="kpi-influx",
                max_instances=1,
                coalesce=True,
            )
        if settings.otlp is not None:
            self.otlp = OtlpExport(settings.otlp, self._latest, self.stats)

    def close(self) -> None:
        """Push a last time and release the exporters."""
        if self.otlp is not None:
            self.otlp.close()
            self.otlp = None
        if self.influx is not None:
            self.push_influx()
            self.influx.close()
            self.influx = None
