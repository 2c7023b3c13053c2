"""OTLP/HTTP export of the KPI snapshot with the OpenTelemetry SDK.

A :class:`~opentelemetry.sdk.metrics.MeterProvider` of its own (never the global one) with a
:class:`~opentelemetry.sdk.metrics.export.PeriodicExportingMetricReader` pushes one observable
gauge per figure (and ``<name>.coverage``) to an OTLP/HTTP endpoint (``…/v1/metrics``: an
OpenTelemetry Collector, a vendor backend or another greenwatch). The gauges' callbacks read
the latest snapshot; an export computes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from greenwatch import __version__
from greenwatch.export._catalogue import FIGURES, Figure
from greenwatch.export._health import ExportStats
from greenwatch.export._snapshot import KpiSnapshot, points_of

SnapshotSource = Callable[[], KpiSnapshot | None]


@dataclass(frozen=True)
class OtlpSettings:
    """Where and how often to push: ``endpoint`` is the full URL (``http://h:4318/v1/metrics``).

    ``headers`` carry credentials (``{"Authorization": "Bearer …"}``); read them from a file or
    the environment, never from code.
    """

    endpoint: str
    headers: Mapping[str, str] = field(default_factory=dict)
    interval_s: float = 60.0
    timeout_s: float = 10.0
    resource: Mapping[str, str] = field(default_factory=dict)


@cache
def _counting_exporter() -> Callable[..., MetricExporter]:
    """The OTLP/HTTP exporter counting successes and failures for ``/metrics``; defined on
    first use, since the exporter loads protobuf (MiB that a process without pushes skips)."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # noqa: PLC0415 - see above
        OTLPMetricExporter,
    )

    class CountingExporter(OTLPMetricExporter):
        def __init__(self, stats: ExportStats, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._stats = stats

        def export(
            self, metrics_data: MetricsData, timeout_millis: float | None = 10_000, **kwargs: Any
        ) -> MetricExportResult:
            result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
            self._stats.record("otlp", result is MetricExportResult.SUCCESS)
            return result

    return CountingExporter


def _observe(
    source: SnapshotSource, figure: Figure, coverage: bool
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        del options
        out = []
        for point in points_of(source(), figure.key):
            value = point.coverage if coverage else point.value
            if value is not None and math.isfinite(value):
                out.append(Observation(value, point.label_dict()))
        return out

    return callback


class OtlpExport:
    """Observable gauges over the snapshot, pushed every ``interval_s`` until :meth:`close`."""

    def __init__(self, settings: OtlpSettings, snapshot: SnapshotSource, stats: ExportStats):
        exporter = _counting_exporter()(
            stats,
            endpoint=settings.endpoint,
            headers=dict(settings.headers),
            timeout=settings.timeout_s,
        )
        reader = PeriodicExportingMetricReader(
            exporter,
            export_interval_millis=settings.interval_s * 1000,
            export_timeout_millis=settings.timeout_s * 1000,
        )
        resource = Resource.create(
            {"service.name": "greenwatch", "service.version": __version__, **settings.resource}
        )
        # Shut down by close(), not at interpreter exit, when the endpoint may be long gone.
        self.provider = MeterProvider([reader], resource=resource, shutdown_on_exit=False)
        meter = self.provider.get_meter("greenwatch.export", __version__)
        for figure in FIGURES.values():
            meter.create_observable_gauge(
                figure.otel,
                [_observe(snapshot, figure, coverage=False)],
                unit=figure.otel_unit,
                description=figure.help,
            )
            if figure.coverage:
                meter.create_observable_gauge(
                    figure.coverage_otel,
                    [_observe(snapshot, figure, coverage=True)],
                    unit="1",
                    description=figure.coverage_description(figure.otel),
                )

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Export now (tests, ``greenwatch export-kpis``); True when the export succeeded."""
        return self.provider.force_flush(timeout_millis=timeout_s * 1000)

    def close(self) -> None:
        """Export a last time and stop the reader thread."""
        self.provider.shutdown()
