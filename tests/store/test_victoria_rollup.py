"""Hourly summaries kept in VictoriaMetrics (``greenwatch rollup``) give the embedded store's
figures, for history, after late writes and across shards.

The agreement test writes the same 30 days of three simulated centres (5-minute samples: the
simulator's meters, counters with their resets, power) to the embedded store and to a real
VictoriaMetrics, summarises the VictoriaMetrics copy, and compares every site's energy totals
and the national PUE per hour and over the month: equal to 1e-9 relative. Timestamps are whole
minutes, so VictoriaMetrics's millisecond resolution loses nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwatch.inventory import Scope, load_inventory
from greenwatch.metrics import SITE_TOTAL_COLUMNS
from greenwatch.model import make_batch
from greenwatch.query import fresh_reads, keep_hourly_pue, kpi_answer, pue_trend, site_totals
from greenwatch.query._hourly import NAME, _signature
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore, VictoriaMetricsStore
from greenwatch.store._duckdb import HOUR, HOUR_STEP
from greenwatch.store._sql import ROLLUP_COLUMNS
from greenwatch.store._vmrollup import (
    LATE,
    Shard,
    settled_until,
    summary_lines,
    summary_rows,
)
from tests.conftest import need_binary
from tests.export.servers import victoriametrics

SITES = ("guian-1", "sc-shenzhen", "zhangjiakou-1")
DAY = pd.Timedelta(days=1)
END = pd.Timestamp.now(tz="UTC").floor("D") - DAY  # settled: long before the roller's now
START = END - 30 * DAY
SITE_FIGURES = [c for c in SITE_TOTAL_COLUMNS if not c.endswith("provenance")]


def month() -> pd.DataFrame:
    """The month, where one meter's counter restarts from zero on day 10 (a replaced meter)."""
    sim = Simulator(load_inventory(), seed=5, start=START)
    batch = sim.advance(END, pd.Timedelta(minutes=5))
    batch = batch[batch["site"].astype(str).isin(SITES)].reset_index(drop=True)
    replaced = (
        (batch["metric"] == "energy_joules_total")
        & (batch["site"] == "guian-1")
        & (batch["meter"] == "facility")
        & (batch["ts"] >= START + 10 * DAY)
    )
    batch.loc[replaced, "value"] -= batch.loc[replaced, "value"].min()
    return batch


@pytest.fixture(scope="module")
def stores(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[DuckDBStore, VictoriaMetricsStore]]:
    binary = need_binary("victoria-metrics", "/usr/bin/victoria-metrics")
    with victoriametrics(binary, tmp_path_factory.mktemp("vm-rollup")) as url:
        batch = month()
        embedded, engine = DuckDBStore(), VictoriaMetricsStore(url, skew=pd.Timedelta(0))
        embedded.write(batch)
        engine.write(batch)
        hours, rows = engine.roller(chunk_hours=24 * 31).run(
            pd.Timestamp.now(tz="UTC").value, START.value
        )
        assert hours >= 30 * 24
        assert rows > 0
        yield embedded, engine
        engine.close()
        embedded.close()


