"""The KPI query layer on a hand-built store: ratios of summed energies, coverage, CLI and API."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenwatch.cli import main
from greenwatch.ingest import Ingest
from greenwatch.inventory import Inventory, Location, Site, Targets
from greenwatch.model import make_batch
from greenwatch.query import Scope, ScopeError, kpi_answer, pue_trend, site_totals
from greenwatch.service import ApiContext
from greenwatch.service._api_kpi import register
from greenwatch.service._http import create_flask
from greenwatch.store import DuckDBStore

T0 = pd.Timestamp("2026-06-01T00:00:00Z")
END = T0 + pd.Timedelta(hours=2)
KWH = 3.6e6


def _site(sid: str, hub: str, region: str, category: int, province: str) -> Site:
    return Site(
        id=sid,
        name=sid,
        kind="hub_cluster",
        hub=hub,
        region=region,
        province=province,
        location=Location(lat=30.0, lon=110.0),
        it_capacity_kw=1000,
        pue_category=category,
        targets=Targets(pue=1.25),
    )


INVENTORY = Inventory(
    sites=(
        _site("big-1", "guizhou", "west", 2, "Guizhou"),
        _site("small-1", "chengyu", "east", 3, "Sichuan"),
    )
)
# kW per meter: big: facility 1100, it_pdu_output 1000 (PUE 1.1); small: facility 20, it_input 10.
POWER_KW = {
    ("big-1", "facility"): 1100.0,
    ("big-1", "it_pdu_output"): 1000.0,
    ("small-1", "facility"): 20.0,
    ("small-1", "it_input"): 10.0,
}


def _counter(site: str, meter: str, kw: float) -> pd.DataFrame:
    ts = pd.date_range(T0, END, freq="1min")  # 121 samples: both ends included
    joules = np.arange(len(ts)) * kw * 1000 * 60
    return make_batch(ts, "energy_joules_total", joules, {"site": site, "meter": meter})


@pytest.fixture
def store(tmp_path: Path) -> DuckDBStore:
    store = DuckDBStore(tmp_path / "greenwatch.duckdb")
    for (site, meter), kw in POWER_KW.items():
        store.write(_counter(site, meter, kw))
    store.write(
        make_batch(
            pd.date_range(T0, END, freq="1min"),
            "green_energy_joules_total",
            np.arange(121) * 550e3 * 60,
            {"site": "big-1", "instrument": "ppa"},
        )
    )
    return store


def test_national_pue_is_the_ratio_of_summed_energies(store: DuckDBStore) -> None:
    (answer,) = kpi_answer(store, INVENTORY, "pue", Scope("national"), T0, END)
    assert answer.value == pytest.approx((1100 + 20) / (1000 + 10), rel=1e-12)
    assert answer.value != pytest.approx((1.1 + 2.0) / 2)  # the mean of site PUEs is wrong
    assert answer.coverage == pytest.approx(1.0)
    assert answer.inputs["numerator"] == pytest.approx(1120 * 2 * KWH)
    assert answer.category == "2,3"
    assert answer.sites == 2
    assert answer.interim


def test_site_pue_uses_its_category_meter(store: DuckDBStore) -> None:
    (small,) = kpi_answer(store, INVENTORY, "pue", Scope("site", "small-1"), T0, END)
    assert small.value == pytest.approx(2.0)
    assert small.label.startswith("PUE3")
    (dcie,) = kpi_answer(store, INVENTORY, "dcie", Scope("site", "big-1"), T0, END)
    assert dcie.value == pytest.approx(1 / 1.1)


def test_carbon_location_and_market(store: DuckDBStore) -> None:
    location, market = kpi_answer(store, INVENTORY, "carbon", Scope("hub", "guizhou"), T0, END)
    facility_kwh = 1100 * 2
    assert location.value == pytest.approx(facility_kwh * 0.5683)
    assert market.value == pytest.approx((facility_kwh - 550 * 2) * 0.5683)
    assert "2023" in location.definition


def test_missing_data_lowers_coverage_and_is_reported(store: DuckDBStore) -> None:
    later = END + pd.Timedelta(hours=2)
    (answer,) = kpi_answer(store, INVENTORY, "pue", Scope("national"), T0, later)
    assert answer.sites == 0
    assert {e["site"] for e in answer.excluded} == {"big-1", "small-1"}
    totals = site_totals(store, INVENTORY, T0, later)
    assert totals["facility_coverage"].tolist() == pytest.approx([0.5, 0.5])


def test_pue_trend_per_hour(store: DuckDBStore) -> None:
    trend = pue_trend(store, INVENTORY.sites, T0, END, pd.Timedelta(hours=1))
    assert trend["pue"].tolist() == pytest.approx([1120 / 1010] * 2)


def test_bad_scope_names_what_is_known() -> None:
    with pytest.raises(ScopeError, match="unknown hub 'atlantis'"):
        Scope.parse("hub:atlantis", INVENTORY)
    with pytest.raises(ScopeError, match="bad scope"):
        Scope.parse("planet", INVENTORY)


def test_kpi_api(store: DuckDBStore) -> None:
    app = create_flask(lambda: True)
    register(app, ApiContext(store, INVENTORY, Ingest(store.write), lambda: END))
    client = app.test_client()
    got = client.get("/api/v1/kpi", query_string={"kpi": "pue", "scope": "site:big-1"})
    assert got.status_code == 200
    assert got.get_json()["data"][0]["value"] == pytest.approx(1.1)
    csv = client.get("/api/v1/kpi", query_string={"kpi": "wue", "format": "csv"})
    assert csv.status_code == 200
    assert csv.data.decode().startswith("kpi,scope,start,end,value")
    bad = client.get("/api/v1/kpi", query_string={"kpi": "happiness"})
    assert bad.status_code == 400
    assert "unknown KPI" in bad.get_json()["message"]
    empty = client.get("/api/v1/kpi", query_string={"start": "2026-06-02", "end": "2026-06-01"})
    assert empty.status_code == 400


def test_kpi_cli_json(
    store: DuckDBStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store.close()
    inv = tmp_path / "inv.yaml"
    inv.write_text(
        json.dumps(INVENTORY.model_dump(mode="json", exclude_none=True)), encoding="utf-8"
    )
    args = ["kpi", "pue", "--national", "--start", str(T0), "--end", str(END)]
    args += ["--data-dir", str(tmp_path), "--inventory", str(inv), "--format", "json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["value"] == pytest.approx(1120 / 1010)
    assert main([*args[:-2], "--format", "table"]) == 0
    assert "ratio of summed totals" in capsys.readouterr().out
    assert (
        main(
            ["kpi", "pue", "--hub", "nowhere", "--data-dir", str(tmp_path), "--inventory", str(inv)]
        )
        == 2
    )
