"""``GET /metrics``: the KPI snapshot and greenwatch's health as Prometheus metric families.

Two custom collectors (prometheus_client's one-method ``Collector``) on a dedicated
:class:`~prometheus_client.CollectorRegistry` (never the process-global one, so embedding
greenwatch or running two services in one process exports nothing twice): one turns the latest
snapshot into gauges, one reads the service's counters. A scrape computes nothing: both read
what scheduled jobs and the ingest path already keep. The text format by default; OpenMetrics
when the scraper asks for it (``Accept: application/openmetrics-text``); gzip on request.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from greenwatch import __version__
from greenwatch.export._catalogue import FIGURES
from greenwatch.export._health import ExportStats, ServiceHealth
from greenwatch.export._snapshot import KpiSnapshot

SnapshotSource = Callable[[], KpiSnapshot | None]
HealthSource = Callable[[], ServiceHealth]
GZIP_MIN_BYTES = 1024


# Site figures that are also exported as counters (energy and carbon since the start of the
# month, UTC): ``increase()`` over any range then works, and a ``sum()`` over sites counts each
# joule once. Groups are not: the sites a group includes change, and a counter must not fall.
COUNTER_FIGURES = ("facility_energy", "it_energy", "carbon")


def family_name(stem: str, unit: str, labels: dict[str, str]) -> tuple[str, dict[str, str]]:
    """``greenwatch_<level>_<stem>_<window>_<unit>`` and the labels left: the aggregation level
    (``scope``: site, hub, region, national) and the window move from labels into the name, so
    one metric holds one level (a ``sum()`` adds like with like) and one window."""
    rest = dict(labels)
    parts = ["greenwatch", rest.pop("scope", ""), stem, rest.pop("window", ""), unit]
    return "_".join(p for p in parts if p), rest


class SnapshotCollector(Collector):
    """One gauge family per figure, level and window (and a ``*_coverage_ratio`` beside it);
    site energies and carbon also as counters since the start of the month.

    Points whose value could not be computed (NaN) are left out of the value family; their
    coverage (0 when nothing was measured) is still exported, so an absent PUE and a PUE of a
    site that went dark look different.
    """

    def __init__(self, snapshot: SnapshotSource, counters: SnapshotSource) -> None:
        self._snapshot = snapshot
        self._counters = counters

    def collect(self) -> Iterator[Metric]:
        snapshot = self._snapshot()
        if snapshot is not None:
            yield from _gauges(snapshot)
            yield from _snapshot_meta(snapshot)
        counters = self._counters()
        if counters is not None:
            yield from _counters(counters)


def _gauges(snapshot: KpiSnapshot) -> Iterator[Metric]:
    families: dict[str, GaugeMetricFamily] = {}

    def add(name: str, text: str, unit: str, labels: dict[str, str], value: float) -> None:
        family = families.get(name)
        if family is None:
            family = families[name] = GaugeMetricFamily(name, text, unit=unit, labels=list(labels))
        family.add_metric(list(labels.values()), value)

    for point in snapshot.points:
        figure = FIGURES[point.figure]
        name, labels = family_name(figure.stem, figure.unit, point.label_dict())
        if math.isfinite(point.value):
            add(name, figure.help, figure.unit, labels, point.value)
        if figure.coverage and point.coverage is not None:
            cover, _ = family_name(figure.stem, "", point.label_dict())
            add(
                f"{cover}_coverage_ratio",
                figure.coverage_description(name),
                "ratio",
                labels,
                point.coverage,
            )
    yield from families.values()


def _counters(snapshot: KpiSnapshot) -> Iterator[Metric]:
    families: dict[str, CounterMetricFamily] = {}
    for point in snapshot.points:
        labels = point.label_dict()
        if point.figure not in COUNTER_FIGURES or labels.get("scope") != "site":
            continue
        figure = FIGURES[point.figure]
        labels.pop("window", None)
        name, rest = family_name(figure.stem, figure.unit, labels)
        family = families.get(name)
        if family is None:
            text = f"{figure.help.split(' over the window')[0]}, since the start of the month (UTC)"
            family = families[name] = CounterMetricFamily(
                name, text, unit=figure.unit, labels=list(rest)
            )
        if math.isfinite(point.value):
            family.add_metric(list(rest.values()), point.value)
    yield from families.values()


def _snapshot_meta(snapshot: KpiSnapshot) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "greenwatch_kpi_snapshot_timestamp_seconds",
        "When the KPI snapshot was taken (clock of the service), Unix seconds",
        value=snapshot.taken_at.timestamp(),
        unit="seconds",
    )
    yield GaugeMetricFamily(
        "greenwatch_kpi_snapshot_duration_seconds",
        "How long computing the KPI snapshot took",
        value=snapshot.duration_s,
        unit="seconds",
    )
    for window in snapshot.windows:
        for bound in ("start", "end"):
            ts = window.start if bound == "start" else window.end
            yield GaugeMetricFamily(
                f"greenwatch_kpi_window_{window.name}_{bound}_timestamp_seconds",
                f"{bound.capitalize()} of the {window.name} KPI window (half-open [start, end)), "
                "Unix seconds",
                value=ts.timestamp(),
                unit="seconds",
            )


class HealthCollector(Collector):
    """Ingest counters, collector and alert-engine health, export outcomes, build info."""

    def __init__(self, health: HealthSource, stats: ExportStats) -> None:
        self._health = health
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        health = self._health()
        yield InfoMetricFamily("greenwatch_build", "greenwatch version", {"version": __version__})
        for name, value, text in (
            ("received", health.samples_received, "Samples accepted by ingest (valid)"),
            ("stored", health.samples_stored, "Samples newly stored (duplicates not counted)"),
        ):
            yield CounterMetricFamily(f"greenwatch_ingest_samples_{name}", text, value=value)
        yield CounterMetricFamily(
            "greenwatch_ingest_rejected_batches",
            "Batches refused by ingest validation",
            value=health.batches_rejected,
        )
        yield GaugeMetricFamily(
            "greenwatch_store_up",
            "1 when the last read of the store succeeded, 0 when it failed (see /healthz)",
            value=int(health.store_up),
        )
        yield from _store_memory(health)
        yield GaugeMetricFamily(
            "greenwatch_collect_pending_batches",
            "Collected batches waiting for the next write to the store",
            value=health.pending_batches,
        )
        yield from _boundary(health)
        yield from _collectors(health)
        yield from _alerting(health)
        yield from _exports(self._stats.copy())


def _store_memory(health: ServiceHealth) -> Iterator[Metric]:
    for name, value, text in (
        (
            "memory",
            health.store_memory_bytes,
            "Memory the embedded store holds: its block cache and running statements' memory",
        ),
        ("memory_limit", health.store_memory_limit_bytes, "Bound on the embedded store's memory"),
    ):
        if value is not None:
            yield GaugeMetricFamily(f"greenwatch_store_{name}_bytes", text, value=value)


def _boundary(health: ServiceHealth) -> Iterator[Metric]:
    yield CounterMetricFamily(
        "greenwatch_ingest_refused_requests",
        "Pushed requests refused at the ingest boundary (400: nothing of them stored)",
        value=health.boundary_refused_requests,
    )
    for name, text, counts in (
        (
            "refused",
            "Samples refused at the ingest boundary by reason (format: bad lines)",
            health.boundary_refused,
        ),
        (
            "flagged",
            "Samples of stored requests dropped or held out of every figure, by what",
            health.boundary_flagged,
        ),
    ):
        family = CounterMetricFamily(f"greenwatch_ingest_{name}_samples", text, labels=["reason"])
        for reason, value in sorted(counts.items()):
            family.add_metric([reason], value)
        yield family
    yield GaugeMetricFamily(
        "greenwatch_ingest_unregistered_sources",
        "Sites not in the inventory whose pushed samples are held in quarantine",
        value=health.unregistered_sources,
    )


def _collectors(health: ServiceHealth) -> Iterator[Metric]:
    names = ["target", "profile", "site"]
    up = GaugeMetricFamily(
        "greenwatch_collector_up", "Last poll of the target succeeded (1) or not (0)", labels=names
    )
    took = GaugeMetricFamily(
        "greenwatch_collector_duration_seconds", "Duration of the last poll", labels=names
    )
    last = GaugeMetricFamily(
        "greenwatch_collector_last_success_timestamp_seconds",
        "When the target was last polled successfully, Unix seconds",
        labels=names,
    )
    for c in health.collectors:
        key = [c.target, c.profile, c.site]
        up.add_metric(key, 1.0 if c.up else 0.0)
        took.add_metric(key, c.duration_s)
        if c.last_success is not None:
            last.add_metric(key, c.last_success)
    if health.collectors:
        yield from (up, took, last)


def _alerting(health: ServiceHealth) -> Iterator[Metric]:
    if health.alert_rules is None:
        return
    yield GaugeMetricFamily(
        "greenwatch_alert_rules", "Alert rules loaded", value=health.alert_rules
    )
    yield GaugeMetricFamily(
        "greenwatch_alert_rule_errors",
        "Alert rules whose last evaluation failed",
        value=health.alert_rule_errors,
    )
    if health.alert_evaluation_s is not None:
        yield GaugeMetricFamily(
            "greenwatch_alert_evaluation_duration_seconds",
            "Duration of the last evaluation of every alert rule",
            value=health.alert_evaluation_s,
            unit="seconds",
        )
    if health.alert_last_evaluation is not None:
        yield GaugeMetricFamily(
            "greenwatch_alert_last_evaluation_timestamp_seconds",
            "When the alert rules were last evaluated (clock of the service), Unix seconds",
            value=health.alert_last_evaluation,
            unit="seconds",
        )


def _exports(stats: ExportStats) -> Iterator[Metric]:
    yield CounterMetricFamily(
        "greenwatch_kpi_snapshot_failures",
        "KPI snapshot refreshes that failed (the previous snapshot stays)",
        value=stats.refresh_failures,
    )
    if not stats.pushes:
        return
    pushes = CounterMetricFamily(
        "greenwatch_export_pushes",
        "Pushes of the KPI snapshot per exporter (otlp, influx) and outcome",
        labels=["exporter", "outcome"],
    )
    for (exporter, outcome), count in sorted(stats.pushes.items()):
        pushes.add_metric([exporter, outcome], count)
    yield pushes
    last = GaugeMetricFamily(
        "greenwatch_export_last_success_timestamp_seconds",
        "When an exporter last pushed successfully, Unix seconds",
        labels=["exporter"],
        unit="seconds",
    )
    for exporter, ts in sorted(stats.last_success.items()):
        last.add_metric([exporter], ts)
    yield last


def _none() -> KpiSnapshot | None:
    return None


def build_registry(
    snapshot: SnapshotSource,
    health: HealthSource,
    stats: ExportStats,
    counters: SnapshotSource = _none,
) -> CollectorRegistry:
    """A dedicated registry: KPI snapshot (and ``counters``, the snapshot of the month so far),
    service health, process and Python runtime."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot, counters))
    registry.register(HealthCollector(health, stats))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def exposition(
    registry: CollectorRegistry, accept: str = "", accept_encoding: str = ""
) -> tuple[bytes, dict[str, str]]:
    """The page and its headers: OpenMetrics if ``accept`` asks for it, else text 0.0.4."""
    encoder, content_type = choose_encoder(accept)
    body = encoder(registry)
    headers = {"Content-Type": content_type}
    if "gzip" in accept_encoding.lower() and len(body) >= GZIP_MIN_BYTES:
        body = gzip.compress(body, compresslevel=5)
        headers["Content-Encoding"] = "gzip"
    return body, headers