def figures(
    store: DuckDBStore | VictoriaMetricsStore, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    inventory = load_inventory()
    sites = [s for s in inventory.sites if s.id in SITES]
    return site_totals(store, sites, start, end).set_index("site")


def assert_same_figures(
    embedded: DuckDBStore, engine: VictoriaMetricsStore, start: pd.Timestamp, end: pd.Timestamp
) -> None:
    want, got = figures(embedded, start, end), figures(engine, start, end)
    for column in SITE_FIGURES:
        np.testing.assert_allclose(
            got[column].to_numpy(float), want[column].to_numpy(float), rtol=1e-9
        )
    inventory = load_inventory()
    for scope in ("national", "site:guian-1"):
        parsed = Scope.parse(scope, inventory)
        (a,) = kpi_answer(
            engine, inventory, "pue", parsed, start, end, min_coverage=0.0, min_share=0.0
        )
        (b,) = kpi_answer(
            embedded, inventory, "pue", parsed, start, end, min_coverage=0.0, min_share=0.0
        )
        assert a.value == pytest.approx(b.value, rel=1e-9)
        assert a.coverage == pytest.approx(b.coverage, rel=1e-9)


def test_the_engine_takes_whole_hours_from_summaries(
    stores: tuple[DuckDBStore, VictoriaMetricsStore],
) -> None:
    """Every series fell silent more than the look-back ago: nothing to come can change an
    hour, so the hours settle up to the roller's horizon (now less LATE; no skew here)."""
    _, engine = stores
    state = engine.roller().read_state()
    assert state is not None
    ran = state[2]
    rolled = engine.rolled_hours()
    assert rolled.span("energy_joules_total") == (START.value, (ran - LATE) // HOUR * HOUR)
    assert rolled.until > settled_until(ran, 6 * HOUR, 15 * 60 * 10**9)


def test_a_month_agrees_with_the_embedded_store(
    stores: tuple[DuckDBStore, VictoriaMetricsStore],
) -> None:
    embedded, engine = stores
    assert_same_figures(embedded, engine, START, END)
    # An unaligned period: raw edges, summaries between.
    assert_same_figures(
        embedded, engine, START + pd.Timedelta(minutes=37), END - pd.Timedelta(hours=5, minutes=3)
    )


def test_reset_hours_are_found_in_the_engine(
    stores: tuple[DuckDBStore, VictoriaMetricsStore],
) -> None:
    """The hours with a counter reset, searched among the summaries in the engine, are the
    embedded store's (and the month's figures above fill them from power alike)."""
    embedded, engine = stores
    want = embedded.reset_hours("energy_joules_total", START, END)
    got = engine.reset_hours("energy_joules_total", START, END)
    assert len(want) == 1
    pd.testing.assert_frame_equal(got[list(want.columns)], want, check_dtype=False)
    one = {"site": "guian-1", "meter": "facility"}
    pd.testing.assert_frame_equal(
        engine.reset_hours("energy_joules_total", START, END, one)[list(want.columns)],
        embedded.reset_hours("energy_joules_total", START, END, one),
        check_dtype=False,
    )
    assert engine.reset_hours("energy_joules_total", START, END, {"site": "sc-shenzhen"}).empty


def test_hourly_buckets_agree(stores: tuple[DuckDBStore, VictoriaMetricsStore]) -> None:
    embedded, engine = stores
    for metric, aggs in (
        ("energy_joules_total", ["increase", "resets"]),
        ("power_watts", ["integral", "coverage", "mean", "min", "max", "first", "last", "count"]),
    ):
        a = engine.query(
            metric, START, END, {"site": "guian-1"}, step=pd.Timedelta(hours=1), agg=aggs
        )
        b = embedded.query(
            metric, START, END, {"site": "guian-1"}, step=pd.Timedelta(hours=1), agg=aggs
        )
        keys = [c for c in a.columns if c not in aggs]
        a = a.sort_values(keys, ignore_index=True)
        b = b[a.columns].sort_values(keys, ignore_index=True)
        pd.testing.assert_frame_equal(a, b, rtol=1e-9, check_dtype=False)


def test_a_late_write_is_read_raw_until_redone(
    stores: tuple[DuckDBStore, VictoriaMetricsStore],
) -> None:
    """A replayed buffer adds samples inside summarised hours: reads agree at once (those hours
    read raw) and after the roller redid them (summaries again)."""
    embedded, engine = stores
    late_times = pd.date_range(END - 3 * DAY, periods=12, freq="5min") + pd.Timedelta(seconds=30)
    late = make_batch(late_times, "power_watts", 9e6, {"site": "guian-1", "meter": "facility"})
    embedded.write(late)
    engine.write(late)
    dirty = engine.rolled_hours().span("power_watts")
    assert dirty[1] <= (late_times[0] - pd.Timedelta(hours=6, minutes=15)).value
    assert_same_figures(embedded, engine, START, END)
    hours, _ = engine.roller(chunk_hours=24 * 31).run(pd.Timestamp.now(tz="UTC").value, START.value)
    assert hours > 0
    assert engine.rolled_hours().span("power_watts")[1] > late_times[-1].value
    assert_same_figures(embedded, engine, START, END)


def test_live_hours_settle_once_every_series_reported_past_them(tmp_path: Path) -> None:
    """A live centre whose facility meter fell silent 3 h ago: its hours settle up to that
    meter's last sample, hours later than the look-back rule alone would allow. When the meter
    reports again (not late), its sample bridges the 3 h, within the look-back, into hours not
    settled: read raw, the figures agree with the embedded store, and the hours stay held."""
    binary = need_binary("victoria-metrics", "/usr/bin/victoria-metrics")
    now = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(minutes=20)
    start = now - pd.Timedelta(hours=9)
    batch = Simulator(load_inventory(), seed=3, start=start).advance(now, pd.Timedelta(minutes=1))
    batch = batch[batch["site"].astype(str) == "guian-1"]
    facility = batch["meter"].astype(str) == "facility"
    silent = facility & (batch["ts"] > now - pd.Timedelta(hours=3))
    stopped = batch.loc[facility & ~silent, "ts"].max()
    with victoriametrics(binary, tmp_path) as url:
        embedded, engine = DuckDBStore(), VictoriaMetricsStore(url, skew=pd.Timedelta(0))
        for store in (embedded, engine):
            store.write(batch[~silent])
        ran = pd.Timestamp.now(tz="UTC").value
        engine.roller().run(ran, start.value)
        until = engine.rolled_hours().until
        assert until == stopped.floor("h").value
        assert until > settled_until(ran, 6 * HOUR, 15 * 60 * 10**9)
        assert_same_figures(embedded, engine, start, now)
        back = make_batch(
            [pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(minutes=5)],
            "energy_joules_total",
            float(batch.loc[facility & ~silent, "value"].max()) + 4e10,
            {"site": "guian-1", "meter": "facility"},
        )
        for store in (embedded, engine):
            store.write(back)
        assert engine.rolled_hours().dirty == {}  # not late: no marker
        end = back["ts"].iloc[0] + pd.Timedelta(minutes=1)
        assert_same_figures(embedded, engine, start, end)
        # Edges inside the gap: the pair's far ends lie beyond the raw margins.
        inside = stopped + pd.Timedelta(hours=1, minutes=7)
        assert_same_figures(embedded, engine, inside, end)
        assert_same_figures(embedded, engine, start, inside)
        engine.roller().run(pd.Timestamp.now(tz="UTC").value, start.value)
        assert engine.rolled_hours().until == until
        assert_same_figures(embedded, engine, start, end)
        engine.close()
        embedded.close()


@pytest.mark.parametrize("text", ["0/1", "1/3", "2/3"])
def test_shard_parse(text: str) -> None:
    assert Shard.parse(text).label == text


@pytest.mark.parametrize("text", ["3/3", "-1/2", "a/b", "1"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"i/n|less than n"):
        Shard.parse(text)


@given(
    st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=30, unique=True),
    st.integers(2, 5),
)
@settings(max_examples=50, deadline=None)
def test_shards_split_the_series(names: list[str], count: int) -> None:
    keys = pd.Series([json.dumps({"site": n}) for n in names])
    owned = sum(Shard(i, count).mine(keys).astype(int) for i in range(count))
    assert (owned == 1).all()


finite = st.floats(-1e12, 1e12, allow_nan=False)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),
            st.integers(0, 47),
            st.lists(finite, min_size=len(ROLLUP_COLUMNS), max_size=len(ROLLUP_COLUMNS)),
        ),
        min_size=1,
        max_size=40,
        unique_by=lambda r: (r[0], r[1]),
    )
)
@settings(max_examples=50, deadline=None)
def test_summary_series_read_back_as_written(rows: list[tuple[int, int, list[float]]]) -> None:
    """What the roller writes (ms for times, NaN left out) reads back as the same rows."""
    base = START.value
    frame = pd.DataFrame([r[2] for r in rows], columns=list(ROLLUP_COLUMNS))
    for column in ("first_t", "last_t", "reset_start", "reset_end"):
        frame[column] = (np.floor(np.abs(frame[column]) / 1e6) * 1e6 + base).astype("float64")
    frame.insert(0, "bucket", [base + r[1] * HOUR for r in rows])
    frame.insert(0, "series_id", [r[0] for r in rows])
    keys = np.asarray(
        [json.dumps({"site": f"s{i}"}, sort_keys=True) for i in range(4)], dtype=object
    )
    lines = [json.loads(x) for x in summary_lines(frame, keys, "power_watts", base + 60 * HOUR)]
    back = summary_rows(lines, "power_watts").sort_values(["key", "bucket"], ignore_index=True)
    want = frame.assign(key=keys[frame["series_id"]]).drop(columns="series_id")
    want = want.sort_values(["key", "bucket"], ignore_index=True)[back.columns]
    pd.testing.assert_frame_equal(back, want, check_dtype=False)


