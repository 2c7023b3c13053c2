"""The dashboard's data layer: ratios of sums per step, the TTL cache, URL views, helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from tests.conftest import runs_when_asked_at_once

from greenwatch.dashboard import load_dashboards
from greenwatch.dashboard._cache import CachingStore, TtlCache
from greenwatch.dashboard._data import occupancy, ratio_per_step, step_totals
from greenwatch.dashboard._links import link_health
from greenwatch.dashboard._quality import gap_intervals, paths_from
from greenwatch.dashboard._view import parse_view, with_params
from greenwatch.inventory import load_inventory
from greenwatch.model import shipped_dir
from greenwatch.query import Scope, kpi_answer
from greenwatch.service import backfill
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

START = pd.Timestamp("2026-03-02T00:00:00Z")
END = START + pd.Timedelta(hours=6)
HOUR = pd.Timedelta(hours=1)


@pytest.fixture(scope="module")
def store() -> Iterator[DuckDBStore]:
    inventory = load_inventory()
    db = DuckDBStore(":memory:")
    backfill(Simulator(inventory, seed=3, start=START), db.write, END)
    yield db
    db.close()


def test_ratio_per_step_is_a_ratio_of_sums() -> None:
    ts = pd.Timestamp("2026-01-01T00:00Z")
    totals = pd.DataFrame(
        {
            "ts": [ts, ts, ts],
            "site": ["a", "b", "c"],
            "facility_j": [130.0, 240.0, 999.0],
            "facility_j_cov": [1.0, 1.0, 0.2],  # c covers too little of the step: left out
            "it_j": [100.0, 200.0, 100.0],
            "it_j_cov": [1.0, 0.8, 1.0],
        }
    )
    out = ratio_per_step(totals, "pue")
    assert out["value"].iloc[0] == pytest.approx(370.0 / 300.0)  # not mean(1.3, 1.2)
    assert out["sites"].iloc[0] == 2
    assert out["coverage"].iloc[0] == pytest.approx((1.0 * 100 + 0.8 * 200) / 300)


def test_hourly_trend_adds_up_to_the_kpi_api(store: DuckDBStore) -> None:
    inventory = load_inventory()
    totals = step_totals(store, inventory.sites, START, END, HOUR, ["pue", "ref"])
    assert totals["ts"].nunique() == 6
    hourly = ratio_per_step(totals, "pue")
    assert hourly["value"].between(1.05, 1.8).all()
    answer = kpi_answer(store, inventory, "pue", Scope("national"), START, END)[0]
    whole = totals["facility_j"].sum() / totals["it_j"].sum()
    assert whole == pytest.approx(answer.value, rel=1e-9)
    green = ratio_per_step(totals, "ref")
    assert green["value"].between(0, 1).all()


def test_a_pue_trend_reads_the_kept_hourly_inputs_to_the_same_figures(
    store: DuckDBStore,
) -> None:
    sites = load_inventory().sites
    full = step_totals(store, sites, START, END, HOUR, ["pue", "ref"])
    kept = step_totals(store, sites, START, END, HOUR, ["pue"], END)
    columns = ["ts", "site", "facility_j", "facility_j_cov", "it_j", "it_j_cov"]
    pd.testing.assert_frame_equal(kept[columns], full[columns])
    pd.testing.assert_frame_equal(ratio_per_step(kept, "pue"), ratio_per_step(full, "pue"))


def test_a_write_makes_what_the_caching_store_read_unreachable() -> None:
    inventory = load_inventory()
    db = DuckDBStore(":memory:")
    backfill(Simulator(inventory, seed=3, start=START), db.write, START + HOUR)
    cached = CachingStore(db, TtlCache())
    assert cached.gaps is db.gaps
    assert cached.generation == db.generation
    before = cached.query("power_watts", START, END, agg="count")["value"].sum()
    backfill(Simulator(inventory, seed=3, start=START + HOUR), db.write, START + 2 * HOUR)
    after = cached.query("power_watts", START, END, agg="count")["value"].sum()
    assert after > before, "a write is seen at once, not after the TTL"
    with pytest.raises(AttributeError):
        _ = cached.apply_retention  # only what the query layer reads passes through
    db.close()


def test_occupancy_and_link_health(store: DuckDBStore) -> None:
    inventory = load_inventory()
    value, coverage = occupancy(store, inventory.sites, START, END)
    assert 0.3 < value < 1.0
    assert coverage == pytest.approx(1.0, abs=0.01)
    links = link_health(store, inventory, START, END)
    assert len(links) == len(inventory.links)
    assert links["utilisation"].between(0, 1).all()
    assert set(links["health"]) <= {"ok", "busy", "degraded", "down", "no data"}
    assert (links["availability"] > 0.99).all()


def test_ttl_cache_computes_once_per_key_and_expires() -> None:
    clock = [0.0]
    cache = TtlCache(ttl_s=60, max_entries=2, monotonic=lambda: clock[0])
    runs = runs_when_asked_at_once(lambda slow: cache.get("k", slow), "value")
    assert runs == 1, "concurrent callers of one key share one computation"
    assert cache.get("k", lambda: "other") == "value"
    clock[0] = 61.0
    assert cache.get("k", lambda: "fresh") == "fresh"
    cache.get("a", lambda: 1)
    cache.get("b", lambda: 2)
    assert cache.get("k", lambda: "evicted") == "evicted"
    # A key naming the store's write count is kept until a write (or eviction), not a TTL.
    assert cache.get("w", lambda: "kept", expires=False) == "kept"
    clock[0] = 1000.0
    assert cache.get("w", lambda: "again", expires=False) == "kept"


def test_caching_store_shares_aggregates_not_raw_samples(store: DuckDBStore) -> None:
    cached = CachingStore(store, TtlCache())
    first = cached.query("power_watts", START, END, agg="mean")
    first["value"] = 0.0
    again = cached.query("power_watts", START, END, agg="mean")
    assert (again["value"] > 0).any(), "callers get copies"
    assert cached._cache.hits == 1
    cached.query("power_watts", START, START + HOUR)
    cached.query("power_watts", START, START + HOUR)
    assert cached._cache.misses == 1, "raw queries are never cached"


def test_caching_store_keeps_reset_hours_where_the_store_has_them(store: DuckDBStore) -> None:
    """Every energy figure of a page asks for the same reset hours: asked once, copies."""
    cached = CachingStore(store, TtlCache())
    span = (START.floor("h"), END.ceil("h"))
    first = cached.reset_hours("energy_joules_total", *span)
    pd.testing.assert_frame_equal(first, store.reset_hours("energy_joules_total", *span))
    again = cached.reset_hours("energy_joules_total", *span)
    assert again is not first, "callers get copies"
    pd.testing.assert_frame_equal(again, first)
    assert (cached._cache.hits, cached._cache.misses) == (1, 1)
    assert not hasattr(CachingStore(_NoResetHours(), TtlCache()), "reset_hours")


class _NoResetHours:
    """A store that finds no reset hours of its own."""


def test_the_url_encodes_the_view() -> None:
    dashboards = load_dashboards(shipped_dir("dashboards"))
    now = pd.Timestamp("2026-06-30T23:37:12Z")
    minute = pd.Timedelta(minutes=1)
    view = parse_view("/site/guian-1", "?period=7d&link=x--y", dashboards, now, minute)
    assert (view.page.id, view.site, view.period, view.live) == ("site", "guian-1", "7d", True)
    assert view.end == pd.Timestamp("2026-06-30T23:00Z")  # whole hours: roll-ups only
    assert view.span == pd.Timedelta(days=7)
    assert view.param("link") == "x--y"
    assert view.trend_range() == (view.start, pd.Timestamp("2026-07-01T00:00Z"))
    pinned = parse_view("/", "?period=24h&end=2026-06-01T12:00Z", dashboards, now, minute)
    assert not pinned.live
    assert pinned.start == pd.Timestamp("2026-05-31T12:00Z")
    bad = parse_view("/network", "?period=5y", dashboards, now, minute)
    assert bad.period == "24h"
    assert bad.problems
    assert with_params("?period=7d&link=a", link=None, edge="loss") == "?period=7d&edge=loss"


def test_gap_intervals_merge_consecutive_steps() -> None:
    ts = pd.date_range("2026-01-01", periods=6, freq="h", tz="UTC")
    coverage = pd.DataFrame({"ts": ts, "value": [1.0, 0.5, 0.0, 1.0, 0.9, 1.0]})
    runs = gap_intervals(coverage, HOUR, 0.95)
    assert runs == [(ts[1], ts[3], 0.25), (ts[4], ts[5], 0.9)]


def test_paths_from_a_site() -> None:
    inventory = load_inventory()
    origin = inventory.links[0].a
    paths = paths_from(inventory, origin, {inventory.links[0].id: 0.5})
    assert paths[origin] == (0.0, 0.0)
    neighbour = inventory.links[0].b
    km, busy = paths[neighbour]
    assert km <= (inventory.links[0].distance_km or 1e9)
    assert busy in {0.0, 0.5}
