"""The store contract: one suite every store implementation must pass.

A test module subclasses :class:`StoreContract` and provides a ``store_factory`` fixture: a
callable taking a directory and returning a store persisted there (the same directory
reopened must give back what was written).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenwatch.model import BatchError, make_batch
from greenwatch.store import Store, StoreError

T0 = pd.Timestamp("2026-03-01T00:00:00Z")
MIN = pd.Timedelta(minutes=1)
HOUR = pd.Timedelta(hours=1)
StoreFactory = Callable[[Path], Store]


def power(site: str, minutes: int, watts: float | np.ndarray, start: pd.Timestamp = T0):
    ts = pd.date_range(start, periods=minutes, freq="1min")
    return make_batch(ts, "power_watts", watts, {"site": site, "meter": "facility"})


def counter(values: list[float] | np.ndarray, start: pd.Timestamp = T0, step=MIN, site="a"):
    ts = pd.date_range(start, periods=len(values), freq=step)
    return make_batch(ts, "energy_joules_total", values, {"site": site, "meter": "it_input"})


class StoreContract:
    """Behaviour every store must show (DESIGN.md, Contracts: Store)."""

    @pytest.fixture
    def store(self, store_factory: StoreFactory, tmp_path: Path):
        store = store_factory(tmp_path)
        yield store
        store.close()

    def test_write_is_idempotent(self, store: Store) -> None:
        batch = power("a", 120, 1000.0)
        counts_new = getattr(store, "counts_new", True)  # else: samples sent
        assert store.write(batch) == 120
        assert store.write(batch) == (0 if counts_new else 120)
        more = pd.concat([batch, power("a", 130, 1000.0)])
        assert store.write(more) == (10 if counts_new else 130)
        raw = store.query("power_watts", T0, T0 + 3 * HOUR)
        assert len(raw) == 130
        assert not raw.duplicated(["ts", "site", "meter"]).any()

    def test_duplicates_inside_one_batch_are_stored_once(self, store: Store) -> None:
        batch = power("a", 10, 5.0)
        assert store.write(pd.concat([batch, batch, batch])) == 10

    def test_ranges_are_half_open(self, store: Store) -> None:
        store.write(power("a", 60, np.arange(60, dtype=float)))
        raw = store.query("power_watts", T0 + 10 * MIN, T0 + 20 * MIN)
        assert list(raw["value"]) == [float(v) for v in range(10, 20)]
        assert raw["ts"].min() == T0 + 10 * MIN
        assert raw["ts"].max() == T0 + 19 * MIN

    def test_labels_filter_and_series(self, store: Store) -> None:
        store.write(power("a", 5, 1.0))
        store.write(power("b", 5, 2.0))
        store.write(power("c", 5, 3.0))
        assert set(store.query("power_watts", T0, T0 + HOUR, labels={"site": "b"})["value"]) == {
            2.0
        }
        both = store.query("power_watts", T0, T0 + HOUR, labels={"site": ["a", "c"]})
        assert set(both["site"]) == {"a", "c"}
        assert store.query("power_watts", T0, T0 + HOUR, labels={"site": "zz"}).empty
        assert set(store.series("power_watts")["site"]) == {"a", "b", "c"}

    def test_aggregations_per_bucket(self, store: Store) -> None:
        store.write(power("a", 120, np.arange(120, dtype=float)))
        out = store.query(
            "power_watts",
            T0,
            T0 + 2 * HOUR,
            step=HOUR,
            agg=["mean", "min", "max", "count", "sum", "first", "last"],
        )
        first, second = out.iloc[0], out.iloc[1]
        assert (first["mean"], first["min"], first["max"]) == (29.5, 0.0, 59.0)
        assert (first["count"], first["sum"], first["first"], first["last"]) == (
            60,
            1770.0,
            0.0,
            59.0,
        )
        assert (second["mean"], second["min"], second["max"]) == (89.5, 60.0, 119.0)
        assert list(out["ts"]) == [T0, T0 + HOUR]

    def test_integral_and_coverage_of_power(self, store: Store) -> None:
        # 1 kW for 60 min sampled each minute, then a 30-minute hole, then 29 more minutes.
        store.write(power("a", 60, 1000.0))
        store.write(power("a", 30, 1000.0, start=T0 + 90 * MIN))
        out = store.query("power_watts", T0, T0 + 2 * HOUR, agg=["integral", "coverage"])
        covered_s = 59 * 60 + 29 * 60  # the 31-minute hole is longer than the 15-minute bridge
        assert out["integral"].iloc[0] == pytest.approx(1000.0 * covered_s, rel=1e-12)
        assert out["coverage"].iloc[0] == pytest.approx(covered_s / 7200, rel=1e-12)

    def test_counter_increase_is_reset_aware(self, store: Store) -> None:
        values = [100.0, 160.0, 220.0, 10.0, 70.0, 130.0]  # reset before the 4th sample
        store.write(counter(values))
        out = store.query("energy_joules_total", T0, T0 + HOUR, agg="increase")
        assert out["value"].iloc[0] == pytest.approx(60 + 60 + 10 + 60 + 60)

    def test_rollups_equal_raw_aggregation(self, store: Store) -> None:
        rng = np.random.default_rng(7)
        values = np.cumsum(rng.uniform(0, 100, 600))
        ts = T0 + pd.to_timedelta(np.sort(rng.choice(36000, 600, replace=False)), unit="s")
        store.write(make_batch(ts, "energy_joules_total", values, {"site": "a", "meter": "x"}))
        hourly = store.query("energy_joules_total", T0, T0 + 10 * HOUR, step=HOUR, agg="increase")
        halves = store.query(
            "energy_joules_total", T0, T0 + 10 * HOUR, step=HOUR / 2, agg="increase"
        )
        assert hourly["value"].sum() == pytest.approx(halves["value"].sum(), rel=1e-9)
        whole = store.query("energy_joules_total", T0, T0 + 10 * HOUR, agg="increase")
        assert whole["value"].iloc[0] == pytest.approx(hourly["value"].sum(), rel=1e-9)
        assert whole["value"].iloc[0] == pytest.approx(values[-1] - values[0], rel=1e-9)

    def test_late_data_updates_rollups(self, store: Store) -> None:
        store.write(counter([0.0, 60.0, 120.0], start=T0 + 2 * HOUR))
        store.write(counter([0.0 + i * 60.0 for i in range(121)][:-1], start=T0))
        late = store.query("energy_joules_total", T0, T0 + 3 * HOUR, step=HOUR, agg="increase")
        # The late first two hours count; the reset back to 0 at 02:00 adds nothing.
        assert list(late["value"]) == pytest.approx([3600.0, 3540.0, 120.0])

    def test_bad_batch_is_rejected_and_nothing_is_stored(self, store: Store) -> None:
        store.write(power("a", 5, 1.0))
        bad = power("a", 10, 1.0, start=T0 + HOUR)
        bad.loc[3, "value"] = float("nan")
        with pytest.raises(BatchError):
            store.write(bad)
        naive = bad.assign(ts=bad["ts"].dt.tz_localize(None), value=1.0)
        with pytest.raises(BatchError):
            store.write(naive)
        assert len(store.query("power_watts", T0, T0 + 2 * HOUR)) == 5

    def test_bad_queries_raise_store_error(self, store: Store) -> None:
        with pytest.raises(StoreError):
            store.query("power_watts", T0 + HOUR, T0)
        with pytest.raises(StoreError):
            store.query("power_watts", T0, T0 + HOUR, agg="median")
        with pytest.raises(StoreError):
            store.query("power_watts", T0.tz_localize(None), T0 + HOUR)

    def test_survives_restart(self, store_factory: StoreFactory, tmp_path: Path) -> None:
        first = store_factory(tmp_path)
        first.write(power("a", 90, 2.0))
        first.close()
        again = store_factory(tmp_path)
        try:
            assert len(again.query("power_watts", T0, T0 + 2 * HOUR)) == 90
            out = again.query("power_watts", T0, T0 + 2 * HOUR, step=HOUR, agg="count")
            assert list(out["value"]) == [60.0, 30.0]
            again.write(power("a", 90, 2.0))
            assert len(again.query("power_watts", T0, T0 + 2 * HOUR)) == 90
        finally:
            again.close()

    def test_concurrent_readers_while_writing(self, store: Store) -> None:
        errors: list[BaseException] = []

        def read() -> None:
            try:
                for _ in range(20):
                    store.query("power_watts", T0, T0 + 24 * HOUR, step=HOUR, agg="mean")
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        readers = [threading.Thread(target=read) for _ in range(3)]
        for thread in readers:
            thread.start()
        for day in range(5):
            store.write(power("a", 60, 1.0, start=T0 + day * HOUR))
        for thread in readers:
            thread.join()
        assert errors == []
        assert len(store.query("power_watts", T0, T0 + 24 * HOUR)) == 300

    def test_unaligned_long_range_equals_sum_of_pieces(self, store: Store) -> None:
        rng = np.random.default_rng(3)
        values = np.cumsum(rng.uniform(0, 50, 6 * 60))
        store.write(counter(values))
        start, end = T0 + 7 * MIN, T0 + 5 * HOUR + 13 * MIN
        whole = store.query(
            "energy_joules_total", start, end, agg=["increase", "coverage", "count"]
        )
        pieces = store.query(
            "energy_joules_total", start, end, step=pd.Timedelta(minutes=1), agg="increase"
        )
        assert whole["increase"].iloc[0] == pytest.approx(pieces["value"].sum(), rel=1e-9)
        assert whole["increase"].iloc[0] == pytest.approx(
            values[int((end - T0) / MIN)] - values[7], rel=1e-9
        )
        assert whole["count"].iloc[0] == 306
        assert whole["coverage"].iloc[0] == pytest.approx(1.0)

    def test_long_unaligned_range_without_data(self, store: Store) -> None:
        store.write(power("a", 5, 1.0))
        later = T0 + 10 * HOUR + 7 * MIN
        out = store.query("power_watts", later, later + 5 * HOUR, agg=["integral", "count"])
        assert out.empty or float(out["count"].sum()) == 0.0
