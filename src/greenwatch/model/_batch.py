"""Sample batches: the columnar unit that moves through the pipeline.

A batch is a :class:`pandas.DataFrame` with columns ``ts`` (``datetime64[ns, UTC]``), ``metric``
(canonical name), ``value`` (float64, base unit) and one string column per label (``site`` first,
then the rest sorted). A missing label is ``None``. Never one Python object per sample.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from pandas.errors import OutOfBoundsDatetime

from greenwatch.model._errors import BatchError
from greenwatch.model._registry import COMMON_LABELS, metric_spec

BASE_COLUMNS: tuple[str, str, str] = ("ts", "metric", "value")
TS_DTYPE = "datetime64[ns, UTC]"


def label_columns(batch: pd.DataFrame) -> list[str]:
    """Label columns of a batch, ``site`` first."""
    return [c for c in batch.columns if c not in BASE_COLUMNS]


def empty_batch(labels: Sequence[str] = ("site",)) -> pd.DataFrame:
    """A batch with no rows and the given label columns."""
    frame = pd.DataFrame(
        {
            "ts": pd.Series([], dtype=TS_DTYPE),
            "metric": pd.Series([], dtype=object),
            "value": pd.Series([], dtype="float64"),
        }
    )
    for name in labels:
        frame[name] = pd.Series([], dtype=object)
    return frame


# The column of a unit to check against the registry (not stored, not a label).
UNIT_CHECK = "__unit__"


def make_batch(
    ts: Any,
    metric: Any,
    value: Any,
    labels: Mapping[str, Any] | None = None,
    unit: Any = None,
) -> pd.DataFrame:
    """Build and validate a batch from columns (arrays or scalars broadcast to the length).

    ``unit``, when given, is checked against the registry and not stored (a label named
    ``unit``, as Telegraf tags its sensors, is a label like any other).

    A poll's few rows (one timestamp or a list of one per row, lists of names and numbers, text
    labels) are checked row by row in Python (:func:`_small_batch`), which costs a fraction of
    the vectorised checks' fixed overhead; any other input takes the vectorised path. Both give
    the same batch and the same errors.
    """
    small = _small_batch(ts, metric, value, labels or {}) if unit is None else None
    if small is not None:
        return small
    if isinstance(metric, list | tuple):
        metric = pd.Series(metric, dtype=object)  # names as Python text, as the checks give
    frame = pd.DataFrame({"ts": ts, "metric": metric, "value": value, **dict(labels or {})})
    if unit is not None:
        frame[UNIT_CHECK] = unit
    return _validate(frame)


SMALL_BATCH = 4096  # rows up to which the row-by-row checks beat the vectorised ones


def _text_column(column: Any, n: int) -> list[str | None] | None:
    """A label column as ``n`` texts or Nones (a scalar broadcast), or None if it is not one."""
    if column is None or isinstance(column, str):
        return [column] * n
    if not isinstance(column, list | tuple) or len(column) != n:
        return None
    return list(column) if all(v is None or isinstance(v, str) for v in column) else None


def _small_batch(
    ts: Any, metric: Any, value: Any, labels: Mapping[str, Any]
) -> pd.DataFrame | None:
    """The batch of a few plain rows, checked row by row; None when the input is not that."""
    if not isinstance(metric, list):
        return None
    n = len(metric)
    plain = isinstance(value, list) and len(value) == n and 0 < n <= SMALL_BATCH
    if not plain or "site" not in labels or not all(type(m) is str for m in metric):
        return None
    if not all(type(v) is float or (type(v) is int and abs(v) < 2**53) for v in value):
        return None
    if not labels.keys().isdisjoint((*BASE_COLUMNS, UNIT_CHECK)):
        return None
    stamp = _stamps(ts, n)
    if stamp is None:
        return None
    columns = {name: _text_column(labels[name], n) for name in labels}
    if any(c is None for c in columns.values()):
        return None
    bad = [i for i, v in enumerate(value) if not math.isfinite(v)]
    if bad:
        first = bad[0]
        raise BatchError(f"{len(bad)} non-finite values (first: {metric[first]}={value[first]})")
    no_site = sum(s is None for s in columns["site"])  # type: ignore[union-attr]
    if no_site:
        raise BatchError(f"{no_site} samples have no site label")
    names = ["site", *sorted(c for c in columns if c != "site")]
    _check_rows(metric, value, {c: columns[c] for c in names})  # type: ignore[misc]
    out = {
        "ts": pd.DatetimeIndex(stamp).tz_localize("UTC"),
        "metric": metric,
        "value": np.array(value, dtype="float64"),
    }
    return _frame(out | {c: columns[c] for c in names}, n)


def _frame(columns: dict[str, Any], n: int) -> pd.DataFrame:
    """A frame of ``n`` rows from columns (lists and object arrays stay Python objects).

    Every column a Series on one shared index, the frame on that index too: pandas then
    neither aligns nor copies them one by one (half the cost of a frame of a poll's rows).
    """
    index = pd.RangeIndex(n)
    series = {
        name: pd.Series(column, index=index, dtype=object)
        if isinstance(column, list) or getattr(column, "dtype", None) == np.dtype(object)
        else pd.Series(column, index=index)
        for name, column in columns.items()
    }
    return pd.DataFrame(series, index=index, copy=False)


def _stamps(ts: Any, n: int) -> np.ndarray | None:
    """``ts`` (one tz-aware Timestamp, or a list of ``n`` in one time zone) as ``n`` UTC
    nanosecond stamps; None when it is not that or out of the nanosecond range (the vectorised
    path takes it, and says why where it is wrong)."""
    stamps = ts if isinstance(ts, list) and len(ts) == n else [ts]
    zone = getattr(stamps[0], "tz", None)
    if zone is None or not all(isinstance(t, pd.Timestamp) and t.tz is zone for t in stamps):
        return None
    try:
        nanos = {t: t.tz_convert("UTC").as_unit("ns").value for t in stamps}
    except OutOfBoundsDatetime:
        return None
    return np.array([nanos[t] for t in stamps] * (n // len(stamps)), dtype="int64").view("M8[ns]")


def _check_rows(metric: list[str], value: list[float], labels: dict[str, list[str | None]]) -> None:
    """:func:`_check_metrics` row by row: the same checks, in the same order, same messages."""
    seen: dict[str, tuple[set[str], float, float]] = {}
    for i, name in enumerate(metric):
        present = {c for c, column in labels.items() if column[i] is not None}
        old = seen.get(name)
        if old is None:
            seen[name] = (present, value[i], value[i])
        else:
            seen[name] = (old[0] | present, min(old[1], value[i]), max(old[2], value[i]))
    for name, (present, low, high) in seen.items():
        spec = metric_spec(name)
        if spec is None:
            raise BatchError(f"unknown metric {name!r} (not in the canonical registry)")
        if spec.name.startswith("ext_"):
            continue
        extra = present - {"site", *spec.labels, *COMMON_LABELS}
        if extra:
            raise BatchError(f"metric {name} does not take label(s) {sorted(extra)}")
        if spec.minimum is not None and low < spec.minimum:
            raise BatchError(f"metric {name} has values below {spec.minimum}")
        if spec.maximum is not None and high > spec.maximum:
            raise BatchError(f"metric {name} has values above {spec.maximum}")


def _check_ts(frame: pd.DataFrame) -> pd.Series:
    ts = frame["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        if len(ts) == 0:
            return pd.Series([], dtype=TS_DTYPE)
        raise BatchError(f"column ts must hold tz-aware UTC timestamps, not {ts.dtype}")
    out: pd.Series = ts.dt.tz_convert("UTC").astype(TS_DTYPE)
    if out.isna().any():
        raise BatchError(f"{int(out.isna().sum())} samples have no timestamp")
    return out


def _check_values(frame: pd.DataFrame) -> pd.Series:
    try:
        values = pd.to_numeric(frame["value"], errors="raise").astype("float64")
    except (TypeError, ValueError) as exc:
        raise BatchError(f"column value must be numeric: {exc}") from exc
    bad = ~np.isfinite(values.to_numpy())
    if bad.any():
        first = frame.loc[bad].iloc[0]
        raise BatchError(
            f"{int(bad.sum())} non-finite values (first: {first['metric']}={first['value']})"
        )
    return values


def _check_metrics(frame: pd.DataFrame, labels: list[str]) -> None:
    """Per metric (vectorised over rows): known name, unit, labels it takes, value range."""
    by_metric = frame.groupby("metric", sort=False, observed=True)
    present = frame[labels].notna().groupby(frame["metric"], sort=False, observed=True).any()
    lows, highs = by_metric["value"].min(), by_metric["value"].max()
    units = (
        frame.dropna(subset=[UNIT_CHECK]).groupby("metric", observed=True)[UNIT_CHECK].unique()
        if UNIT_CHECK in frame.columns
        else pd.Series(dtype=object)
    )
    flags = dict(zip(present.index, present.to_numpy(dtype=bool), strict=True))
    for name, row in flags.items():
        spec = metric_spec(str(name))
        if spec is None:
            raise BatchError(f"unknown metric {name!r} (not in the canonical registry)")
        wrong = {u for u in units.get(name, ()) if u} - {spec.unit}
        if spec.unit and wrong:
            raise BatchError(f"metric {name} is in {spec.unit}, got unit {sorted(wrong)[0]!r}")
        if spec.name.startswith("ext_"):
            continue
        allowed = {"site", *spec.labels, *COMMON_LABELS}
        extra = {c for c, on in zip(present.columns, row, strict=True) if on} - allowed
        if extra:
            raise BatchError(f"metric {name} does not take label(s) {sorted(extra)}")
        if spec.minimum is not None and lows[name] < spec.minimum:
            raise BatchError(f"metric {name} has values below {spec.minimum}")
        if spec.maximum is not None and highs[name] > spec.maximum:
            raise BatchError(f"metric {name} has values above {spec.maximum}")


# The frame validate_batch last returned, per thread: the ingest pipeline validates a batch,
# then the store's write is handed that very frame and need not check it again.
_validated = threading.local()


def validate_batch(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a batch against the contract and return it normalised.

    Raises :class:`BatchError` on an unknown metric, a unit that differs from the registry's,
    a non-finite value, a naive or missing timestamp, a missing ``site`` or a label the metric
    does not take. The frame this thread's last call returned is returned as is (checked once
    on its way from the ingest pipeline into a store).
    """
    last: weakref.ref[pd.DataFrame] | None = getattr(_validated, "frame", None)
    if last is not None and last() is frame:
        return frame
    out = _validate(frame)
    _validated.frame = weakref.ref(out)
    return out


def _validate(frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in (*BASE_COLUMNS, "site") if c not in frame.columns]
    if missing:
        raise BatchError(f"batch lacks column(s) {missing}")
    out = pd.DataFrame({"ts": _check_ts(frame), "metric": frame["metric"]})
    out["value"] = _check_values(frame)
    labels = sorted(c for c in frame.columns if c not in (*BASE_COLUMNS, UNIT_CHECK, "site"))
    for label in ["site", *labels]:
        column = frame[label]
        if isinstance(column.dtype, pd.CategoricalDtype):
            out[label] = column  # categorical labels stay categorical (fast path for big batches)
        else:
            column = column.astype(object)
            out[label] = column.where(column.notna(), None)
    if out["site"].isna().any():
        raise BatchError(f"{int(out['site'].isna().sum())} samples have no site label")
    _check_metrics(
        out.assign(**{UNIT_CHECK: frame[UNIT_CHECK]}) if UNIT_CHECK in frame.columns else out,
        ["site", *labels],
    )
    return out.reset_index(drop=True)


def concat_batches(batches: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate batches whose label columns may differ (absent labels become ``None``)."""
    frames = [b for b in batches if len(b)]
    if not frames:
        return empty_batch()
    small = _small_concat(frames)
    if small is not None:
        return small
    out = pd.concat(frames, ignore_index=True, sort=False)
    labels = sorted({c for b in frames for c in label_columns(b)} - {"site"})
    out = out[[*BASE_COLUMNS, "site", *labels]]
    for name in labels:
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out


def _small_concat(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    """:func:`concat_batches` of a few rows with text labels, column by column as arrays."""
    dtypes = [{str(c): t for c, t in b.dtypes.items()} for b in frames]
    if sum(map(len, frames)) > SMALL_BATCH or any(
        t is not np.dtype(object) for d in dtypes for c, t in d.items() if c not in BASE_COLUMNS
    ):
        return None
    labels = sorted({c for d in dtypes for c in d if c not in BASE_COLUMNS} - {"site"})
    stamps = np.concatenate([b["ts"].to_numpy("M8[ns]") for b in frames])
    out: dict[str, Any] = {  # object columns: pandas would read text arrays as str
        "ts": pd.DatetimeIndex(stamps).tz_localize("UTC"),
        "metric": np.concatenate([b["metric"].to_numpy(object) for b in frames]),
        "value": np.concatenate([b["value"].to_numpy("float64") for b in frames]),
    }
    for name in ["site", *labels]:
        parts = [
            b[name].to_numpy() if name in d else np.full(len(b), None, dtype=object)
            for b, d in zip(frames, dtypes, strict=True)
        ]
        column = np.concatenate(parts)
        if name != "site":
            column[pd.isna(column)] = None  # a missing label is None, whatever marked it
        out[name] = column
    return _frame(out, len(stamps))


@lru_cache(maxsize=512)
def label_problem(metric: str, labels: tuple[str, ...]) -> str | None:
    """Why ``metric`` cannot carry ``labels`` (asked of the batch contract itself), or None."""
    spec = metric_spec(metric)
    if spec is None:
        return f"unknown metric {metric!r}"
    value = spec.minimum if spec.minimum is not None else 0.0
    try:
        make_batch(
            pd.Timestamp(0, tz="UTC"),
            [metric],
            [value],
            {"site": "s", **dict.fromkeys(labels, "x")},
        )
    except BatchError as exc:
        return str(exc)
    return None
