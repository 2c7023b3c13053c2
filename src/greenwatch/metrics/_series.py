"""Sample series as sorted nanosecond arrays, and the splitting of sample pairs over windows.

Every integral in this package works on *pairs* of consecutive samples
``(t_i, v_i), (t_{i+1}, v_{i+1})``. A pair covers the half-open span ``[t_i, t_{i+1})``; its
part inside a window ``[start, end)`` is a *piece*. Windows are sorted and never overlap, so a
pair's pieces in consecutive windows add up to the whole pair: that is what makes energy
additive over adjacent intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
NS_PER_S = 1_000_000_000
Gap = tuple[pd.Timestamp, pd.Timestamp]


@dataclass(frozen=True)
class Series:
    """One series: strictly increasing timestamps (ns since the epoch, UTC) and float values."""

    t: I64
    v: F64

    @property
    def t0(self) -> I64:
        return self.t[:-1]

    @property
    def t1(self) -> I64:
        return self.t[1:]

    @property
    def v0(self) -> F64:
        return self.v[:-1]

    @property
    def v1(self) -> F64:
        return self.v[1:]

    @property
    def dt(self) -> I64:
        return np.diff(self.t)


@dataclass(frozen=True)
class Pieces:
    """The parts of pairs inside windows: pair index, window index and ``[lo, hi)`` in ns."""

    pair: I64
    window: I64
    lo: I64
    hi: I64


def to_ns(ts: pd.Timestamp | str, name: str) -> int:
    """A tz-aware instant as integer nanoseconds since the epoch; naive instants are an error."""
    stamp = pd.Timestamp(ts)
    if stamp.tzinfo is None:
        raise ValueError(f"{name} must be tz-aware (UTC), got naive {stamp}")
    return int(stamp.tz_convert("UTC").as_unit("ns").value)


def to_timedelta_ns(span: pd.Timedelta | str, name: str) -> int:
    """A duration as integer nanoseconds; it must be positive."""
    ns = int(pd.Timedelta(span).as_unit("ns").value)
    if ns <= 0:
        raise ValueError(f"{name} must be positive, got {span}")
    return ns


def stamp(ns: int) -> pd.Timestamp:
    """Integer nanoseconds since the epoch as a UTC timestamp."""
    return pd.Timestamp(ns, unit="ns", tz="UTC")


def window_bounds(start: pd.Timestamp | str, end: pd.Timestamp | str) -> tuple[int, int]:
    """``[start, end)`` in ns; the window must not be empty."""
    lo, hi = to_ns(start, "start"), to_ns(end, "end")
    if hi <= lo:
        raise ValueError(f"empty interval: end {stamp(hi)} is not after start {stamp(lo)}")
    return lo, hi


def as_series(samples: pd.DataFrame, name: str = "samples") -> Series:
    """Normalise raw samples (columns ``ts``, ``value``) into a :class:`Series`.

    Rows with a missing timestamp or a non-finite value are no samples and are dropped. The rest
    are sorted by time (stable), and of samples sharing a timestamp the first one in input order
    is kept.
    """
    missing = {"ts", "value"} - set(samples.columns)
    if missing:
        raise ValueError(f"{name} lacks columns {sorted(missing)} (needs ts, value)")
    ts = samples["ts"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"{name}.ts must be tz-aware datetimes (UTC), got {ts.dtype}")
    index = pd.DatetimeIndex(ts).tz_convert("UTC").as_unit("ns")
    valid = ~np.asarray(index.isna())
    t = np.asarray(index.asi8, dtype=np.int64)
    v = np.asarray(pd.to_numeric(samples["value"]), dtype=np.float64)
    valid &= np.isfinite(v)
    t, v = t[valid], v[valid]
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    first = np.ones(t.size, dtype=bool)
    first[1:] = t[1:] != t[:-1]
    return Series(t[first], v[first])


def pieces(t0: I64, t1: I64, starts: I64, ends: I64) -> Pieces:
    """Split pairs ``[t0, t1)`` over sorted, non-overlapping windows ``[starts, ends)``.

    Vectorised: each pair yields one piece per window it overlaps (none if it overlaps none).
    """
    first = np.searchsorted(ends, t0, side="right")
    last = np.searchsorted(starts, t1, side="left") - 1
    count = np.maximum(last - first + 1, 0)
    pair = np.repeat(np.arange(t0.size, dtype=np.int64), count)
    offset = np.arange(pair.size, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    window = np.repeat(first, count).astype(np.int64) + offset
    lo = np.maximum(t0[pair], starts[window])
    hi = np.minimum(t1[pair], ends[window])
    return Pieces(pair, window, lo, hi)


def sum_by(index: I64, weights: F64, size: int) -> F64:
    """Float sums of ``weights`` grouped by ``index`` in ``range(size)``."""
    return np.bincount(index, weights=weights, minlength=size).astype(np.float64)


def sum_int_by(index: I64, weights: I64, size: int) -> I64:
    """Exact integer sums (nanoseconds stay exact beyond 2**53)."""
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, index, weights)
    return out


def count_by(index: I64, size: int) -> I64:
    """How many entries of ``index`` fall on each of ``range(size)``."""
    return np.bincount(index, minlength=size).astype(np.int64)


def gauge_pieces(series: Series, starts: I64, ends: I64, max_gap_ns: int) -> tuple[Pieces, F64]:
    """Pieces of the pairs no longer than ``max_gap`` and their trapezoid integrals.

    The value at a window edge is linearly interpolated inside its pair, so the trapezoid of a
    pair equals the sum of the trapezoids of its pieces. Integrals are in value-units x seconds.
    """
    ok = np.flatnonzero(series.dt <= max_gap_ns)
    t0, t1 = series.t0[ok], series.t1[ok]
    cut = pieces(t0, t1, starts, ends)
    a, b = t0[cut.pair], t1[cut.pair]
    v0, v1 = series.v0[ok][cut.pair], series.v1[ok][cut.pair]
    span = (b - a).astype(np.float64)
    at_lo = v0 + (v1 - v0) * ((cut.lo - a) / span)
    at_hi = v0 + (v1 - v0) * ((cut.hi - a) / span)
    integral = (at_lo + at_hi) / 2.0 * ((cut.hi - cut.lo) / NS_PER_S)
    return Pieces(ok[cut.pair], cut.window, cut.lo, cut.hi), integral


def step_pieces(series: Series, starts: I64, ends: I64, max_gap_ns: int) -> tuple[Pieces, F64]:
    """Like :func:`gauge_pieces` but each value holds until the next sample (state gauges)."""
    ok = np.flatnonzero(series.dt <= max_gap_ns)
    cut = pieces(series.t0[ok], series.t1[ok], starts, ends)
    integral = series.v0[ok][cut.pair] * ((cut.hi - cut.lo) / NS_PER_S)
    return Pieces(ok[cut.pair], cut.window, cut.lo, cut.hi), integral


def gaps_in(
    lo: I64, hi: I64, start: int, end: int
) -> tuple[tuple[pd.Timestamp, pd.Timestamp], ...]:
    """The parts of ``[start, end)`` not covered by the sorted, disjoint spans ``[lo, hi)``."""
    bounds_lo = np.concatenate(([start], hi))
    bounds_hi = np.concatenate((lo, [end]))
    open_ = bounds_hi > bounds_lo
    return tuple(
        (stamp(int(a)), stamp(int(b)))
        for a, b in zip(bounds_lo[open_], bounds_hi[open_], strict=True)
    )
