"""Each site's hourly PUE inputs kept in the store equal a fresh computation, whatever was
written before and after they were kept.

The store keeps them once a read computed them (and ``greenwatch demo`` / ``serve`` keep them
for settled hours); a write drops the rows it can change. The property: any timeline of
counters with resets, power and gaps, cut into writes in any order with reads in between,
gives the hourly trend that the pure definition gives over everything written (read
:func:`read_meter_energy` + :func:`site_energy_totals` + :func:`trend_of`, nothing kept), and so
does a freshly reopened store that answers from kept rows alone.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.query.test_energy_golden import _site

from greenwatch.metrics import interval_energy, site_energy_totals
from greenwatch.model import make_batch
from greenwatch.query import _hourly, fresh_reads, keep_hourly_pue, pue_trend, read_meter_energy
from greenwatch.query._hourly import NAME, PUE_METERS, _signature
from greenwatch.query._sites import site_frame
from greenwatch.query._trend import trend_of
from greenwatch.store import DuckDBStore, Gaps, Retention

T0 = pd.Timestamp("2026-03-01T21:00:00Z")
HOUR = pd.Timedelta(hours=1)
START, END = T0, T0 + pd.Timedelta(hours=12)
SITES = [_site("a"), _site("b", category=2)]
STEPS_S = st.sampled_from([15, 60, 600, 20 * 60, 59 * 60, 3 * 3600, 7 * 3600])


@st.composite
def timelines(draw: st.DrawFn) -> pd.DataFrame:
    """Facility and IT counters (with resets) and IT power on two sites, in time order."""
    frames = []
    for site in SITES:
        it = "it_input" if site.pue_category == 3 else "it_pdu_output"
        for meter, kw in (("facility", 130.0), (it, 100.0)):
            steps = draw(st.lists(STEPS_S, min_size=1, max_size=30))
            ts = T0 + pd.to_timedelta(np.cumsum([draw(st.integers(0, 3600)), *steps]), unit="s")
            resets = draw(st.lists(st.booleans(), min_size=len(ts), max_size=len(ts)))
            counter, total, last = [], 0.0, ts[0]
            for t, reset in zip(ts, resets, strict=True):
                rise = (t - last).total_seconds() * kw * 1e3
                total = rise if reset else total + rise
                counter.append(total)
                last = t
            labels = {"site": site.id, "meter": meter}
            frames.append(make_batch(ts, "energy_joules_total", counter, labels))
            if meter == it and draw(st.booleans()):
                power = pd.date_range(ts[0], ts[-1], freq="5min")
                frames.append(make_batch(power, "power_watts", [kw * 1e3] * len(power), labels))
    return pd.concat(frames, ignore_index=True).sort_values("ts", kind="stable")


def _expected(store: DuckDBStore) -> pd.DataFrame:
    """The hourly trend from the pure definition, nothing kept or cached."""
    with fresh_reads():
        energy = read_meter_energy(
            store,
            START,
            END,
            step=HOUR,
            labels={"site": [s.id for s in SITES], "meter": list(PUE_METERS)},
        )
    if energy.empty:
        return pd.DataFrame(columns=["ts", "facility_j", "it_j", "pue", "provenance"])
    totals = site_energy_totals(energy, site_frame(SITES), keys=["site", "ts"])
    return trend_of(totals)


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got["ts"]) == list(want["ts"])
    for column in ("facility_j", "it_j", "pue"):
        np.testing.assert_allclose(
            got[column].to_numpy("float64"), want[column].to_numpy("float64"), rtol=1e-9
        )
    assert list(got["provenance"]) == list(want["provenance"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(timeline=timelines(), cuts=st.lists(st.integers(0, 400), max_size=4), data=st.data())
def test_kept_rows_equal_a_fresh_computation(
    timeline: pd.DataFrame, cuts: list[int], data: st.DataObject
) -> None:
    store = DuckDBStore()
    edges = sorted({0, len(timeline), *(min(c, len(timeline)) for c in cuts)})
    pieces = [timeline.iloc[a:b] for a, b in itertools.pairwise(edges)]
    order = data.draw(st.permutations(range(len(pieces))))
    # Rows missing are computed a few site-hours at a time, as a national month is.
    per_read = data.draw(st.sampled_from([2, 7, _hourly.SITE_HOURS_PER_READ]))
    with mock.patch.object(_hourly, "SITE_HOURS_PER_READ", per_read):
        for i in order:
            store.write(pieces[i])
            with fresh_reads():  # the kept rows, not the in-memory answer
                _same(pue_trend(store, SITES, START, END, HOUR), _expected(store))
    assert store.kept(NAME, _signature(store), ["a", "b"], START, END) is not None


def test_a_reopened_store_answers_from_kept_rows(tmp_path: Path) -> None:
    path = tmp_path / "kept.duckdb"
    store = DuckDBStore(path)
    stamps = pd.date_range(START, END, freq="1min")
    seconds = (stamps - T0).total_seconds().to_numpy()
    for site in SITES:
        it = "it_input" if site.pue_category == 3 else "it_pdu_output"
        for meter, kw in (("facility", 125.0), (it, 100.0)):
            labels = {"site": site.id, "meter": meter}
            store.write(make_batch(stamps, "energy_joules_total", seconds * kw * 1e3, labels))
    kept = keep_hourly_pue(store, ["a", "b"], START, END + HOUR)
    assert (kept["ts"] < END).sum() == 2 * 12  # and the hour of the sample at END
    want = _expected(store)
    store.close()
    reopened = DuckDBStore(path)
    rows = reopened.kept(NAME, _signature(reopened), ["a", "b"], START, END)
    assert rows is not None
    assert len(rows) == 2 * 12
    # Kept rows alone answer: the samples are gone and the trend is unchanged.
    reopened._con.execute("DELETE FROM samples")
    reopened._con.execute("DELETE FROM rollup_1h")
    _same(pue_trend(reopened, SITES, START, END, HOUR), want)
    assert pue_trend(reopened, SITES, START, END, HOUR)["pue"].to_numpy() == pytest.approx(1.25)


def _kept_hours(store: DuckDBStore, site: str) -> list[pd.Timestamp]:
    rows = store.kept(NAME, _signature(store), [site], START, END)
    assert rows is not None
    return sorted(pd.to_datetime(rows["bucket"], utc=True))


def test_a_late_sample_drops_the_rows_it_can_change_and_no_others() -> None:
    store = DuckDBStore(gaps=Gaps(max_gap=pd.Timedelta(minutes=15)))
    stamps = pd.date_range(START, END, freq="1min")
    seconds = (stamps - T0).total_seconds().to_numpy()
    for site in ("a", "b"):
        labels = {"site": site, "meter": "facility"}
        store.write(make_batch(stamps, "energy_joules_total", seconds * 1e5, labels))
    keep_hourly_pue(store, ["a", "b"], START, END + HOUR)
    every = list(pd.date_range(START, END, freq="h", inclusive="left"))
    assert _kept_hours(store, "a") == every
    late = START + pd.Timedelta(minutes=30, seconds=30)
    store.write(make_batch([late], "power_watts", [1e5], {"site": "a", "meter": "facility"}))
    reach = late + Gaps().counter_lookback + pd.Timedelta(minutes=15)
    assert _kept_hours(store, "a") == [h for h in every if h > reach]
    assert _kept_hours(store, "b") == every


def test_other_gap_rules_do_not_read_rows_kept_under_these() -> None:
    store = DuckDBStore()
    stamps = pd.date_range(START, END, freq="1min")
    labels = {"site": "a", "meter": "facility"}
    seconds = (stamps - T0).total_seconds().to_numpy()
    store.write(make_batch(stamps, "energy_joules_total", seconds * 1e5, labels))
    keep_hourly_pue(store, ["a"], START, END + HOUR)
    store.gaps = Gaps(max_gap=pd.Timedelta(minutes=1))
    assert store.kept(NAME, _signature(store), ["a"], START, END) is None


def test_a_read_only_store_computes_and_keeps_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ro.duckdb"
    store = DuckDBStore(path)
    stamps = pd.date_range(START, END, freq="1min")
    seconds = (stamps - T0).total_seconds().to_numpy()
    for meter, kw in (("facility", 125.0), ("it_input", 100.0)):
        labels = {"site": "a", "meter": meter}
        store.write(make_batch(stamps, "energy_joules_total", seconds * kw * 1e3, labels))
    store.close()
    read_only = DuckDBStore(path, read_only=True)
    trend = pue_trend(read_only, SITES[:1], START, END, HOUR)
    assert trend["pue"].to_numpy() == pytest.approx(1.25)
    assert read_only.kept(NAME, _signature(read_only), ["a"], START, END) is None


def test_retention_drops_kept_rows_with_the_roll_ups(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "r.duckdb", retention=Retention(pd.Timedelta(days=1)))
    stamps = pd.date_range(START, END, freq="1min")
    seconds = (stamps - T0).total_seconds().to_numpy()
    labels = {"site": "a", "meter": "facility"}
    store.write(make_batch(stamps, "energy_joules_total", seconds * 1e5, labels))
    keep_hourly_pue(store, ["a"], START, END + HOUR)
    assert len(_kept_hours(store, "a")) == 12
    store.apply_retention(START + Retention().rollups + pd.Timedelta(hours=6))
    assert _kept_hours(store, "a") == list(
        pd.date_range(START + pd.Timedelta(hours=6), END, freq="h", inclusive="left")
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (START, START + pd.Timedelta(hours=5)),  # the pair ends after the period
        (START + pd.Timedelta(hours=5), END),  # the pair began before it
        (START + pd.Timedelta(hours=4), START + pd.Timedelta(hours=5)),  # inside the pair
    ],
)
def test_a_reset_pair_across_the_period_edge_is_filled_inside_it(
    start: pd.Timestamp, end: pd.Timestamp
) -> None:
    """A counter down from 03:00:15 to 06:00:15 (a reset pair of 3 h) while power reported:
    any period reaching into the pair is filled from power, as the pure definition does."""
    store = DuckDBStore()
    labels = {"site": "a", "meter": "it_input"}
    stamps = pd.date_range(START, END, freq="1min")
    down = (stamps > START + pd.Timedelta(hours=3, seconds=15)) & (
        stamps < START + pd.Timedelta(hours=6, seconds=15)
    )
    counter = stamps[~down].union([START + pd.Timedelta(hours=h, seconds=15) for h in (3, 6)])
    seconds = (counter - START).total_seconds().to_numpy()
    joules = np.where(counter > START + pd.Timedelta(hours=4), seconds - 6 * 3600, seconds) * 1e5
    store.write(make_batch(counter, "energy_joules_total", joules, labels))
    store.write(make_batch(stamps, "power_watts", [1e5] * len(stamps), labels))
    raw = {
        m: store.query(m, START, END + HOUR, labels=labels)
        for m in ("energy_joules_total", "power_watts")
    }
    want = interval_energy(
        raw["energy_joules_total"], raw["power_watts"], start=start, end=end, max_gap="15min"
    )
    with fresh_reads():
        got = read_meter_energy(store, start, end, labels=labels).iloc[0]
        hourly = read_meter_energy(store, start, end, step=HOUR, labels=labels)
    assert want.filled_from_power_s > 0
    assert got["energy_j"] == pytest.approx(want.value, rel=1e-9)
    assert got["energy_j"] == pytest.approx(1e5 * (end - start).total_seconds(), rel=1e-9)
    assert got["provenance"] == "mixed"
    assert hourly["energy_j"].sum() == pytest.approx(want.value, rel=1e-9)
