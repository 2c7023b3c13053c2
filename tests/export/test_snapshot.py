"""KPI snapshots on a hand-built store: the figures ``greenwatch kpi`` gives, in export units."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from greenwatch.export import FIGURES, take_snapshot, window_bounds
from greenwatch.inventory import Inventory, Link, Location, Site, Targets
from greenwatch.model import make_batch
from greenwatch.query import Scope, kpi_answer
from greenwatch.store import DuckDBStore

T0 = pd.Timestamp("2026-06-01T00:00:00Z")
END = T0 + pd.Timedelta(hours=2)
KWH = 3.6e6
WINDOW = {"2h": pd.Timedelta(hours=2)}


def _site(sid: str, hub: str | None, region: str, category: int, kw: float) -> Site:
    return Site(
        id=sid,
        name=sid,
        kind="hub_cluster",
        hub=hub,
        region=region,
        province="Guizhou",
        location=Location(lat=30.0, lon=110.0),
        it_capacity_kw=kw,
        pue_category=category,
        targets=Targets(pue=1.25),
    )


INVENTORY = Inventory(
    sites=(
        _site("big-1", "guizhou", "west", 2, 3000),
        _site("small-1", "chengyu", "east", 3, 1000),
        _site("dark-1", "chengyu", "east", 2, 500),  # no data at all
    ),
    links=(Link(id="big-1--small-1", a="big-1", b="small-1", capacity_bps=1e9),),
)
POWER_KW = {
    ("big-1", "facility"): 1100.0,
    ("big-1", "it_pdu_output"): 1000.0,
    ("big-1", "cooling"): 80.0,
    ("small-1", "facility"): 20.0,
    ("small-1", "it_input"): 10.0,
}
MINUTES = pd.date_range(T0, END, freq="1min")  # 121 samples: both ends included


def _ramp(metric: str, per_minute: float, labels: dict[str, str]) -> pd.DataFrame:
    return make_batch(MINUTES, metric, np.arange(len(MINUTES)) * per_minute, labels)


@pytest.fixture(scope="module")
def store() -> DuckDBStore:
    store = DuckDBStore(":memory:")
    for (site, meter), kw in POWER_KW.items():
        store.write(_ramp("energy_joules_total", kw * 1000 * 60, {"site": site, "meter": meter}))
    store.write(_ramp("water_litres_total", 50.0, {"site": "big-1", "meter": "site_inflow"}))
    store.write(
        _ramp("green_energy_joules_total", 550e3 * 60, {"site": "big-1", "instrument": "ppa"})
    )
    for site, share in (("big-1", 0.5), ("small-1", 0.9)):
        labels = {"site": site, "resource": "it_capacity"}
        store.write(make_batch(MINUTES, "utilisation_ratio", np.full(len(MINUTES), share), labels))
    # 60 MB a minute out of big-1 (8 Mbit/s over 1 Gbit/s = 0.008), 30 MB back
    for metric, mb in (("link_transmit_bytes_total", 60e6), ("link_receive_bytes_total", 30e6)):
        labels = {"site": "big-1", "link": "big-1--small-1", "interface": "wan0"}
        store.write(_ramp(metric, mb, labels))
    return store


def _value(snapshot: object, figure: str, **labels: str) -> float:
    (point,) = snapshot.find(figure, window="2h", **labels)  # type: ignore[attr-defined]
    return float(point.value)


def test_national_pue_is_what_greenwatch_kpi_answers(store: DuckDBStore) -> None:
    snapshot = take_snapshot(store, INVENTORY, END, WINDOW)
    (answer,) = kpi_answer(store, INVENTORY, "pue", Scope("national"), T0, END)
    assert _value(snapshot, "pue", scope="national") == answer.value
    assert answer.value == pytest.approx(1120 / 1010, rel=1e-12)
    (point,) = snapshot.find("pue", scope="national")
    assert point.coverage == answer.coverage
    assert _value(snapshot, "facility_energy", scope="national") == pytest.approx(1120 * 2 * KWH)
    assert _value(snapshot, "it_energy", scope="national") == pytest.approx(1010 * 2 * KWH)


def test_the_window_is_the_kpi_period_floored_to_the_minute(store: DuckDBStore) -> None:
    (window,) = window_bounds(END + pd.Timedelta(seconds=42), WINDOW)
    assert (window.start, window.end) == (T0, END)
    snapshot = take_snapshot(store, INVENTORY, END + pd.Timedelta(seconds=42), WINDOW)
    assert snapshot.windows == (window,)
    assert snapshot.taken_at == END + pd.Timedelta(seconds=42)


def test_site_figures_and_units(store: DuckDBStore) -> None:
    snapshot = take_snapshot(store, INVENTORY, END, WINDOW)
    assert _value(snapshot, "pue", site="big-1") == pytest.approx(1.1)
    assert _value(snapshot, "pue", site="small-1") == pytest.approx(2.0)
    assert _value(snapshot, "ppue", site="big-1", subsystem="cooling") == pytest.approx(1.08)
    assert _value(snapshot, "wue", site="big-1") == pytest.approx(50 * 120 / (1000 * 2))
    assert _value(snapshot, "green_share", site="big-1") == pytest.approx(550 / 1100)
    (point,) = snapshot.find("pue", site="big-1")
    assert dict(point.labels) == {
        "scope": "site",
        "site": "big-1",
        "hub": "guizhou",
        "region": "west",
        "window": "2h",
    }


def test_carbon_is_exported_in_grams(store: DuckDBStore) -> None:
    snapshot = take_snapshot(store, INVENTORY, END, WINDOW)
    location, market = kpi_answer(store, INVENTORY, "carbon", Scope("national"), T0, END)
    assert _value(snapshot, "carbon", scope="national", basis="location") == pytest.approx(
        location.value * 1000, rel=1e-12
    )
    assert _value(snapshot, "carbon", scope="national", basis="market") == pytest.approx(
        market.value * 1000, rel=1e-12
    )
    (cue,) = kpi_answer(store, INVENTORY, "cue", Scope("site", "big-1"), T0, END)
    assert _value(snapshot, "cue", site="big-1") == pytest.approx(cue.value * 1000, rel=1e-12)
    assert FIGURES["carbon"].prom == "greenwatch_carbon_grams"


def test_a_site_without_data_has_coverage_zero_and_is_counted_out(store: DuckDBStore) -> None:
    snapshot = take_snapshot(store, INVENTORY, END, WINDOW)
    (dark,) = snapshot.find("pue", site="dark-1")
    assert math.isnan(dark.value)
    assert dark.coverage == 0.0
    excluded = snapshot.find("sites", scope="national", figure="pue", status="excluded")
    included = snapshot.find("sites", scope="national", figure="pue", status="included")
    assert (excluded[0].value, included[0].value) == (1.0, 2.0)
    # the chengyu hub keeps small-1 only: its PUE is small-1's
    assert _value(snapshot, "pue", scope="hub", hub="chengyu") == pytest.approx(2.0)


def test_occupancy_weighs_sites_by_it_capacity(store: DuckDBStore) -> None:
    snapshot = take_snapshot(store, INVENTORY, END, WINDOW)
    assert _value(snapshot, "occupancy", site="big-1") == pytest.approx(0.5)
    national = (0.5 * 3000 + 0.9 * 1000) / 4000  # dark-1 has no mean: left out of the mean
    assert _value(snapshot, "occupancy", scope="national") == pytest.approx(national)
    coverage = {p.label_dict().get("site"): p.coverage for p in snapshot.find("occupancy")}
    assert coverage["dark-1"] == 0.0
    assert coverage["big-1"] == pytest.approx(1.0)
    weighted = (3000 * coverage["big-1"] + 1000 * coverage["small-1"]) / 4500  # type: ignore[operator]
    assert coverage[None] == pytest.approx(weighted)  # national: capacity-weighted coverage


def test_link_utilisation_is_the_busier_direction(store: DuckDBStore) -> None:
    snapshot = take_snapshot(store, INVENTORY, END, WINDOW)
    assert _value(snapshot, "link_utilisation", link="big-1--small-1") == pytest.approx(
        60e6 * 8 / 60 / 1e9
    )


def test_targets(store: DuckDBStore) -> None:
    snapshot = take_snapshot(store, INVENTORY, END, WINDOW)
    targets = {p.label_dict().get("site", "national"): p.value for p in snapshot.find("pue_target")}
    assert targets == {"national": 1.5, "big-1": 1.25, "small-1": 1.25, "dark-1": 1.25}


def test_every_point_names_a_known_figure_and_window(store: DuckDBStore) -> None:
    snapshot = take_snapshot(store, INVENTORY, END)
    assert {w.name for w in snapshot.windows} == {"1h", "24h"}
    for point in snapshot.points:
        assert point.figure in FIGURES
        labels = point.label_dict()
        assert point.figure == "pue_target" or labels["window"] in {"1h", "24h"}
        assert point.coverage is None or 0.0 <= point.coverage <= 1.0


@pytest.mark.parametrize("kpi", ["pue", "wue", "green_share"])
def test_every_group_figure_is_what_greenwatch_kpi_answers(store: DuckDBStore, kpi: str) -> None:
    snapshot = take_snapshot(store, INVENTORY, END, WINDOW)
    name = {"green_share": "ref"}.get(kpi, kpi)
    for scope in (Scope("hub", "guizhou"), Scope("region", "east"), Scope("national")):
        (answer,) = kpi_answer(store, INVENTORY, name, scope, T0, END)
        labels = {} if scope.level == "national" else {scope.level: scope.key}
        (point,) = snapshot.find(kpi, scope=scope.level, window="2h", **labels)
        if answer.value != answer.value:
            assert math.isnan(point.value)
            continue
        assert point.value == pytest.approx(answer.value, rel=1e-12), scope
        assert point.coverage == pytest.approx(answer.coverage, rel=1e-12), scope
