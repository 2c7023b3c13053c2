"""No data is null, never zero; a network figure says which share of its scope it rests on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenwatch.inventory import load_inventory
from greenwatch.model import make_batch
from greenwatch.query import Scope, kpi_answer
from greenwatch.reports import build_report, parse_period, parse_scope
from greenwatch.store import DuckDBStore

T0 = pd.Timestamp("2026-05-31T16:00:00Z")
END = T0 + pd.Timedelta(days=1)  # the report's day, Asia/Shanghai


@pytest.fixture
def one_site(tmp_path: Path) -> DuckDBStore:
    """Of the 42 built-in sites only the first reports: facility 1.2 MW, IT 1 MW."""
    inventory = load_inventory()
    site = inventory.sites[0]
    it_meter = {1: "it_ups_output", 2: "it_pdu_output", 3: "it_input"}[site.pue_category]
    store = DuckDBStore(tmp_path / "one.duckdb")
    ts = pd.date_range(T0, END, freq="1min")
    seconds = (ts - T0).total_seconds().to_numpy()
    for meter, watts in (("facility", 1.2e6), (it_meter, 1.0e6)):
        store.write(
            make_batch(
                ts, "energy_joules_total", seconds * watts, {"site": site.id, "meter": meter}
            )
        )
    return store


def test_national_figure_over_one_of_42_sites_is_shown_without_verdict(
    one_site: DuckDBStore,
) -> None:
    inventory = load_inventory()
    assert len(inventory.sites) == 42
    (answer,) = kpi_answer(one_site, inventory, "pue", Scope("national"), T0, END)
    assert answer.value == pytest.approx(1.2)
    assert answer.coverage == 1.0
    assert (answer.sites, answer.expected_sites) == (1, 42)
    assert answer.site_share == pytest.approx(1 / 42)
    capacity = inventory.sites[0].it_capacity_kw / sum(s.it_capacity_kw for s in inventory.sites)
    assert answer.capacity_share == pytest.approx(capacity)
    assert answer.published is False
    record = answer.to_dict()
    assert (record["published"], record["expected_sites"]) == (False, 42)
    # At a minimum share the one site meets, the same figure is published.
    (loose,) = kpi_answer(
        one_site, inventory, "pue", Scope("national"), T0, END, min_share=capacity / 2
    )
    assert loose.published is True
    report = build_report(
        one_site, inventory, parse_period("2026-06-01"), parse_scope("national", inventory)
    )
    pue_row = report.tables["summary"].set_index("figure").loc["pue"]
    assert pue_row["verdict"] == "partial scope"
    assert (pue_row["sites"], pue_row["expected_sites"]) == (1, 42)


def test_no_data_is_null_not_zero(one_site: DuckDBStore) -> None:
    inventory = load_inventory()
    later = (END + pd.Timedelta(days=2), END + pd.Timedelta(days=3))
    (it,) = kpi_answer(one_site, inventory, "it_energy", Scope("national"), *later)
    assert it.to_dict()["value"] is None
    assert it.coverage == 0.0
    location, market = kpi_answer(one_site, inventory, "carbon", Scope("national"), *later)
    assert location.to_dict()["value"] is None
    assert market.to_dict()["value"] is None
    (pue,) = kpi_answer(one_site, inventory, "pue", Scope("national"), *later)
    assert pue.to_dict()["value"] is None
    assert pue.published is False
    other = inventory.sites[1].id
    (site_it,) = kpi_answer(one_site, inventory, "it_energy", Scope("site", other), T0, END)
    assert site_it.to_dict()["value"] is None
    assert not np.isfinite(site_it.value)
