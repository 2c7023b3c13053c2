"""Per-series aggregates over trailing windows, vectorised over every series of a metric.

Alert windows are short (minutes), so the evaluator reads a metric's raw samples once for the
longest window any rule asks of it and reduces them here with numpy, for every shorter window
too: one store read per metric, not one per rule. (The store's pushed-down aggregates carry a
6-hour counter look-back that costs ~20x the raw read for a 5-minute gauge window; longer
windows are read as store aggregates instead, see ``RAW_LIMIT`` in ``_evaluate``.)

Definitions, per series over the samples with ``t`` in ``[now - window, now)``: ``mean``,
``min``, ``max``, ``sum``, ``count``, ``first``, ``last`` as named. Consecutive samples no more
than ``max_gap`` apart form a covered pair (as in :mod:`greenwatch.metrics._energy`);
``coverage`` = covered seconds / window seconds; ``increase`` = the reset-aware sum of the
covered pairs' differences (a drop counts the new value); ``rate`` = increase / covered
seconds. A counter's increase across a longer gap is left out, never lumped into the window,
so a ratio of two counters (PUE) right after an outage is not distorted by it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
AGGS = ("mean", "min", "max", "sum", "count", "first", "last", "increase", "rate", "coverage")


def _series_key(frame: pd.DataFrame, label_cols: list[str]) -> I64:
    key = np.zeros(len(frame), dtype=np.int64)
    for col in label_cols:
        codes, uniques = pd.factorize(frame[col], use_na_sentinel=True)
        combined = key * (len(uniques) + 1) + (codes.astype(np.int64) + 1)
        key = pd.factorize(combined)[0].astype(np.int64)
    return key


def label_table(labels: pd.DataFrame) -> pd.DataFrame:
    """Label columns as Python strings, ``None`` for a missing label."""
    return labels.astype(object).where(labels.notna(), None)


class SeriesWindow:
    """Raw samples of one metric, sorted by series then time, ready to reduce per window."""

    def __init__(
        self,
        labels: pd.DataFrame,
        samples: tuple[I64, I64, F64],
        now: pd.Timestamp,
        max_gap: pd.Timedelta,
    ) -> None:
        """``labels``: one row per series (as :func:`label_table` gives them); ``samples``:
        (key, t, value), ``key`` each sample's row in ``labels``, sorted by key then time, every
        row having samples."""
        self.key, self.t, self.v = samples
        self.n = len(labels)
        self.labels = labels
        self.now = int(now.value)
        self.max_gap = int(max_gap.value)
        self._parts: dict[int, tuple[I64, I64, F64]] = {}

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, now: pd.Timestamp, max_gap: pd.Timedelta
    ) -> SeriesWindow:
        """The samples of a raw store read (columns ts, value and labels), in any order."""
        label_cols = [c for c in frame.columns if c not in ("ts", "value")]
        key = _series_key(frame, label_cols)
        t = frame["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
        order = np.lexsort((t, key))
        key, n = key[order], int(key.max()) + 1 if len(key) else 0
        first_rows = order[np.searchsorted(key, np.arange(n))]
        labels = label_table(frame[label_cols].iloc[first_rows].reset_index(drop=True))
        values = frame["value"].to_numpy(dtype=np.float64)[order]
        return cls(labels, (key, t[order], values), now, max_gap)

    @classmethod
    def from_aggregates(cls, frame: pd.DataFrame) -> pd.DataFrame:
        """Label columns of a store aggregate result, with ``None`` for missing labels."""
        return label_table(frame.drop(columns=[c for c in ("ts", "value") if c in frame.columns]))

    def part(self, window: pd.Timedelta) -> tuple[I64, I64, F64]:
        """(key, t, value) of the samples in the window, sorted as all of them are."""
        w = int(window.value)
        found = self._parts.get(w)
        if found is None:
            m = self.t >= self.now - w
            found = self._parts[w] = (self.key[m], self.t[m], self.v[m])
        return found

    def same(self, other: SeriesWindow, window: pd.Timedelta) -> bool:
        """Whether ``other`` holds the same series (the same label table) and the same samples
        in the window, bridged alike: every figure of the window is then the same."""
        if other.labels is not self.labels or other.max_gap != self.max_gap:
            return False
        pairs = zip(self.part(window), other.part(window), strict=True)
        return all(np.array_equal(a, b) for a, b in pairs)

    def reduce(self, window: pd.Timedelta, aggs: set[str]) -> dict[str, F64]:
        """Each asked aggregate as an array over the series (``nan`` where none applies)."""
        w = int(window.value)
        key, t, v = self.part(window)
        n = self.n
        count = np.bincount(key, minlength=n).astype(np.float64)
        out: dict[str, F64] = {"count": count}
        if not len(key):
            nan = np.full(n, np.nan)
            return {a: (count if a in ("count", "coverage") else nan) for a in aggs}
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        ends = np.r_[starts[1:], len(key)]
        seg = key[starts]

        def per_series(values: F64) -> F64:
            full = np.full(n, np.nan)
            full[seg] = values
            return full

        if aggs & {"sum", "mean"}:
            total = per_series(np.add.reduceat(v, starts))
            out["sum"] = total
            out["mean"] = total / np.where(count > 0, count, np.nan)
        if "min" in aggs:
            out["min"] = per_series(np.minimum.reduceat(v, starts))
        if "max" in aggs:
            out["max"] = per_series(np.maximum.reduceat(v, starts))
        if "first" in aggs:
            out["first"] = per_series(v[starts])
        if "last" in aggs:
            out["last"] = per_series(v[ends - 1])
        if aggs & {"increase", "rate", "coverage", "integral"}:
            dv, dt = np.diff(v), np.diff(t)
            paired = (key[1:] == key[:-1]) & (dt <= self.max_gap)
            trapezoid = (v[1:] + v[:-1]) / 2 * (dt / 1e9) * paired
            integral = np.bincount(key[1:], weights=trapezoid, minlength=n).astype(np.float64)
            inc = np.where(dv >= 0, dv, v[1:]) * paired
            out["increase"] = np.bincount(key[1:], weights=inc, minlength=n).astype(np.float64)
            covered_s = np.bincount(key[1:], weights=np.where(paired, dt, 0) / 1e9, minlength=n)
            has = count > 0
            out["increase"] = np.where(has, out["increase"], np.nan)
            out["rate"] = out["increase"] / np.where(covered_s > 0, covered_s, np.nan)
            out["coverage"] = np.minimum(covered_s / (w / 1e9), 1.0)
            out["integral"] = np.where(has, integral, np.nan)
        return {a: out[a] for a in aggs}

    def reset_pairs(self, window: pd.Timedelta) -> list[tuple[int, int, int, float]]:
        """(series, t0, t1 in ns, the pair's increase) of each covered pair in the window whose
        counter dropped: a reset, whose increase counts only the new value."""
        key, t, v = self.part(window)
        paired = (key[1:] == key[:-1]) & (np.diff(t) <= self.max_gap)
        at = np.flatnonzero(paired & (np.diff(v) < 0))
        return [(int(key[i]), int(t[i]), int(t[i + 1]), float(v[i + 1])) for i in at]

    def samples(self, series: int, window: pd.Timedelta) -> pd.DataFrame:
        """The samples (ts, value) of one series in the window."""
        key, t, v = self.part(window)
        m = key == series
        return pd.DataFrame({"ts": pd.to_datetime(t[m], utc=True), "value": v[m]})
