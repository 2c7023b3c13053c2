"""A report's figures are the KPI API's figures for the same period, bit for bit."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from greenwatch.inventory import load_inventory
from greenwatch.query import Scope, kpi_answer
from greenwatch.reports import Report, build_report, parse_period, parse_scope, render_csv
from greenwatch.reports._render import csv_cell
from greenwatch.store import DuckDBStore

SITES = ("sc-wuxi", "shaoguan-1", "guian-1")
HUBS = ("guizhou", "greater-bay", "inner-mongolia")


@pytest.fixture(scope="module")
def october(month_store: DuckDBStore) -> Report:
    inventory = load_inventory()
    return build_report(
        month_store, inventory, parse_period("2026-10"), parse_scope("national", inventory)
    )


def _api(store: DuckDBStore, kpi: str, scope: str, period: str = "2026-10") -> list[float]:
    inventory = load_inventory()
    p = parse_period(period)
    answers = kpi_answer(
        store, inventory, kpi, Scope.parse(scope, inventory), p.start_utc, p.end_utc
    )
    return [a.value for a in answers]


def _same(mine: float, api: float) -> bool:
    return (math.isnan(mine) and math.isnan(api)) or mine == api


def test_national_summary_equals_the_kpi_api(month_store: DuckDBStore, october: Report) -> None:
    summary = october.tables["summary"].set_index("figure")["value"]
    csv = {
        line.split(",")[0]: line.split(",")[1]
        for line in render_csv(october)["greenwatch-national-2026-10--summary.csv"]
        .decode()
        .splitlines()[1:]
    }
    location, market = _api(month_store, "carbon", "national")
    expected = {
        "pue": _api(month_store, "pue", "national")[0],
        "co2_location": location,
        "co2_market": market,
        "it_energy": _api(month_store, "it_energy", "national")[0],
        "wue": _api(month_store, "wue", "national")[0],
        "cue": _api(month_store, "cue", "national")[0],
        "ref": _api(month_store, "ref", "national")[0],
        "hub_green_share": _api(month_store, "ref", "kind:hub_cluster")[0],
    }
    for figure, value in expected.items():
        assert summary[figure] == value, figure
        assert csv[figure] == csv_cell(value), figure
    # sc-wuxi lost its facility meter for two days: out of the national figures, as in the API.
    assert tuple(s for s, _ in october.current.excluded) == ("sc-wuxi",)


def test_hub_table_equals_the_kpi_api(month_store: DuckDBStore, october: Report) -> None:
    hubs = october.tables["hubs"].set_index("hub")
    assert len(hubs) == 8
    for hub in HUBS:
        row = hubs.loc[hub]
        scope = f"hub:{hub}"
        location, market = _api(month_store, "carbon", scope)
        assert row["pue"] == _api(month_store, "pue", scope)[0]
        assert row["co2_location_kg"] == location
        assert row["co2_market_kg"] == market
        assert row["it_kwh"] == _api(month_store, "it_energy", scope)[0]
        assert row["green_share"] == _api(month_store, "ref", scope)[0]


@pytest.mark.parametrize("site", SITES)
def test_site_rows_equal_the_kpi_api(month_store: DuckDBStore, october: Report, site: str) -> None:
    row = october.tables["sites"].set_index("site").loc[site]
    scope = f"site:{site}"
    location, market = _api(month_store, "carbon", scope)
    for column, api in (
        ("pue", _api(month_store, "pue", scope)[0]),
        ("wue", _api(month_store, "wue", scope)[0]),
        ("cue", _api(month_store, "cue", scope)[0]),
        ("green_share", _api(month_store, "ref", scope)[0]),
        ("it_kwh", _api(month_store, "it_energy", scope)[0]),
        ("co2_location_kg", location),
        ("co2_market_kg", market),
    ):
        assert _same(float(row[column]), api), column


def test_hub_and_site_scopes_equal_the_kpi_api(month_store: DuckDBStore) -> None:
    inventory = load_inventory()
    period = parse_period("2026-W42")
    for scope in ("hub:guizhou", "site:sc-wuxi"):
        report = build_report(month_store, inventory, period, parse_scope(scope, inventory))
        summary = report.tables["summary"].set_index("figure")["value"]
        assert summary["pue"] == _api(month_store, "pue", scope, "2026-W42")[0]
        location, market = _api(month_store, "carbon", scope, "2026-W42")
        assert (summary["co2_location"], summary["co2_market"]) == (location, market)
        assert summary["pue_previous"] == _api(month_store, "pue", scope, "2026-W41")[0]
    assert pd.notna(summary["pue"])
