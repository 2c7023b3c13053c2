"""Each site's hourly PUE inputs, kept in the store once computed.

Per site and hour: the energy, coverage and provenance of the meters a PUE rests on
(:func:`greenwatch.metrics.meter_columns` of :func:`read_meter_energy` over
:data:`PUE_METERS`). They do not depend on the inventory (which IT meter
counts is chosen afterwards, by :func:`greenwatch.metrics.totals_from_meters`), so a store
that keeps derived rows (:meth:`greenwatch.store.DuckDBStore.keep`) keeps them under a
signature of their columns and the gap rules; a write drops the rows it can change. A read of
a month then needs the rows of hours not kept yet only, and keeps those whose hour is
settled (ended longer ago than a sample can reach, so live data does not churn them).
Every row equals a fresh computation: the agreement is a test.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from greenwatch.metrics import PUE_CATEGORY_METERS, meter_columns
from greenwatch.query._energy import HOUR, gaps_of, read_meter_energy
from greenwatch.store import Store

# The meters a site's PUE rests on: facility and each category's IT meter.
PUE_METERS = ("facility", *dict.fromkeys(PUE_CATEGORY_METERS.values()))
# meter_columns' documented answer for them: per meter its energy, coverage and provenance bits.
COLUMNS = tuple(f"{m}_{what}" for m in PUE_METERS for what in ("j", "coverage", "bits"))
NAME = "pue_meters_1h"
SITE_HOURS_PER_READ = 50_000  # site-hours computed per read when rows are missing
KEYS = ["site", "ts"]


@runtime_checkable
class Keeping(Store, Protocol):
    """A store that keeps derived rows per site and hour (:class:`greenwatch.store.DuckDBStore`
    in its file, :class:`greenwatch.store.VictoriaMetricsStore` in memory; not part of the
    store contract)."""

    def keeping_since(self) -> int: ...

    def kept(
        self, name: str, signature: str, sites: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame | None: ...

    def keep(self, name: str, signature: str, frame: pd.DataFrame, since: int) -> bool: ...


def _signature(store: Store) -> str:
    gaps = gaps_of(store)
    columns = ",".join(COLUMNS)
    return f"v1;{columns};max_gap={gaps.max_gap.value};lookback={gaps.counter_lookback.value}"


def pue_meters(
    store: Store,
    sites: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta,
    now: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """:func:`greenwatch.metrics.meter_columns` of the PUE meters of ``sites`` per bucket of
    ``step`` (keys site, ts): from kept hourly rows where the store keeps them and the grid
    is whole hours, else computed."""
    hourly = step == HOUR and start == start.floor("h") and end == end.floor("h")
    if not hourly or not isinstance(store, Keeping):
        return _computed(store, list(sites), start, end, step)
    return _kept(store, list(sites), start, end, now or pd.Timestamp.now(tz="UTC"))


def _computed(
    store: Store, sites: list[str], start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
) -> pd.DataFrame:
    energy = read_meter_energy(
        store, start, end, step=step, labels={"site": sites, "meter": list(PUE_METERS)}
    )
    return meter_columns(energy, KEYS, PUE_METERS)


def _as_rows(kept: pd.DataFrame) -> pd.DataFrame:
    """Kept rows (site, bucket ns, columns) as meter columns keyed by site and ts, less the
    rows that only say an hour had nothing."""
    out = kept.drop(columns="bucket")
    out.insert(1, "ts", pd.to_datetime(kept["bucket"].to_numpy("int64"), unit="ns", utc=True))
    coverage = [c for c in kept.columns if c.endswith("_coverage")]
    something = kept[coverage].notna().any(axis=1).to_numpy()
    return out[something].reset_index(drop=True)


def _kept(
    store: Keeping, sites: list[str], start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp
) -> pd.DataFrame:
    signature = _signature(store)
    since = store.keeping_since()
    found = store.kept(NAME, signature, sites, start, end)
    hours = pd.date_range(start, end, freq="h", inclusive="left").as_unit("ns")
    columns = ["site", "bucket", *COLUMNS]
    kept = found[columns] if found is not None else pd.DataFrame(columns=columns)
    counts = kept["site"].value_counts()
    short = [s for s in sites if counts.get(s, 0) < len(hours)]
    if not short:
        return _as_rows(kept)
    # Recompute the short sites from their first hour not kept to their last.
    kept_at = pd.MultiIndex.from_arrays(
        [kept["site"].astype(object), kept["bucket"].astype("int64")]
    )
    grid = pd.MultiIndex.from_product([short, hours.asi8], names=["site", "bucket"])
    missing = grid[~grid.isin(kept_at)]
    lo = pd.Timestamp(int(missing.get_level_values("bucket").min()), tz="UTC")
    hi = pd.Timestamp(int(missing.get_level_values("bucket").max()), tz="UTC") + HOUR
    # A month of a national network is read a few days at a time (each hour's figures are
    # its own), so that no read holds every summary of the month at once.
    # SITE_HOURS_PER_READ is read here, not bound at import, so that tests can lower it.
    hours_per_read = max(1, SITE_HOURS_PER_READ // len(short)) * HOUR
    fresh = pd.concat(
        [
            _computed(store, short, a, min(a + hours_per_read, hi), HOUR)
            for a in pd.date_range(lo, hi, freq=hours_per_read, inclusive="left")
        ],
        ignore_index=True,
    )
    fresh.insert(1, "bucket", pd.DatetimeIndex(fresh.pop("ts")).as_unit("ns").asi8)
    new = fresh.set_index(["site", "bucket"]).reindex(missing).reset_index()[columns]
    settled = _settled(store, new, now)
    if settled.any():
        store.keep(NAME, signature, new[settled].reset_index(drop=True), since)
    both = pd.concat([kept, new], ignore_index=True) if len(kept) else new
    return _as_rows(both.sort_values(["site", "bucket"], kind="stable"))


def _settled(store: Store, rows: pd.DataFrame, now: pd.Timestamp) -> np.ndarray:
    """Rows whose hour ended longer ago than a sample's reach (so live writes, which would
    drop them again at once, do not churn them), or before the hours a store says no sample
    still to come on time can change (:meth:`greenwatch.store.VictoriaMetricsStore.
    settled_before`: every series reported past them)."""
    gaps = gaps_of(store)
    reach = gaps.counter_lookback + gaps.max_gap + HOUR
    cutoff = (now - reach).value
    settled_before = getattr(store, "settled_before", None)
    if callable(settled_before):
        cutoff = max(cutoff, min(int(settled_before()), now.value))
    return np.asarray(rows["bucket"].to_numpy("int64") < cutoff)


def keep_hourly_pue(
    store: Store,
    sites: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    now: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Compute, and keep where the store keeps derived rows, the hourly PUE inputs of
    ``sites`` for the hours from ``start`` to ``end`` (floored to hours) that are not kept
    yet; only settled hours are kept. ``greenwatch demo`` calls it after its backfill and
    ``serve`` every few minutes over the last month, so that a freshly opened
    store answers a month's hourly trend from kept rows. ``now`` (default: the wall clock)
    decides which hours have settled. Returns the rows (meter columns)."""
    return pue_meters(store, sites, start.floor("h"), end.floor("h"), HOUR, now)
