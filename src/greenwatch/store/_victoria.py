"""The scale-out store: VictoriaMetrics (single node or cluster) behind the store contract.

**Names.** Series keep their canonical names in the engine: ``power_watts{site=…,meter=…}``
is what a PromQL user, Grafana and the exported alert rules see (no server flag needed).

**Writes** are one ``POST /api/v1/import`` per write, nothing read first: VictoriaMetrics's
JSON-lines import, one line per series with its values and millisecond timestamps, retried with
exponential backoff on 429, 5xx and connection errors. **Idempotency is the engine's**: it must
run with ``-dedup.minScrapeInterval=1ms`` (every deployment file here does), which keeps one
sample per series and millisecond however often it was sent — a retried batch, an agent's retry
that lands on another ingest replica, two writers racing. Within a batch the first of duplicates
is sent, as the embedded store keeps it; across writes, a second *different* value for a stored
(series, ms) is the engine's choice, not the first. So ``write`` returns the samples sent, not
the samples new (:attr:`counts_new` is False). Then, on a single node (the read URL is the write
URL), it asks for ``/internal/force_flush`` so the next read sees the write; a cluster's
``vminsert`` has no such endpoint and data shows up within a second or so.
**Timestamps have millisecond resolution** in VictoriaMetrics: samples of one series closer
than 1 ms collapse to one.

**Two URLs.** ``url`` takes writes and ``read_url`` (default: ``url``) reads, so a cluster's
``vminsert`` and ``vmselect`` — or a vmauth in front of them — fit: e.g.
``http://vminsert:8480/insert/0/prometheus`` and ``http://vmselect:8481/select/0/prometheus``
for tenant 0 (``deploy/scale-out.md``).

**Reads.** Raw samples come from ``/api/v1/export`` (half-open: ``end`` − 1 ms). The
aggregations ``mean min max sum count first last`` are pushed down as MetricsQL
``avg_over_time`` … ``last_over_time`` over ``query_range`` with window = step, evaluated at
each bucket's last millisecond, so every bucket is exactly ``[b, b + step)``. ``increase``,
``integral`` and ``coverage`` are **not** PromQL's: VictoriaMetrics's ``increase`` looks at
the sample before the window and bridges every gap, while the contract splits a pair of
samples across buckets in proportion to time and bridges only gaps up to ``Gaps.max_gap``
(counters up to ``Gaps.counter_lookback``). So these three are computed from the raw export
(with the look-back margins on both sides) by the very SQL the embedded store uses
(``store/_sql.py``) in a throw-away in-memory DuckDB — the same definitions, the same
numbers. Coverage is the covered share of the bucket from those raw pairs, not
``count_over_time`` × scrape interval (which would assume an interval).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import httpx
import numpy as np
import orjson
import pandas as pd

from greenwatch.model import label_columns, metric_spec, validate_batch
from greenwatch.store._base import (
    Gaps,
    LabelFilter,
    StoreError,
    check_range,
    match_labels,
    normalise_aggs,
)
from greenwatch.store._duckdb import (
    _MERGE,
    HOUR,
    HOUR_STEP,
    _finish,
    _merge_columns,
    _regroup,
)
from greenwatch.store._sql import summary_sql
from greenwatch.store._vmkept import KeptInMemory
from greenwatch.store._vmrollup import (
    DIRTY,
    FROM,
    MS,
    NOTHING_ROLLED,
    SKEW,
    STATE_LOOKBACK,
    TIME_COLUMNS,
    UNTIL,
    RolledHours,
    Roller,
    Shard,
    canonical,
    dirty_markers,
    late_writes,
    log,
    oldest_marked,
    state_from_export,
    summary_match,
    summary_name,
    summary_rows,
)

DEFAULT_SKEW = pd.Timedelta(SKEW, unit="ns")
ADDITIVE = ("sum", "count", "increase", "integral")
RESET_AGGS = ["resets", "reset_start", "reset_end"]
ORDER_COLUMNS = ("first_t", "last_t")  # order the pieces of a bucket for ``first``, ``last``
PUSHDOWN = {
    "mean": "avg_over_time",
    "min": "min_over_time",
    "max": "max_over_time",
    "sum": "sum_over_time",
    "count": "count_over_time",
    "first": "first_over_time",
    "last": "last_over_time",
}
# How the engine merges an hourly summary column over many hours, by ``_MERGE``'s rule for it
# (``last_t``, which orders ``last_v`` there, is the latest).
OVER_HOURS = {"sum": "sum_over_time", "min": "min_over_time", "max": "max_over_time"}


def _merged_by(column: str) -> str:
    """How pieces of one bucket merge ``column`` (:data:`_MERGE`)."""
    return "max" if column == "last_t" else _MERGE[column]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def selector(metric: str, labels: LabelFilter | None = None, *, regex: bool = False) -> str:
    """The series selector of a canonical metric (``regex``: a name regex) with label filters
    (lists: any of)."""
    parts = [f"__name__{'=~' if regex else '='}{_quote(metric)}"]
    for name, wanted in (labels or {}).items():
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        if len(values) == 1:
            parts.append(f"{name}={_quote(values[0])}")
        else:
            parts.append(f"{name}=~{_quote('|'.join(re.escape(v) for v in values))}")
    return "{" + ",".join(parts) + "}"


def _seconds(ns: int) -> str:
    """A time parameter VictoriaMetrics reads with millisecond precision."""
    return f"{ns // MS / 1000:.3f}"


class VictoriaMetricsStore:
    """A store in VictoriaMetrics: writes to ``url`` (e.g. ``http://127.0.0.1:8428``), reads
    from ``read_url`` (default ``url``).

    ``token`` is sent as ``Authorization: Bearer …`` (for vmauth or a proxy in front);
    ``flush`` (default: when the two URLs are one single node's) calls ``/internal/force_flush``
    after writes; ``skew`` is how far the clocks of writers and the roller may differ, plus how
    long a write may take to become visible (default 5 minutes; see
    :mod:`greenwatch.store._vmrollup`).
    """

    counts_new = False  # write() returns samples sent; the engine de-duplicates

    def __init__(
        self,
        url: str,
        *,
        read_url: str | None = None,
        token: str | None = None,
        gaps: Gaps | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 5,
        flush: bool | None = None,
        skew: pd.Timedelta = DEFAULT_SKEW,
    ) -> None:
        self.url = url.rstrip("/")
        self.read_url = (read_url or url).rstrip("/")
        self.gaps = gaps or Gaps()
        self.max_retries = max_retries
        self.flush = self.read_url == self.url if flush is None else flush
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, headers=headers)
        self._read = httpx.Client(base_url=self.read_url, timeout=timeout_s, headers=headers)
        self._lock = threading.Lock()
        self.skew = int(skew.value)
        self._writer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._kept = KeptInMemory()

    # -- HTTP --------------------------------------------------------------------------------

    def _get(
        self, path: str, params: dict[str, Any], client: httpx.Client | None = None
    ) -> httpx.Response:
        client = client or self._read
        try:
            answer = client.post(path, data=params)
        except httpx.HTTPError as exc:
            raise StoreError(f"VictoriaMetrics at {client.base_url} unreachable: {exc}") from exc
        if answer.status_code != 200:
            raise StoreError(f"VictoriaMetrics {path}: HTTP {answer.status_code}: {answer.text}")
        return answer

    def _export_items(self, match: str, lo: int, hi: int) -> list[dict[str, Any]]:
        """``/api/v1/export`` of ``lo <= t < hi`` (ns) as parsed JSON lines."""
        answer = self._get(
            "/api/v1/export", {"match[]": match, "start": _seconds(lo), "end": _seconds(hi - MS)}
        )
        return [orjson.loads(line) for line in answer.content.splitlines() if line]

    def _export(self, match: str, lo: int, hi: int) -> pd.DataFrame:
        """Raw samples of the series matching ``match`` with ``lo <= t < hi`` (ns; ms steps).

        Columns: ``key`` (labels as JSON), ``t`` (ns), ``value``; one row per (key, t), in
        key and time order.
        """
        found = self._export_coded(match, lo, hi)
        return pd.DataFrame(
            {
                "key": pd.Series(found.keys[found.code], dtype=object),
                "t": found.t,
                "value": found.value,
            }
        )

    def _export_coded(self, match: str, lo: int, hi: int) -> _Samples:
        """:meth:`_export` with each sample's series as a number (its key's position in key
        order). The engine may hand a series over in several lines: samples are sorted and
        de-duplicated as arrays, by number."""
        ids: dict[str, int] = {}
        codes: list[np.ndarray] = []
        times: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for item in self._export_items(match, lo, hi):
            stamps = np.asarray(item["timestamps"], dtype="int64") * MS
            code = ids.setdefault(_series_key(item["metric"]), len(ids))
            codes.append(np.full(len(stamps), code, dtype="int64"))
            times.append(stamps)
            values.append(np.asarray(item["values"], dtype="float64"))
        if not ids:
            return _Samples.empty()
        found = np.asarray(list(ids), dtype=object)
        by_text = np.argsort(found, kind="stable")
        rank = np.empty(len(found), dtype="int64")
        rank[by_text] = np.arange(len(found))
        code, t, value = rank[np.concatenate(codes)], np.concatenate(times), np.concatenate(values)
        inside = (t >= lo) & (t < hi)
        code, t, value = code[inside], t[inside], value[inside]
        order = np.lexsort((t, code))
        code, t, value = code[order], t[order], value[order]
        first = np.ones(len(t), dtype=bool)
        first[1:] = (code[1:] != code[:-1]) | (t[1:] != t[:-1])
        return _Samples(found[by_text], code[first], t[first], value[first])

    # -- writing -----------------------------------------------------------------------------

    def write(self, batch: pd.DataFrame) -> int:
        """Store a batch in one import request; returns the number of samples sent (the first
        of duplicates within the batch; the engine keeps one per series and millisecond)."""
        batch = validate_batch(batch)
        if batch.empty:
            return 0
        labels = label_columns(batch)
        batch = batch.assign(ts=batch["ts"].dt.floor("ms"))
        batch = batch.drop_duplicates(["metric", *labels, "ts"], keep="first")
        now = time.time_ns()
        lines = _import_lines(batch) + dirty_markers(batch, now, self._writer)
        with self._lock:
            self._send(lines)
        return len(batch)

    def _send(self, lines: list[str]) -> None:
        """One import request of JSON lines (retried), then a flush where asked."""
        body = ("\n".join(lines) + "\n").encode()
        for attempt in range(self.max_retries + 1):
            error, retry = self._import(body)
            if error is None:
                break
            if not retry or attempt == self.max_retries:
                raise StoreError(f"VictoriaMetrics write to {self.url} failed: {error}")
            time.sleep(min(0.5 * 2.0**attempt, 10.0))
        if self.flush:
            self._flush()

    def _flush(self) -> None:
        """``/internal/force_flush``, so the next read sees the write; an engine without it
        (a cluster's vminsert, behind a proxy) is not asked again: its data shows up within a
        second or so."""
        try:
            answer = self._http.post("/internal/force_flush")
        except httpx.HTTPError as exc:
            raise StoreError(f"VictoriaMetrics at {self.url} unreachable: {exc}") from exc
        if answer.status_code in (400, 404):
            self.flush = False
        elif answer.status_code != 200:
            raise StoreError(f"VictoriaMetrics flush: HTTP {answer.status_code}: {answer.text}")

    def _import(self, body: bytes) -> tuple[str | None, bool]:
        """One ``/api/v1/import`` request: the error (None when stored) and whether a retry
        may help (connection errors, 429, 5xx)."""
        try:
            answer = self._http.post("/api/v1/import", content=body)
        except httpx.TransportError as exc:
            return f"unreachable: {exc}", True
        if answer.status_code < 300:
            return None, False
        status = answer.status_code
        return f"HTTP {status}: {answer.text[:200]}", status == 429 or status >= 500

    # -- reading -----------------------------------------------------------------------------

    def series(self, metric: str | None = None, labels: LabelFilter | None = None) -> pd.DataFrame:
        """Known series (columns metric and one per label present on them)."""
        match = selector(metric, labels) if metric else '{__name__=~".+"}'
        answer = self._get("/api/v1/series", {"match[]": match, "start": "1"})  # 0: last day
        rows = []
        for item in orjson.loads(answer.content)["data"]:
            name = item.pop("__name__")
            if metric_spec(name) is not None:  # canonical (or ext_): what greenwatch wrote
                rows.append({"metric": name, **item})
        frame = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["metric", "site"])
        frame = match_labels(frame, labels)
        label_cols = sorted(c for c in frame.columns if c not in ("metric", "site"))
        frame = frame[["metric", "site", *label_cols]].astype(object)
        return frame.where(frame.notna(), None).reset_index(drop=True)

    def query(
        self,
        metric: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        labels: LabelFilter | None = None,
        step: pd.Timedelta | None = None,
        agg: str | Sequence[str] | None = None,
        by: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Raw samples or per-bucket aggregates (see :class:`greenwatch.store.Store`).

        ``by`` (additive aggregations only) sums the per-series aggregates over the series
        that share those labels.
        """
        check_range(start, end, step)
        aggs = normalise_aggs(agg)
        if by is not None:
            if isinstance(by, str) or not aggs or not set(aggs) <= set(ADDITIVE):
                raise StoreError(f"by needs additive aggregations ({', '.join(ADDITIVE)})")
            per_series = self.query(metric, start, end, labels, step, aggs)
            return _summed_by(per_series, list(by), ["value"] if len(aggs) == 1 else aggs)
        lo, hi = int(start.tz_convert("UTC").value), int(end.tz_convert("UTC").value)
        width = int(step.value) if step is not None else hi - lo
        match = selector(metric, labels)
        if not aggs:
            raw = self._export(match, lo, hi)
            out = raw.rename(columns={"t": "ts"})
            out["ts"] = pd.to_datetime(out["ts"], unit="ns", utc=True)
            return _labelled(out, ["value"])
        if set(aggs) <= set(PUSHDOWN) and (hi - lo) % width == 0 and width % MS == 0:
            return self._pushed_down(match, aggs, lo, hi, width)
        return self._summarised(metric, labels, aggs, lo, hi, width)

    def latest(self, metric: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The last sample of each series of ``metric`` in ``[start, end)`` with its own
        timestamp (columns as a raw query's), in time order (ties in series order): two
        instant queries, ``tlast_over_time`` and ``last_over_time``, where a raw read would
        hand over every sample of the range (:meth:`DuckDBStore.latest`)."""
        check_range(start, end, None)
        lo, hi = int(start.tz_convert("UTC").value), int(end.tz_convert("UTC").value)
        found = self._edge_samples("last", selector(metric), hi - lo, hi - MS)
        found["ts"] = pd.to_datetime(found.pop("t"), unit="ns", utc=True)
        return _labelled(found, ["value"]).sort_values("ts", kind="stable", ignore_index=True)

    def reset_hours(
        self,
        metric: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        labels: LabelFilter | None = None,
    ) -> pd.DataFrame:
        """The hours of ``[start, end)`` (whole hours) in which a counter of ``metric`` reset
        (:meth:`greenwatch.store.DuckDBStore.reset_hours`): the summarised hours are searched
        in the engine (``last_over_time(m:1h_resets[1h]) > 0`` per hour), and only the series
        and hours found are read; the hours not summarised are read as ``query`` reads them."""
        check_range(start, end, HOUR_STEP)
        lo, hi = int(start.tz_convert("UTC").value), int(end.tz_convert("UTC").value)
        if lo % HOUR or hi % HOUR:
            raise StoreError("reset hours are whole hours")
        inner = self._summary_span(metric, lo, hi, HOUR)
        everything: dict[str, str] = {}
        if inner is None:
            pieces = [(lo, hi, everything)]
        else:
            pieces = [(lo, inner[0], everything), (inner[1], hi, everything)]
            pieces += self._reset_pieces(metric, labels, *inner)
        parts = [
            self.query(
                metric,
                pd.Timestamp(a, tz="UTC"),
                pd.Timestamp(b, tz="UTC"),
                {**(labels or {}), **only},
                HOUR_STEP,
                RESET_AGGS,
            )
            for a, b, only in pieces
            if b > a
        ]
        found = pd.concat([p for p in parts if not p.empty] or [_empty(RESET_AGGS)])
        found = found[found["resets"] > 0]
        label_cols = [c for c in found.columns if c not in ("ts", *RESET_AGGS)]
        return found.sort_values([*label_cols, "ts"], kind="stable", ignore_index=True)

    def _reset_pieces(
        self, metric: str, labels: LabelFilter | None, lo: int, hi: int
    ) -> list[tuple[int, int, dict[str, str]]]:
        """The summarised hours ``[lo, hi)`` with a counter reset: per series found, the span
        from its first such hour to its last, and the labels that select it."""
        latest = f"last_over_time({selector(summary_name(metric, 'resets'), labels)}[1h])"
        answer = self._get(
            "/api/v1/query_range",
            {
                "query": f"{latest} > 0",
                "start": _seconds(lo + HOUR),
                "end": _seconds(hi),
                "step": "1h",
                "nocache": "1",
            },
        )
        pieces = []
        for item in orjson.loads(answer.content)["data"]["result"]:
            ends = [round(float(p[0]) * 1000) * MS for p in item["values"]]
            only = {k: v for k, v in item["metric"].items() if k != "__name__"}
            pieces.append((min(ends) - HOUR, max(ends), only))
        return pieces

    def query_spans(self, metric: str, spans: pd.DataFrame) -> pd.DataFrame:
        """Raw samples of ``metric`` inside each of many short spans (see
        :meth:`greenwatch.store.DuckDBStore.query_spans`): spans are read together, one export
        per hour they fall in, not one request each. Columns span, ts, value."""
        labels = [c for c in spans.columns if c not in ("start", "end")]
        spans = spans.reset_index(drop=True).assign(
            span=np.arange(len(spans)),
            lo=spans["start"].to_numpy(dtype="datetime64[ns]").view("int64"),
            hi=spans["end"].to_numpy(dtype="datetime64[ns]").view("int64"),
        )
        window = (spans["lo"] - spans["lo"].min()) // HOUR
        parts = []
        for _, group in spans.groupby(window, sort=True):
            wanted = {c: sorted(set(group[c].dropna().astype(str))) for c in labels}
            raw = self._export(
                selector(metric, wanted), int(group["lo"].min()), int(group["hi"].max())
            )
            if raw.empty:
                continue
            keys = _key_table(raw["key"].unique())
            if not set(labels) <= set(keys.columns):
                continue
            rows = raw.merge(keys[["key", *labels]], on="key").merge(
                group[["span", "lo", "hi", *labels]], on=labels
            )
            parts.append(rows[(rows["t"] >= rows["lo"]) & (rows["t"] < rows["hi"])])
        found = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        if found.empty:
            return pd.DataFrame(
                {"span": [], "ts": pd.Series([], dtype="datetime64[ns, UTC]"), "value": []}
            )
        found = found.sort_values(["span", "t"], ignore_index=True)
        return pd.DataFrame(
            {
                "span": found["span"].to_numpy(dtype="int64"),
                "ts": pd.to_datetime(found["t"].to_numpy(dtype="int64"), unit="ns", utc=True),
                "value": found["value"].to_numpy(dtype="float64"),
            }
        )

    def _pushed_down(
        self, match: str, aggs: list[str], lo: int, hi: int, width: int
    ) -> pd.DataFrame:
        parts = []
        for name in aggs:
            query = f"{PUSHDOWN[name]}({match}[{width // MS}ms])"
            answer = self._get(
                "/api/v1/query_range",
                {
                    "query": query,
                    "start": _seconds(lo + width - MS),
                    "end": _seconds(hi - MS),
                    "step": f"{width // MS}ms",
                    "nocache": "1",
                },
            )
            for item in orjson.loads(answer.content)["data"]["result"]:
                stamps = np.array([p[0] for p in item["values"]], dtype="float64")
                bucket = np.round(stamps * 1000).astype("int64") * MS - width + MS
                parts.append(
                    pd.DataFrame(
                        {
                            "key": _series_key(item["metric"]),
                            "ts": bucket,
                            "agg": name,
                            "value": [float(p[1]) for p in item["values"]],
                        }
                    )
                )
        if not parts:
            return _empty(aggs)
        long = pd.concat(parts, ignore_index=True)
        wide = long.pivot_table(index=["key", "ts"], columns="agg", values="value", aggfunc="first")
        wide = wide.reindex(columns=aggs).reset_index()
        wide["ts"] = pd.to_datetime(wide["ts"], unit="ns", utc=True)
        if len(aggs) == 1:
            wide = wide.rename(columns={aggs[0]: "value"})
        wide.columns.name = None
        return _labelled(wide, ["value"] if len(aggs) == 1 else aggs)

    def _summarised(
        self, metric: str, labels: LabelFilter | None, aggs: list[str], lo: int, hi: int, width: int
    ) -> pd.DataFrame:
        """Aggregates from the hourly summaries kept in the engine for the whole hours they
        cover (:mod:`greenwatch.store._vmrollup`), and from raw samples for the rest."""
        inner = self._summary_span(metric, lo, hi, width)
        pieces = [(lo, hi)] if inner is None else [(lo, inner[0]), (inner[1], hi)]
        parts = [
            self._raw_rows(selector(metric, labels), lo, width, a, b) for a, b in pieces if b > a
        ]
        if inner is not None:
            columns = _merge_columns(aggs)
            if width == hi - lo and all(_merged_by(c) in OVER_HOURS for c in columns):
                parts.append(self._merged_hours(metric, labels, columns, *inner))
            else:
                match = selector(summary_match(metric, columns), labels, regex=True)
                items = self._export_items(match, inner[0], inner[1])
                parts.append(summary_rows(items, metric))
        found = [part for part in parts if not part.empty]
        if not found:
            return _empty(aggs)
        rows = pd.concat(found, ignore_index=True)
        codes, keys = pd.factorize(rows["key"])
        rows = rows.assign(series_id=codes.astype("int32")).drop(columns="key")
        data = _regroup(rows, lo, width) if len(found) > 1 or inner is not None else rows
        out = _finish(data, aggs, lo, hi, width)
        out["ts"] = pd.to_datetime(out["ts"].astype("int64"), unit="ns", utc=True)
        out["key"] = np.asarray(keys, dtype=object)[out["series_id"].to_numpy()]
        return _labelled(out.drop(columns="series_id"), ["value"] if len(aggs) == 1 else aggs)

    def _merged_hours(
        self, metric: str, labels: LabelFilter | None, columns: list[str], lo: int, hi: int
    ) -> pd.DataFrame:
        """The summaries of the whole hours ``[lo, hi)`` merged by the engine into one row per
        series (``key``, ``bucket`` = ``lo``, ``columns``), as :func:`_combine` merges them:
        one instant query per column, e.g. ``sum_over_time(last_over_time(m:1h_increase[1h])
        [720h:1h])`` at ``hi``. The inner query, aligned to whole hours, takes each hour's
        latest revision (stamped inside the hour); the outer one merges the hours. A month of
        a national counter is thousands of rows handed over instead of millions. The times
        that order the pieces (``first_t``, ``last_t``) are left empty: only ``first`` and
        ``last`` need them, and those are not merged here."""
        found: dict[str, pd.Series] = {}
        for column in (c for c in columns if c not in ORDER_COLUMNS):
            latest = f"last_over_time({selector(summary_name(metric, column), labels)}[1h])"
            query = f"{OVER_HOURS[_merged_by(column)]}({latest}[{(hi - lo) // MS}ms:1h])"
            values = self._instant(query, hi).set_index("key")["value"]
            found[column] = values * MS if column in TIME_COLUMNS else values
        rows = pd.DataFrame(found, columns=columns)
        summed = [c for c in columns if _merged_by(c) == "sum"]
        rows[summed] = rows[summed].fillna(0.0)  # as a sum over hours without the column
        rows.insert(0, "bucket", lo)
        return rows.rename_axis("key").reset_index()

    def _summary_span(self, metric: str, lo: int, hi: int, width: int) -> tuple[int, int] | None:
        """The whole hours of ``[lo, hi)`` a read takes from summaries, if any: on an hourly
        grid (or one bucket over the range), at least one hour, all of them summarised."""
        if width != hi - lo and (lo % HOUR or width % HOUR):
            return None
        start, end = self.rolled_hours().span(metric)
        a, b = max(start, -(-lo // HOUR) * HOUR), min(end, hi // HOUR * HOUR)
        return (a, b) if b - a >= HOUR else None

    def _raw_rows(self, match: str, origin: int, width: int, lo: int, hi: int) -> pd.DataFrame:
        """Bucket summaries (grid ``origin + k·width``) of the raw samples in ``[lo, hi)``,
        with the look-back margins, by the embedded store's SQL; a ``key`` column."""
        lookback, max_gap = self._gaps_ns()
        raw = self._export_coded(match, lo - max_gap, hi + max_gap)
        known = self._series_keys(match, lo - lookback, hi + lookback)
        sides = (
            known is None or bool(known - set(raw.keys[np.unique(raw.code[raw.t < lo])])),
            known is None or bool(known - set(raw.keys[np.unique(raw.code[raw.t >= hi])])),
        )
        far = self._neighbours(match, lo - max_gap, hi + max_gap, lookback - max_gap, sides)
        position = {k: i for i, k in enumerate(raw.keys)}
        keys = np.concatenate([raw.keys, [k for k in far["key"].unique() if k not in position]])
        if not len(keys):
            return pd.DataFrame()
        position |= {k: i for i, k in enumerate(keys[len(raw.keys) :], len(raw.keys))}
        far_code = far["key"].map(position).to_numpy(dtype="int64")
        samples = pd.DataFrame(
            {
                "series_id": np.concatenate([raw.code, far_code]).astype("int32"),
                "t": np.concatenate([raw.t, far["t"].to_numpy(dtype="int64")]),
                "value": np.concatenate([raw.value, far["value"].to_numpy(dtype="float64")]),
            }
        )
        ids = pd.DataFrame({"id": np.arange(len(keys), dtype="int32")})
        con = duckdb.connect()
        try:
            con.register("samples", samples)
            con.register("_ids", ids)
            params = {
                "origin": origin,
                "step": width,
                "lo": lo,
                "hi": hi,
                "max_gap": max_gap,
                "lookback": lookback,
            }
            data = con.execute(summary_sql("_ids"), params).df()
        finally:
            con.close()
        if data.empty:
            return pd.DataFrame()
        data["key"] = np.asarray(keys, dtype=object)[data["series_id"].to_numpy()]
        return data.drop(columns="series_id")

    def _series_keys(self, match: str, lo: int, hi: int) -> set[str] | None:
        """The keys of the series of ``match`` the engine's index holds for ``[lo, hi]`` (ns;
        whole days: a superset of those with a sample in it); None where the engine will not
        list them (e.g. more than its ``-search.maxSeries``)."""
        params = {"match[]": match, "start": _seconds(lo), "end": _seconds(hi)}
        try:
            answer = self._get("/api/v1/series", params)
        except StoreError as exc:
            log.warning("reading every series' far neighbours: %s", exc)
            return None
        return {_series_key(item) for item in orjson.loads(answer.content)["data"]}

    def _neighbours(
        self, match: str, lo: int, hi: int, reach: int, sides: tuple[bool, bool]
    ) -> pd.DataFrame:
        """Per series, the last sample in ``[lo - reach, lo)`` and the first in
        ``[hi, hi + reach)`` (ns; columns as :meth:`_export`): all a summary needs beyond
        ``[lo, hi)``, without exporting hours of samples. ``tlast_over_time`` and its kin over
        a window ``(t - w, t]`` at the millisecond before each edge. ``sides`` says which of
        the two are asked for: a series with a sample between ``lo`` and the range a summary
        covers (or between that range and ``hi``) pairs its far neighbour with that sample,
        outside the range, so the far one matters only where some series has none."""
        found = [pd.DataFrame({"key": [], "t": [], "value": []})]
        if reach > 0 and sides[0]:
            found.append(self._edge_samples("last", match, reach, lo - MS))
        if reach > 0 and sides[1]:
            found.append(self._edge_samples("first", match, reach, hi + reach - MS))
        return pd.concat(found, ignore_index=True)

    def _edge_samples(self, side: str, match: str, width: int, at: int) -> pd.DataFrame:
        """Per series of ``match``, its ``side`` (first or last) sample in ``(at - width, at]``
        (ns): columns ``key``, ``t`` (ns) and ``value``."""
        window = f"[{width // MS}ms]"
        stamps = self._instant(f"t{side}_over_time({match}{window})", at)
        values = self._instant(f"{side}_over_time({match}{window})", at)
        both = stamps.merge(values, on="key", suffixes=("_t", ""))
        t = np.round(both["value_t"].to_numpy(dtype="float64") * 1000).astype("int64") * MS
        return pd.DataFrame({"key": both["key"], "t": t, "value": both["value"]})

    def _instant(self, query: str, at: int) -> pd.DataFrame:
        """An instant query at ``at`` (ns): ``key`` (labels as JSON, no name) and ``value``."""
        answer = self._get("/api/v1/query", {"query": query, "time": _seconds(at), "nocache": "1"})
        found = orjson.loads(answer.content)["data"]["result"]
        return pd.DataFrame(
            {
                "key": pd.Series([_series_key(r["metric"]) for r in found], dtype=object),
                "value": np.array([float(r["value"][1]) for r in found], dtype="float64"),
            }
        )

    def _gaps_ns(self) -> tuple[int, int]:
        """The counter look-back and the longest gap, ns."""
        return int(self.gaps.counter_lookback.value), int(self.gaps.max_gap.value)

    # -- rows kept for the layer above ------------------------------------------------------

    def keeping_since(self) -> int:
        """The mark to take before a read whose derived rows may be kept: now (ns)."""
        return time.time_ns()

    def keep(self, name: str, signature: str, frame: pd.DataFrame, since: int) -> bool:
        """Keep rows derived per site and hour, read from ``since`` (:meth:`keeping_since`)
        on, in this process's memory (:mod:`greenwatch.store._vmkept`); True when kept."""
        if not len(frame):
            return False
        self._kept.keep(name, signature, frame, since)
        return True

    def settled_before(self) -> int:
        """The end (ns) of the hours that no sample still to come on time can change: the
        hours every series had reported past when the roller last ran, less those pending
        after late writes (whose markers drop what was kept of them)."""
        rolled = self.rolled_hours()
        return min([rolled.until, *(rolled.span(m)[1] for m in rolled.dirty)])

    def kept(
        self, name: str, signature: str, sites: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame | None:
        """Rows kept under ``name`` and ``signature`` for ``sites`` in ``[start, end)`` that no
        late write has touched since they were read (columns site, bucket in ns and the kept
        ones); None when none are kept so."""
        now = time.time_ns()
        items = self._export_items(f'{{__name__="{DIRTY}"}}', now - STATE_LOOKBACK, now + MS)
        late = late_writes(items, *self._gaps_ns())
        lo, hi = int(start.tz_convert("UTC").value), int(end.tz_convert("UTC").value)
        return self._kept.kept(name, signature, sites, lo, hi, late, now, self.skew)

    # -- hourly summaries --------------------------------------------------------------------

    def rolled_hours(self) -> RolledHours:
        """Which hours readers may take from the summaries now (the roller's state, less the
        hours late writes touched since its last run)."""
        now = time.time_ns()
        items = self._export_items(
            f'{{__name__=~"{FROM}|{UNTIL}|{DIRTY}"}}', now - STATE_LOOKBACK, now + MS
        )
        if not items:
            return NOTHING_ROLLED
        return state_from_export(items, *self._gaps_ns(), self.skew)

    def roller(self, shard: str = "0/1", chunk_hours: int = 24) -> Roller:
        """The roller of ``shard`` (``i/n``; default all series) over this store; ValueError
        for a shard that is not ``i/n`` with ``0 <= i < n``."""
        part = Shard.parse(shard)
        lookback, max_gap = self._gaps_ns()

        def read_state() -> tuple[int, int, int] | None:
            now = time.time_ns()
            label = _quote(part.label)
            items = self._export_items(f'{{__name__=~"{FROM}|{UNTIL}",shard={label}}}', 0, now + MS)
            state = state_from_export(items, lookback, max_gap)
            if state is NOTHING_ROLLED:
                return None
            ran = max(int(i["timestamps"][-1]) for i in items) * MS
            return state.start, state.until, ran

        def summarise(
            metric: str, sites: list[str], lo: int, hi: int
        ) -> tuple[pd.DataFrame, np.ndarray]:
            rows = self._raw_rows(selector(metric, {"site": sites}), lo, HOUR, lo, hi)
            if rows.empty:
                return rows, np.array([], dtype=object)
            rows = rows[part.mine(rows["key"])]
            codes, keys = pd.factorize(rows["key"])
            return rows.assign(series_id=codes).drop(columns="key"), np.asarray(keys, dtype=object)

        def names() -> list[str]:
            answer = self._get("/api/v1/label/__name__/values", {"start": "1"})
            return list(orjson.loads(answer.content)["data"])

        def sites() -> list[str]:
            answer = self._get("/api/v1/label/site/values", {"start": "1"})
            return sorted(orjson.loads(answer.content)["data"])

        def markers(since: int) -> dict[str, int]:
            items = self._export_items(f'{{__name__="{DIRTY}"}}', since, time.time_ns() + MS)
            return oldest_marked(items)

        def send(lines: list[str]) -> None:
            with self._lock:
                self._send(lines)

        def last_seen(horizon: int) -> int | None:
            rolled = "|".join(canonical(names()))
            if not rolled:  # nothing stored yet: no series to wait for
                return None
            query = f'min(tlast_over_time({{__name__=~"{rolled}"}}[{lookback // MS}ms]))'
            try:
                found = self._instant(query, horizon)
            except StoreError as exc:  # e.g. over -search.maxUniqueTimeseries: settle late
                log.warning("rollup: hours settle by the look-back alone: %s", exc)
                return horizon - lookback
            return None if found.empty else round(float(found["value"].iloc[0]) * 1000) * MS

        return Roller(
            part,
            read_state,
            summarise,
            send,
            names,
            sites,
            markers,
            last_seen,
            lookback,
            max_gap,
            chunk_hours,
            self.skew,
        )

    def roll_up(self, now: pd.Timestamp, since: pd.Timestamp) -> tuple[int, int]:
        """One pass of the roller over every series (the jobs role's job): hours summarised
        and summary rows written."""
        return self.roller().run(int(now.value), int(since.value))

    def probe(self) -> None:
        """Ask the read URL for the names of the last five minutes; raises
        :class:`StoreError` naming the failure when VictoriaMetrics cannot answer."""
        now_ms = time.time_ns() // MS * MS
        self._get("/api/v1/label/__name__/values", {"start": _seconds(now_ms - 300_000 * MS)})

    def close(self) -> None:
        """Close the HTTP clients (the data lives on in VictoriaMetrics)."""
        self._http.close()
        self._read.close()


def _import_lines(batch: pd.DataFrame) -> list[str]:
    """The batch as ``/api/v1/import`` JSON lines: one per series, its values and ms times.

    Column-wise: each label value is JSON-escaped once per distinct value, each series' label
    object once, values and times formatted once (a batch of one sample per series, as live
    pushes are, is one line per row)."""
    names = ["metric", *label_columns(batch)]
    grouped = batch.groupby(names, sort=False, dropna=False, observed=True)
    codes = grouped.ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    firsts = order[starts]
    objects = [""] * len(firsts)
    for name in names:
        column = batch[name].to_numpy(dtype=object)[firsts]
        key = json.dumps("__name__" if name == "metric" else name)
        cache: dict[object, str] = {}
        for i, value in enumerate(column):
            if isinstance(value, str):
                text = cache.get(value)
                if text is None:
                    text = cache[value] = f"{key}:{json.dumps(value)}"
                objects[i] = f"{objects[i]},{text}" if objects[i] else text
    values = [repr(v) for v in batch["value"].to_numpy(dtype="float64")[order].tolist()]
    ms = batch["ts"].to_numpy(dtype="datetime64[ns]").view("int64")[order] // MS
    stamps = [str(t) for t in ms.tolist()]
    bounds = [*starts.tolist(), len(order)]
    return [
        f'{{"metric":{{{objects[i]}}},"values":[{",".join(values[lo:hi])}],'
        f'"timestamps":[{",".join(stamps[lo:hi])}]}}'
        for i, (lo, hi) in enumerate(itertools.pairwise(bounds))
    ]


@dataclass(frozen=True)
class _Samples:
    """Raw samples as arrays: ``keys[code]`` is each one's series (labels as JSON)."""

    keys: np.ndarray
    code: np.ndarray
    t: np.ndarray
    value: np.ndarray

    @classmethod
    def empty(cls) -> _Samples:
        nothing = np.array([], dtype="int64")
        return cls(np.array([], dtype=object), nothing, nothing, np.array([], dtype="float64"))


def _summed_by(frame: pd.DataFrame, by: list[str], value_cols: list[str]) -> pd.DataFrame:
    """Per-series aggregates summed over the series sharing the ``by`` labels, per bucket."""
    for name in by:
        if name not in frame.columns:
            frame = frame.assign(**{name: None})
    keys = ["ts", *by]
    out = frame.groupby(keys, dropna=False, sort=True)[value_cols].sum(min_count=1)
    return out.reset_index()[[*keys, *value_cols]]


def _empty(aggs: list[str]) -> pd.DataFrame:
    value_cols = ["value"] if len(aggs) <= 1 else aggs
    return pd.DataFrame(
        {"ts": pd.Series([], dtype="datetime64[ns, UTC]")}
        | {c: pd.Series([], dtype="float64") for c in value_cols}
    )


def _series_key(metric: dict[str, str]) -> str:
    """A series' key in the frames read here: its labels but the name, as sorted JSON."""
    return json.dumps({k: v for k, v in metric.items() if k != "__name__"}, sort_keys=True)


def _key_table(keys: Sequence[str] | np.ndarray) -> pd.DataFrame:
    """Series keys (labels as JSON) and one column per label."""
    return pd.DataFrame([{"key": k, **json.loads(k)} for k in keys])


def _labelled(frame: pd.DataFrame, value_cols: list[str]) -> pd.DataFrame:
    """``key`` (labels as JSON) expanded into label columns: ts, site, labels…, values."""
    if frame.empty:
        return _empty(value_cols if value_cols != ["value"] else [])
    table = _key_table(frame["key"].unique())
    out = frame.merge(table, on="key").drop(columns="key")
    label_cols = ["site", *sorted(c for c in table.columns if c not in ("key", "site"))]
    out = out[["ts", *label_cols, *value_cols]].sort_values([*label_cols, "ts"], kind="stable")
    return out.reset_index(drop=True)
