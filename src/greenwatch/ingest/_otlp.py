"""OTLP/HTTP metrics: an ``ExportMetricsServiceRequest`` (protobuf or JSON) as pushed rows.

- Gauges and sums become samples; histograms, exponential histograms and summaries are not
  samples of a canonical metric and are counted (``ignored``), not stored.
- Cumulative sums are stored as sent. **Delta sums are accumulated into counters**: the
  running total per series (name + attributes) lives in :class:`DeltaAccumulator`, starting at
  0 for a series first seen. After a server restart a total starts again at 0, which the store
  reads as a counter reset (``increase`` is reset-aware), so no energy is lost or doubled as
  long as points of one series arrive in order.
- Data points flagged "no recorded value" are skipped.
- Resource attributes become labels (a data point's own attribute wins); ``greenwatch.site``
  (or ``site``) is the site. ``telemetry.*``, ``process.*`` and ``service.instance.id`` are
  left out: they describe the SDK or change at every restart, which would split series.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from greenwatch.model import GreenwatchError

SITE_ATTRIBUTES = ("greenwatch.site", "site")
_DROPPED_PREFIXES = ("telemetry.", "process.")
_DROPPED = {"service.instance.id"}
_NO_RECORDED_VALUE = 1
_DELTA = 1  # AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
Key = tuple[str, tuple[tuple[str, str], ...]]


class OtlpError(GreenwatchError, ValueError):
    """The body is not an OTLP metrics request."""


def decode_request(body: bytes, json_body: bool) -> ExportMetricsServiceRequest:
    """Decode protobuf or OTLP/JSON (lowerCamelCase, 64-bit integers as strings)."""
    request = ExportMetricsServiceRequest()
    try:
        if json_body:
            json_format.Parse(body.decode("utf-8"), request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError, RecursionError) as exc:
        raise OtlpError(f"not an OTLP metrics request: {exc}") from None
    return request


def encode_response(rejected: int, message: str, json_body: bool) -> bytes:
    """``ExportMetricsServiceResponse``, with ``partial_success`` when points were rejected."""
    response = ExportMetricsServiceResponse()
    if rejected or message:
        response.partial_success.rejected_data_points = rejected
        response.partial_success.error_message = message
    if json_body:
        return json_format.MessageToJson(response, indent=None).encode("utf-8")
    return response.SerializeToString()


def _text(value: AnyValue) -> str | None:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind in ("int_value", "double_value"):
        return str(getattr(value, kind))
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return json_format.MessageToJson(value, indent=None)


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        text = _text(pair.value)
        if text is not None:
            out[pair.key] = text
    return out


def _resource_tags(pairs: Iterable[KeyValue]) -> dict[str, str]:
    tags = {
        k: v
        for k, v in _attributes(pairs).items()
        if k not in _DROPPED and not k.startswith(_DROPPED_PREFIXES)
    }
    for key in SITE_ATTRIBUTES:
        if key in tags:
            tags["site"] = tags.pop(key)
            break
    return tags


@dataclass
class OtlpRows:
    """Series ``(name, tags)`` and rows (ref, series, value, t, delta) of one request."""

    series: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    ignored: int = 0
    points: int = 0


def request_rows(request: ExportMetricsServiceRequest, now_ns: int) -> OtlpRows:
    """Gauge and sum data points as rows; histogram-like points only counted."""
    out = OtlpRows()
    index: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
    series_col: list[int] = []
    values: list[float] = []
    times: list[int] = []
    delta: list[bool] = []
    for resource_metrics in request.resource_metrics:
        resource = _resource_tags(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind not in ("gauge", "sum"):
                    points = getattr(metric, kind).data_points if kind else []
                    out.ignored += len(points)
                    out.points += len(points)
                    continue
                data: Any = getattr(metric, kind)
                is_delta = kind == "sum" and data.aggregation_temporality == _DELTA
                for point in data.data_points:
                    out.points += 1
                    if point.flags & _NO_RECORDED_VALUE:
                        out.ignored += 1
                        continue
                    tags = {**resource, **_attributes(point.attributes)}
                    key = (metric.name, tuple(sorted(tags.items())))
                    idx = index.get(key)
                    if idx is None:
                        idx = index[key] = len(out.series)
                        out.series.append((metric.name, tags))
                    number = point.as_double if point.HasField("as_double") else point.as_int
                    series_col.append(idx)
                    values.append(float(number))
                    times.append(int(point.time_unix_nano) or now_ns)
                    delta.append(is_delta)
    out.rows = pd.DataFrame(
        {
            "ref": np.arange(len(values), dtype="int64"),
            "series": np.array(series_col, dtype="int64"),
            "value": np.array(values, dtype="float64"),
            "t": np.array(times, dtype="int64"),
            "delta": np.array(delta, dtype=bool),
        }
    )
    return out


class DeltaAccumulator:
    """Running totals of delta sums per series key, so they are stored as counters."""

    def __init__(self) -> None:
        self._totals: dict[Key, float] = {}
        self._lock = threading.Lock()

    def apply(self, parsed: OtlpRows) -> tuple[pd.DataFrame, dict[Key, float]]:
        """Rows with each delta point replaced by its series' running total (time order).

        Returns the rows and the new totals, which :meth:`commit` keeps once the samples are
        stored (a rejected request leaves the totals as they were).
        """
        rows = parsed.rows
        if rows.empty or not rows["delta"].any():
            return rows, {}
        rows = rows.sort_values(["series", "t"], kind="stable").reset_index(drop=True)
        mask = rows["delta"].to_numpy()
        owners = rows.loc[mask, "series"]
        keys = {
            int(i): (parsed.series[int(i)][0], tuple(sorted(parsed.series[int(i)][1].items())))
            for i in owners.unique()
        }
        with self._lock:
            base = {i: self._totals.get(key, 0.0) for i, key in keys.items()}
        totals = owners.map(base) + rows.loc[mask, "value"].groupby(owners).cumsum()
        rows.loc[mask, "value"] = totals.to_numpy()
        last = totals.groupby(owners).last()
        return rows, {keys[int(i)]: float(total) for i, total in last.items()}

    def commit(self, totals: dict[Key, float]) -> None:
        """Keep running totals computed by :meth:`apply`."""
        with self._lock:
            self._totals.update(totals)
