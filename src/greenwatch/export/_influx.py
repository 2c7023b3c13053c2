"""Influx export of the computed KPIs to an InfluxDB-compatible engine (influxdb-client).

Each snapshot becomes points of measurement ``greenwatch_kpi``, tags ``kpi`` (figure key:
``pue``, ``carbon``, …), ``unit`` (UCUM) and the point's labels (``scope``, ``site``, ``hub``,
``region``, ``link``, ``basis``, ``window``), fields ``value`` and ``coverage``, stamped with
the window's end (second precision). InfluxDB 2 stores them as they are; VictoriaMetrics names
the series ``greenwatch_kpi_value`` and ``greenwatch_kpi_coverage``. Writing the same snapshot
twice stores nothing new (same series and timestamp).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision

from greenwatch.export._catalogue import FIGURES
from greenwatch.export._snapshot import KpiSnapshot

MEASUREMENT = "greenwatch_kpi"


@dataclass(frozen=True)
class InfluxSettings:
    """An InfluxDB v2 write API (``/api/v2/write``): InfluxDB 2, VictoriaMetrics, greenwatch.

    Read ``token`` from a file or the environment, never from code.
    """

    url: str
    token: str = ""
    org: str = "greenwatch"
    bucket: str = "greenwatch"
    interval_s: float = 60.0
    timeout_s: float = 10.0


def _escape(text: str) -> str:
    """A tag key or value in line protocol: backslash before comma, equals sign and space."""
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def snapshot_lines(snapshot: KpiSnapshot) -> list[str]:
    """The snapshot as line protocol (one line per figure and label set, at its window's end,
    second precision)."""
    ends = {w.name: int(w.end.timestamp()) for w in snapshot.windows}
    taken = int(snapshot.taken_at.timestamp())
    out = []
    for p in snapshot.points:
        labels = {**p.label_dict(), "kpi": p.figure, "unit": FIGURES[p.figure].otel_unit}
        tags = ",".join(f"{_escape(k)}={_escape(v)}" for k, v in sorted(labels.items()))
        fields = []
        if math.isfinite(p.value):
            fields.append(f"value={float(p.value)!r}")
        if p.coverage is not None:
            fields.append(f"coverage={float(p.coverage)!r}")
        if fields:
            ts = ends.get(labels.get("window", ""), taken)
            out.append(f"{MEASUREMENT},{tags} {','.join(fields)} {ts}")
    return out


class InfluxExport:
    """Writes snapshots through influxdb-client's synchronous write API."""

    def __init__(self, settings: InfluxSettings) -> None:
        self.settings = settings
        self._client = InfluxDBClient(
            url=settings.url,
            token=settings.token,
            org=settings.org,
            timeout=int(settings.timeout_s * 1000),
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, snapshot: KpiSnapshot) -> int:
        """Write every point of ``snapshot``; returns how many (raises on failure)."""
        lines = snapshot_lines(snapshot)
        if lines:
            self._write.write(
                self.settings.bucket,
                self.settings.org,
                "\n".join(lines),
                write_precision=WritePrecision.S,  # type: ignore[arg-type]
            )
        return len(lines)

    def close(self) -> None:
        self._write.close()  # type: ignore[no-untyped-call]
        self._client.close()  # type: ignore[no-untyped-call]
