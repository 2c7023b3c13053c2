"""Prometheus remote write (1.0): a snappy-compressed ``prometheus.WriteRequest`` as rows.

The message classes are built at import from a descriptor written here (the subset of
``prompb/remote.proto`` and ``prompb/types.proto`` that carries samples), so no generated code
or ``protoc`` is needed; fields we do not declare (exemplars, native histograms, metadata)
are skipped by the protobuf runtime. Timestamps are milliseconds. Non-finite values —
Prometheus's staleness markers among them — are not samples and are counted as ``stale``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cramjam
import numpy as np
import pandas as pd
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from greenwatch.model import GreenwatchError

MAX_DECOMPRESSED = 64 * 1024 * 1024


class RemoteWriteError(GreenwatchError, ValueError):
    """The body is not a snappy-compressed remote-write request (``status`` 400 or 413)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _message_classes() -> Any:
    proto = descriptor_pb2.FileDescriptorProto(
        name="greenwatch_prompb.proto", package="greenwatch.prompb", syntax="proto3"
    )
    f = descriptor_pb2.FieldDescriptorProto
    label, message = f.LABEL_OPTIONAL, f.TYPE_MESSAGE

    def add(name: str, fields: list[tuple[str, int, int, str | None, int]]) -> None:
        msg = proto.message_type.add(name=name)
        for field_name, number, kind, type_name, lab in fields:
            entry = msg.field.add(name=field_name, number=number, type=kind, label=lab)
            if type_name:
                entry.type_name = type_name

    add(
        "Label", [("name", 1, f.TYPE_STRING, None, label), ("value", 2, f.TYPE_STRING, None, label)]
    )
    add(
        "Sample",
        [("value", 1, f.TYPE_DOUBLE, None, label), ("timestamp", 2, f.TYPE_INT64, None, label)],
    )
    add(
        "TimeSeries",
        [
            ("labels", 1, message, ".greenwatch.prompb.Label", f.LABEL_REPEATED),
            ("samples", 2, message, ".greenwatch.prompb.Sample", f.LABEL_REPEATED),
        ],
    )
    add(
        "WriteRequest",
        [("timeseries", 1, message, ".greenwatch.prompb.TimeSeries", f.LABEL_REPEATED)],
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return {
        name: message_factory.GetMessageClass(
            pool.FindMessageTypeByName(f"greenwatch.prompb.{name}")
        )
        for name in ("Label", "Sample", "TimeSeries", "WriteRequest")
    }


MESSAGES = _message_classes()
WriteRequest = MESSAGES["WriteRequest"]


@dataclass
class RemoteRows:
    """Series ``(name, labels)`` and rows (ref = series index, series, value, t) of a request."""

    series: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    stale: int = 0


def decode_write_request(body: bytes, max_bytes: int = MAX_DECOMPRESSED) -> Any:
    """Snappy (block format) → ``WriteRequest``; bodies over ``max_bytes`` are refused."""
    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except cramjam.DecompressionError as exc:
        raise RemoteWriteError(f"not snappy-compressed: {exc}") from None
    if size > max_bytes:
        raise RemoteWriteError(f"decompressed body of {size} bytes exceeds {max_bytes}", 413)
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise RemoteWriteError(f"not snappy-compressed: {exc}") from None
    request = WriteRequest()
    try:
        request.ParseFromString(raw)
    except DecodeError as exc:
        raise RemoteWriteError(f"not a prometheus WriteRequest: {exc}") from None
    return request


def request_rows(request: Any) -> RemoteRows:
    """One series per TimeSeries (``__name__`` is the name), its samples as rows."""
    out = RemoteRows()
    owners: list[np.ndarray] = []
    values: list[np.ndarray] = []
    times: list[np.ndarray] = []
    for ts in request.timeseries:
        labels = {lab.name: lab.value for lab in ts.labels}
        name = labels.pop("__name__", "")
        idx = len(out.series)
        out.series.append((name, labels))
        value = np.fromiter((s.value for s in ts.samples), dtype="float64", count=len(ts.samples))
        stamp = np.fromiter((s.timestamp for s in ts.samples), dtype="int64", count=len(ts.samples))
        finite = np.isfinite(value)
        out.stale += int((~finite).sum())
        owners.append(np.full(int(finite.sum()), idx, dtype="int64"))
        values.append(value[finite])
        times.append(stamp[finite] * 1_000_000)
    series = np.concatenate(owners) if owners else np.array([], dtype="int64")
    out.rows = pd.DataFrame(
        {
            "ref": series,
            "series": series,
            "value": np.concatenate(values) if values else np.array([], dtype="float64"),
            "t": np.concatenate(times) if times else np.array([], dtype="int64"),
        }
    )
    return out


def encode_write_request(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    """A snappy-compressed ``WriteRequest`` (for tests and tools): labels, [(ms, value)]."""
    request = WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, text in sorted(labels.items()):
            ts.labels.add(name=name, value=text)
        for stamp, number in samples:
            ts.samples.add(value=number, timestamp=stamp)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