def test_a_redone_hour_counts_once_at_its_latest_revision(
    stores: tuple[DuckDBStore, VictoriaMetricsStore],
) -> None:
    """Hours summarised twice (a roller redoing them after a late write): a read over whole
    hours merged in the engine and an hourly read both take each hour's later revision."""
    _, engine = stores
    base = (START + 2 * DAY).value
    keys = np.asarray([json.dumps({"meter": "facility", "site": "redone"})], dtype=object)
    frame = pd.DataFrame(np.nan, index=range(3), columns=list(ROLLUP_COLUMNS))
    frame.insert(0, "bucket", [base + h * HOUR for h in range(3)])
    frame.insert(0, "series_id", 0)
    frame["first_t"] = frame["last_t"] = frame["bucket"].astype("float64")
    first = frame.assign(increase=[1.0, 2.0, 3.0], covered_s=3600.0, resets=0.0)
    later = frame.assign(increase=[10.0, 20.0, 30.0], covered_s=1800.0, resets=0.0)
    for rows, minutes in ((first, 20), (later, 80)):
        send = engine.roller().send
        now = base + 3 * HOUR + minutes * 60 * 10**9  # after the hours, as the roller runs
        send(list(summary_lines(rows, keys, "energy_joules_total", now)))
    start, end = pd.Timestamp(base, tz="UTC"), pd.Timestamp(base + 3 * HOUR, tz="UTC")
    labels = {"site": "redone"}
    whole = engine.query("energy_joules_total", start, end, labels, agg=["increase", "coverage"])
    assert whole[["increase", "coverage"]].to_numpy().tolist() == [[60.0, 0.5]]
    hourly = engine.query("energy_joules_total", start, end, labels, HOUR_STEP, "increase")
    assert hourly["value"].tolist() == [10.0, 20.0, 30.0]


