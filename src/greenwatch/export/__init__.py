"""Exports: greenwatch's KPIs and health to Prometheus, OpenTelemetry and Influx.

A scheduled job takes a :class:`KpiSnapshot` (:func:`take_snapshot`: every figure of
:data:`FIGURES`, computing power included, for trailing windows, by default ``1h`` and
``24h``); ``GET /metrics`` exposes it through a dedicated Prometheus registry
(:func:`build_registry`, :func:`exposition`),
:class:`OtlpExport` pushes it as OpenTelemetry observable gauges over OTLP/HTTP and
:class:`InfluxExport` writes it as ``greenwatch_kpi`` points. :class:`KpiExports` wires these
into a service.
"""

from typing import TYPE_CHECKING

from greenwatch._lazy import lazy_face

if TYPE_CHECKING:
    from greenwatch.export._catalogue import FIGURES
    from greenwatch.export._exports import ExportSettings, KpiExports
    from greenwatch.export._health import CollectorHealth, ExportStats, ServiceHealth
    from greenwatch.export._influx import InfluxExport, InfluxSettings, snapshot_lines
    from greenwatch.export._otlp import OtlpExport, OtlpSettings
    from greenwatch.export._points import KpiPoint
    from greenwatch.export._prometheus import (
        build_registry,
        exposition,
    )
    from greenwatch.export._snapshot import (
        WINDOWS,
        KpiSnapshot,
        Window,
        take_snapshot,
        window_bounds,
    )


__all__ = [
    "FIGURES",
    "WINDOWS",
    "CollectorHealth",
    "ExportSettings",
    "ExportStats",
    "InfluxExport",
    "InfluxSettings",
    "KpiExports",
    "KpiPoint",
    "KpiSnapshot",
    "OtlpExport",
    "OtlpSettings",
    "ServiceHealth",
    "Window",
    "build_registry",
    "exposition",
    "snapshot_lines",
    "take_snapshot",
    "window_bounds",
]

__getattr__ = lazy_face(
    __name__,
    "_catalogue",
    "_exports",
    "_health",
    "_influx",
    "_otlp",
    "_points",
    "_prometheus",
    "_snapshot",
)
