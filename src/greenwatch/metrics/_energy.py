"""Energy over an interval from meter counters (reset- and wrap-aware) or integrated power.

The one definition used everywhere (the store computes the same in SQL for its hourly
roll-ups): samples sorted by time, duplicate timestamps collapsed (first kept), and each pair of
consecutive samples ``(t_i, v_i), (t_{i+1}, v_{i+1})`` with ``dt = t_{i+1} - t_i``:

* power gauge (W): a pair with ``dt <= max_gap`` contributes its trapezoid, the part inside
  ``[start, end)`` with power linearly interpolated at the edges; a longer pair is a gap and
  contributes nothing (never bridged).
* energy counter (J): the pair's increase is ``v_{i+1} - v_i``; a drop is a reset (increase
  ``v_{i+1}``) unless ``wrap_at`` is given and ``v_i >= 0.9 * wrap_at`` (a wrap: increase
  ``wrap_at - v_i + v_{i+1}``). A pair with ``dt <= max_gap`` is split over window edges in
  proportion to time and is covered; a longer one is split the same way when
  ``dt <= counter_lookback`` (the meter kept counting through a short outage, so its energy
  belongs to the hours the outage spans, not to the hour it ended in; a longer one is
  dropped) and is not covered. A reset or wrap is counted in the window holding the pair's end.

The look-back test is on the pair itself (``dt``), not on the window's start, so the rule is
additive: the energy of ``[a, c)`` is exactly that of ``[a, b)`` plus ``[b, c)``, and a day
summed from hourly roll-ups equals the day computed from raw samples (the store's SQL in
``greenwatch.store._sql`` uses the same ``dt <= lookback`` test).

Coverage is covered seconds / window seconds. This is DESIGN.md "Definitions that must be
right": energy from counters where they exist, else from power, gaps bounded and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from greenwatch.metrics._series import (
    F64,
    I64,
    NS_PER_S,
    Gap,
    Series,
    as_series,
    count_by,
    gaps_in,
    gauge_pieces,
    pieces,
    stamp,
    sum_by,
    sum_int_by,
    to_ns,
    to_timedelta_ns,
    window_bounds,
)

EnergySource = Literal["counter", "power", "counter+power"]
WRAP_BAND = 0.1  # a drop from within 10 % of wrap_at is a wrap, not a reset
DEFAULT_COUNTER_LOOKBACK = pd.Timedelta(hours=6)


@dataclass(frozen=True)
class IntervalTotal:
    """Energy (or another counter's increase) over ``[start, end)`` with its evidence.

    ``value`` is in the unit of the input (J for energy: counter joules, or watts x seconds);
    ``coverage`` in [0, 1] is ``covered_s`` / window seconds; ``gaps`` are the uncovered
    ``(start, end)`` spans; ``uncovered_increase`` is the part of ``value`` a counter attributed
    across a gap longer than ``max_gap``; ``filled_from_power_s`` is the time of reset intervals
    whose energy came from the power series instead of the counter.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    value: float
    coverage: float
    covered_s: float
    source: EnergySource
    resets: int
    wraps: int
    gaps: tuple[Gap, ...]
    filled_from_power_s: float = 0.0
    uncovered_increase: float = 0.0

    @property
    def kwh(self) -> float:
        """``value`` in kWh (for energy in J)."""
        return self.value / 3.6e6


@dataclass(frozen=True)
class _Totals:
    value: F64
    covered: I64
    resets: I64
    wraps: I64
    uncovered: F64
    filled: I64
    span_window: I64
    span_lo: I64
    span_hi: I64


def _power_totals(power: Series, starts: I64, ends: I64, max_gap_ns: int) -> _Totals:
    n = starts.size
    cut, integral = gauge_pieces(power, starts, ends, max_gap_ns)
    zeros = np.zeros(n, dtype=np.int64)
    return _Totals(
        value=sum_by(cut.window, integral, n),
        covered=sum_int_by(cut.window, cut.hi - cut.lo, n),
        resets=zeros,
        wraps=zeros,
        uncovered=np.zeros(n, dtype=np.float64),
        filled=zeros,
        span_window=cut.window,
        span_lo=cut.lo,
        span_hi=cut.hi,
    )


def _covered_by(power: Series, lo: I64, hi: I64, max_gap_ns: int) -> tuple[I64, F64]:
    """Covered ns and integral of ``power`` over each of the sorted, disjoint spans."""
    cut, integral = gauge_pieces(power, lo, hi, max_gap_ns)
    return sum_int_by(cut.window, cut.hi - cut.lo, lo.size), sum_by(cut.window, integral, lo.size)


def _counter_totals(
    counter: Series,
    starts: I64,
    ends: I64,
    max_gap_ns: int,
    lookback_ns: int,
    wrap_at: float | None,
    power: Series | None,
) -> _Totals:
    n = starts.size
    t0, t1, v0, v1, dt = counter.t0, counter.t1, counter.v0, counter.v1, counter.dt
    drop = v1 < v0
    wrap = np.zeros_like(drop)
    if wrap_at is not None:
        wrap = drop & (v0 >= (1.0 - WRAP_BAND) * wrap_at)
    reset = drop & ~wrap
    wrapped = (wrap_at - v0 + v1) if wrap_at is not None else v1
    increase = np.where(drop, np.where(wrap, wrapped, v1), v1 - v0)

    # A reset loses the energy between the last reading and the restart; where the power series
    # covers the whole reset pair, its integral replaces the counter's increase for that pair.
    filled = np.zeros(t0.size, dtype=bool)
    if power is not None:
        r = np.flatnonzero(reset)
        if r.size:
            covered_r, _ = _covered_by(power, t0[r], t1[r], max_gap_ns)
            filled[r[covered_r == dt[r]]] = True

    c = np.flatnonzero((dt <= max_gap_ns) & ~filled)
    cp = pieces(t0[c], t1[c], starts, ends)
    share = increase[c][cp.pair] * ((cp.hi - cp.lo) / dt[c][cp.pair].astype(np.float64))

    f = np.flatnonzero(filled)
    fp = pieces(t0[f], t1[f], starts, ends)
    fill_energy = np.zeros(fp.lo.size, dtype=np.float64)
    if power is not None and f.size:
        _, fill_energy = _covered_by(power, fp.lo, fp.hi, max_gap_ns)

    # Across a gap up to the look-back the meter kept counting: its increase is spread over
    # the windows the gap spans in proportion to time, but the gap is not covered.
    g = np.flatnonzero((dt > max_gap_ns) & (dt <= lookback_ns) & ~filled)
    gp = pieces(t0[g], t1[g], starts, ends)
    gshare = increase[g][gp.pair] * ((gp.hi - gp.lo) / dt[g][gp.pair].astype(np.float64))
    attributed = sum_by(gp.window, gshare, n)
    # A reset or wrap counts once, in the window holding the end of its pair.
    gends = gp.hi == t1[g][gp.pair]
    gk = gp.window[gends]
    gi = g[gp.pair[gends]]

    ends_c = cp.hi == t1[c][cp.pair]
    reset_c, wrap_c = reset[c][cp.pair] & ends_c, wrap[c][cp.pair] & ends_c
    fends = fp.hi == t1[f][fp.pair]
    resets = (
        count_by(cp.window[reset_c], n) + count_by(fp.window[fends], n) + count_by(gk[reset[gi]], n)
    )
    span_window = np.concatenate((cp.window, fp.window))
    span_lo = np.concatenate((cp.lo, fp.lo))
    span_hi = np.concatenate((cp.hi, fp.hi))
    order = np.lexsort((span_lo, span_window))
    return _Totals(
        value=sum_by(cp.window, share, n) + sum_by(fp.window, fill_energy, n) + attributed,
        covered=sum_int_by(span_window, span_hi - span_lo, n),
        resets=resets,
        wraps=count_by(cp.window[wrap_c], n) + count_by(gk[wrap[gi]], n),
        uncovered=attributed,
        filled=sum_int_by(fp.window, fp.hi - fp.lo, n),
        span_window=span_window[order],
        span_lo=span_lo[order],
        span_hi=span_hi[order],
    )


def _totals(
    counter: pd.DataFrame | None,
    power: pd.DataFrame | None,
    starts: I64,
    ends: I64,
    max_gap: pd.Timedelta | str,
    wrap_at: float | None,
    counter_lookback: pd.Timedelta | str,
) -> tuple[_Totals, bool]:
    """Totals per window, and whether they came from the counter."""
    max_gap_ns = to_timedelta_ns(max_gap, "max_gap")
    lookback_ns = to_timedelta_ns(counter_lookback, "counter_lookback")
    if wrap_at is not None and not wrap_at > 0:
        raise ValueError(f"wrap_at must be positive, got {wrap_at}")
    power_s = as_series(power, "power") if power is not None else None
    counter_s = as_series(counter, "counter") if counter is not None else None
    # An empty counter still wins when there is no power series: energy 0 with coverage 0.
    if counter_s is not None and (counter_s.t.size or power_s is None):
        return (
            _counter_totals(counter_s, starts, ends, max_gap_ns, lookback_ns, wrap_at, power_s),
            True,
        )
    if power_s is None:
        raise ValueError("interval energy needs a counter or a power series (got neither)")
    return _power_totals(power_s, starts, ends, max_gap_ns), False


def _source(from_counter: bool, filled_ns: int) -> EnergySource:
    if not from_counter:
        return "power"
    return "counter+power" if filled_ns else "counter"


def interval_energy(
    counter: pd.DataFrame | None = None,
    power: pd.DataFrame | None = None,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    max_gap: pd.Timedelta | str,
    wrap_at: float | None = None,
    counter_lookback: pd.Timedelta | str = DEFAULT_COUNTER_LOOKBACK,
) -> IntervalTotal:
    """Energy in J over ``[start, end)`` from an energy counter (J) and/or power samples (W).

    The counter is used whenever one is given with at least one sample (``source`` says
    ``"counter"``); a pair holding a counter reset is filled from the power series when power
    covers that whole pair (``source`` ``"counter+power"``, ``filled_from_power_s`` > 0);
    without a counter, power is integrated (``source`` ``"power"``). Definition: module
    docstring; DESIGN.md "Definitions that must be right". Inputs: DataFrames with columns
    ``ts`` (tz-aware) and ``value``, in any order, duplicates allowed.
    """
    lo, hi = window_bounds(start, end)
    starts, ends = np.array([lo], dtype=np.int64), np.array([hi], dtype=np.int64)
    totals, from_counter = _totals(counter, power, starts, ends, max_gap, wrap_at, counter_lookback)
    covered_ns = int(totals.covered[0])
    filled_ns = int(totals.filled[0])
    return IntervalTotal(
        start=stamp(lo),
        end=stamp(hi),
        value=float(totals.value[0]),
        coverage=min(1.0, covered_ns / (hi - lo)),
        covered_s=covered_ns / NS_PER_S,
        source=_source(from_counter, filled_ns),
        resets=int(totals.resets[0]),
        wraps=int(totals.wraps[0]),
        gaps=gaps_in(totals.span_lo, totals.span_hi, lo, hi),
        filled_from_power_s=filled_ns / NS_PER_S,
        uncovered_increase=float(totals.uncovered[0]),
    )


def interval_increase(
    samples: pd.DataFrame,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    max_gap: pd.Timedelta | str,
    wrap_at: float | None = None,
    lookback: pd.Timedelta | str = DEFAULT_COUNTER_LOOKBACK,
) -> IntervalTotal:
    """Reset- and wrap-aware increase of any counter over ``[start, end)``, in its own unit.

    Same definition as the counter side of :func:`interval_energy` (litres for
    ``water_litres_total``, J for ``green_energy_joules_total``, bytes for link counters).
    """
    return interval_energy(
        samples,
        start=start,
        end=end,
        max_gap=max_gap,
        wrap_at=wrap_at,
        counter_lookback=lookback,
    )


def _bucket_edges(
    counter: pd.DataFrame | None,
    power: pd.DataFrame | None,
    start: pd.Timestamp | str | None,
    end: pd.Timestamp | str | None,
    bucket_ns: int,
) -> tuple[int, int] | None:
    """``[lo, hi)`` of the buckets; missing ends are epoch-aligned around the samples."""
    if start is not None and end is not None:
        return window_bounds(start, end)
    stamps = [as_series(f).t for f in (counter, power) if f is not None]
    every = np.concatenate(stamps) if stamps else np.zeros(0, dtype=np.int64)
    if not every.size:
        return None
    lo = to_ns(start, "start") if start is not None else int(every.min()) // bucket_ns * bucket_ns
    hi = to_ns(end, "end") if end is not None else int(every.max()) // bucket_ns * bucket_ns
    return window_bounds(stamp(lo), stamp(hi if end is not None else hi + bucket_ns))


BUCKET_COLUMNS = (
    "bucket",
    "bucket_end",
    "value",
    "covered_s",
    "coverage",
    "source",
    "resets",
    "wraps",
    "uncovered_increase",
    "filled_from_power_s",
)


def energy_per_bucket(
    counter: pd.DataFrame | None = None,
    power: pd.DataFrame | None = None,
    *,
    bucket: pd.Timedelta | str = "1h",
    start: pd.Timestamp | str | None = None,
    end: pd.Timestamp | str | None = None,
    max_gap: pd.Timedelta | str,
    wrap_at: float | None = None,
    counter_lookback: pd.Timedelta | str = DEFAULT_COUNTER_LOOKBACK,
) -> pd.DataFrame:
    """Energy per bucket (e.g. hourly), exactly :func:`interval_energy` applied to each bucket.

    Buckets are ``[start + k*bucket, start + (k+1)*bucket)`` clipped at ``end``; without
    ``start``/``end`` they are epoch-aligned and span the samples. Returns one row per bucket
    with columns ``bucket`` (start, UTC), ``bucket_end``, ``value`` (J, or the counter's unit),
    ``covered_s``, ``coverage``, ``source``, ``resets``, ``wraps``, ``uncovered_increase``
    (part of ``value`` attributed across gaps), ``filled_from_power_s``. Summing ``value`` over
    adjacent buckets gives the energy of their union (the store's roll-up definition).
    """
    bucket_ns = to_timedelta_ns(bucket, "bucket")
    edges = _bucket_edges(counter, power, start, end, bucket_ns)
    if edges is None:
        return pd.DataFrame({name: [] for name in BUCKET_COLUMNS})
    lo, hi = edges
    starts = np.arange(lo, hi, bucket_ns, dtype=np.int64)
    ends = np.minimum(starts + bucket_ns, hi)
    totals, from_counter = _totals(counter, power, starts, ends, max_gap, wrap_at, counter_lookback)
    span = (ends - starts).astype(np.float64)
    return pd.DataFrame(
        {
            "bucket": pd.DatetimeIndex(starts.astype("datetime64[ns]")).tz_localize("UTC"),
            "bucket_end": pd.DatetimeIndex(ends.astype("datetime64[ns]")).tz_localize("UTC"),
            "value": totals.value,
            "covered_s": totals.covered / NS_PER_S,
            "coverage": np.minimum(1.0, totals.covered / span),
            "source": np.where(
                totals.filled > 0, _source(from_counter, 1), _source(from_counter, 0)
            ),
            "resets": totals.resets,
            "wraps": totals.wraps,
            "uncovered_increase": totals.uncovered,
            "filled_from_power_s": totals.filled / NS_PER_S,
        }
    )