def test_two_shards_of_the_rollup_command_cover_every_series(
    stores: tuple[DuckDBStore, VictoriaMetricsStore],
) -> None:
    """``greenwatch rollup --shard i/n``, one process per shard: readers take the hours every
    shard has summarised, and the figures stay the embedded store's."""
    embedded, engine = stores
    for shard in ("0/2", "1/2"):
        args = [sys.executable, "-m", "greenwatch.cli", "rollup", "--store-write-url", engine.url]
        args += ["--once", "--shard", shard, "--since", START.isoformat(), "--chunk-hours", "744"]
        done = subprocess.run(args, check=False, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert f"rollup {shard}: " in done.stdout
    start, until = engine.rolled_hours().span("power_watts")
    assert start == START.value
    assert until > END.value
    assert_same_figures(embedded, engine, START, END)


def test_spans_are_read_together_as_the_embedded_store_reads_them(
    stores: tuple[DuckDBStore, VictoriaMetricsStore],
) -> None:
    """``query_spans`` (the seconds around counter resets): one export per hour, same rows."""
    embedded, engine = stores
    starts = pd.date_range(START + pd.Timedelta(minutes=7), periods=40, freq="97min")
    spans = pd.DataFrame(
        {
            "site": [SITES[i % 3] for i in range(40)],
            "meter": ["facility"] * 40,
            "start": starts,
            "end": starts + pd.Timedelta(minutes=23),
        }
    )
    got = engine.query_spans("power_watts", spans)
    want = embedded.query_spans("power_watts", spans)
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_kept_hourly_rows_agree_until_a_late_write_drops_them(
    stores: tuple[DuckDBStore, VictoriaMetricsStore],
) -> None:
    """Each site's hourly PUE inputs, kept in the reading process's memory, give the embedded
    store's hourly trend; a late write drops the rows of the hours it may change (whichever
    site), and the trend read again agrees with the embedded store's."""
    embedded, engine = stores
    inventory = load_inventory()
    sites = [s for s in inventory.sites if s.id in SITES]
    ids = [s.id for s in sites]
    # Two hours after the data ends, the look-back would settle only hours ended 6 h 15 min
    # before; every series has reported past all of them, so every hour is kept.
    keep_hourly_pue(engine, ids, START, END, now=END + pd.Timedelta(hours=2))
    signature = _signature(engine)
    rows = engine.kept(NAME, signature, ids, START, END)
    assert rows is not None
    assert len(rows) == len(SITES) * 30 * 24
    for store in (embedded, engine):
        with fresh_reads():
            trend = pue_trend(store, sites, START, END, HOUR_STEP)
        assert len(trend) == 30 * 24
        if store is embedded:
            want = trend
    np.testing.assert_allclose(trend["pue"], want["pue"], rtol=1e-9)
    late_at = END - 10 * DAY + pd.Timedelta(minutes=2, seconds=30)
    late = make_batch([late_at], "power_watts", 5e6, {"site": "sc-shenzhen", "meter": "cooling"})
    embedded.write(late)
    engine.write(late)
    left = engine.kept(NAME, signature, ids, START, END)
    assert left is not None
    first = (late_at - pd.Timedelta(hours=6, minutes=15)).floor("h").value
    assert left["bucket"].max() < first
    assert len(left) == len(SITES) * (first - START.value) // HOUR
    with fresh_reads():
        again = pue_trend(engine, sites, START, END, HOUR_STEP)
        want = pue_trend(embedded, sites, START, END, HOUR_STEP)
    np.testing.assert_allclose(again["pue"], want["pue"], rtol=1e-9)
