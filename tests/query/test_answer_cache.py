"""Answers kept per store until its next write: a write to the hours an answer covers is seen by
the next read, a re-write of stored samples keeps the answer, and a caller cannot change what
the next caller gets. The reset hours read from the roll-ups equal the generic query's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import runs_when_asked_at_once
from tests.query.test_energy_golden import T0, _site

from greenwatch.model import make_batch
from greenwatch.query import pue_trend, read_meter_energy, site_totals
from greenwatch.query._cache import cached
from greenwatch.store import DuckDBStore

END = T0 + pd.Timedelta(hours=2)
HOUR = pd.Timedelta(hours=1)
SITE = _site("dc-1")


def _counter(meter: str, kw: float, stamps: pd.DatetimeIndex) -> pd.DataFrame:
    joules = (stamps - T0).total_seconds().to_numpy() * kw * 1e3
    return make_batch(stamps, "energy_joules_total", joules, {"site": "dc-1", "meter": meter})


@pytest.fixture
def store() -> DuckDBStore:
    store = DuckDBStore()
    first_hour = pd.date_range(T0, T0 + HOUR, freq="1min")
    store.write(_counter("facility", 120.0, first_hour))
    store.write(_counter("it_input", 100.0, first_hour))
    return store


def test_a_write_is_seen_by_the_next_read(store: DuckDBStore) -> None:
    before = read_meter_energy(store, T0, END, labels={"site": "dc-1"}).set_index("meter")
    trend = pue_trend(store, [SITE], T0, END, HOUR)
    totals = site_totals(store, [SITE], T0, END)
    assert before.at["facility", "energy_j"] == pytest.approx(120e3 * 3600)
    assert np.isnan(trend["pue"].iloc[1])
    second_hour = pd.date_range(T0 + HOUR, END, freq="1min")
    store.write(_counter("facility", 120.0, second_hour))
    store.write(_counter("it_input", 100.0, second_hour))
    after = read_meter_energy(store, T0, END, labels={"site": "dc-1"}).set_index("meter")
    assert after.at["facility", "energy_j"] == pytest.approx(120e3 * 7200)
    assert pue_trend(store, [SITE], T0, END, HOUR)["pue"].iloc[1] == pytest.approx(1.2)
    again = site_totals(store, [SITE], T0, END)
    assert again.at[0, "facility_j"] == pytest.approx(2 * totals.at[0, "facility_j"])


def test_rewriting_stored_samples_keeps_the_answer(store: DuckDBStore) -> None:
    generation = store.generation
    first = read_meter_energy(store, T0, END, labels={"site": "dc-1"})
    assert store.write(_counter("facility", 120.0, pd.date_range(T0, T0 + HOUR, freq="1min"))) == 0
    assert store.generation == generation
    pd.testing.assert_frame_equal(read_meter_energy(store, T0, END, labels={"site": "dc-1"}), first)


def test_a_caller_cannot_change_the_next_answer(store: DuckDBStore) -> None:
    first = pue_trend(store, [SITE], T0, END, HOUR)
    kept = first.copy()
    first.loc[:, "facility_j"] = 0.0
    pd.testing.assert_frame_equal(pue_trend(store, [SITE], T0, END, HOUR), kept)


def test_reset_hours_are_the_hours_with_a_reset() -> None:
    store = DuckDBStore()
    stamps = pd.date_range(T0, END, freq="1min")
    seconds = (stamps - T0).total_seconds().to_numpy()
    reset = (T0 + pd.Timedelta(hours=1, seconds=30) - T0).total_seconds()
    joules = np.where(seconds >= reset, seconds - reset, seconds) * 110e3
    labels = {"site": "dc-1", "meter": "facility"}
    store.write(make_batch(stamps, "energy_joules_total", joules, labels))
    aggs = ["resets", "reset_start", "reset_end"]
    every = store.query("energy_joules_total", T0, END, labels=labels, step=HOUR, agg=aggs)
    found = store.reset_hours("energy_joules_total", T0, END, labels)
    expected = every[every["resets"] > 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(found, expected)
    assert found["ts"].tolist() == [T0 + HOUR]


def test_a_write_through_another_store_over_the_file_is_seen(tmp_path: Path) -> None:
    reader = DuckDBStore(tmp_path / "greenwatch.duckdb")
    writer = DuckDBStore(tmp_path / "greenwatch.duckdb")
    writer.write(_counter("facility", 120.0, pd.date_range(T0, T0 + HOUR, freq="1min")))
    before = read_meter_energy(reader, T0, END, labels={"site": "dc-1"})
    writer.write(_counter("facility", 120.0, pd.date_range(T0 + HOUR, END, freq="1min")))
    after = read_meter_energy(reader, T0, END, labels={"site": "dc-1"})
    assert after.at[0, "energy_j"] == pytest.approx(2 * before.at[0, "energy_j"])


def test_callers_asking_at_once_share_one_read(store: DuckDBStore) -> None:
    answer = pd.DataFrame({"value": [1.0]})
    runs = runs_when_asked_at_once(lambda slow: cached(store, ("shared", T0), slow), answer)
    assert runs == 1, "one read for callers of one answer at once"
    assert cached(store, ("shared", T0), lambda: answer.iloc[:0])["value"].iloc[0] == 1.0
