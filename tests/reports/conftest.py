"""Stores for the report tests: the hand-built golden dataset and a simulated month."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.inventory import Inventory, load_inventory
from greenwatch.reports import ArchivedReport, make_report, parse_period, parse_scope
from greenwatch.service import backfill
from greenwatch.simulate import Scenario, Simulator
from greenwatch.store import DuckDBStore
from tests.reports._golden import golden_inventory, golden_store

MONTH_START = pd.Timestamp("2026-09-30T16:00Z")  # 2026-10-01T00:00+08:00
MONTH_END = pd.Timestamp("2026-10-31T17:00Z")  # an hour past the month, so its last hour is whole


@pytest.fixture
def golden() -> Iterator[tuple[DuckDBStore, Inventory]]:
    store = golden_store()
    yield store, golden_inventory()
    store.close()


@pytest.fixture
def golden_data_dir(tmp_path: Path) -> Path:
    """A data directory whose store holds the golden dataset (for the CLI)."""
    golden_store(tmp_path / "data" / "greenwatch.duckdb").close()
    return tmp_path / "data"


@pytest.fixture(scope="session")
def month_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    """October 2026 of the simulated national network at 5-minute steps (~10 M samples), with
    a facility-meter dropout at sc-wuxi, a chiller failure at shaoguan-1 and, as the month
    ends, one in sixteen of guian-1's GPUs out of the collectors' sight."""
    path = tmp_path_factory.mktemp("month") / "greenwatch.duckdb"
    store = DuckDBStore(path)
    scenarios = [
        Scenario(
            "meter_dropout",
            "sc-wuxi",
            pd.Timestamp("2026-10-12T02:00Z"),
            pd.Timestamp("2026-10-14T02:00Z"),
        ),
        Scenario(
            "chiller_failure",
            "shaoguan-1",
            pd.Timestamp("2026-10-20T02:00Z"),
            pd.Timestamp("2026-10-20T10:00Z"),
        ),
        Scenario("device_loss", "guian-1", pd.Timestamp("2026-10-31T12:00Z"), MONTH_END),
    ]
    sim = Simulator(load_inventory(), seed=0, start=MONTH_START, scenarios=scenarios)
    backfill(sim, store.write, MONTH_END, step=pd.Timedelta(minutes=5))
    # DuckDB sums doubles on several threads in no fixed order, so two reads of the same
    # 30-day total may differ in the last bit (a store issue, reported). One thread makes every
    # read of the store identical, so report and KPI API can be held to bit-identical figures.
    store._con.execute("SET threads = 1")
    yield store
    store.close()


@pytest.fixture(scope="session")
def month_report(
    month_store: DuckDBStore, tmp_path_factory: pytest.TempPathFactory
) -> ArchivedReport:
    """The national report of the simulated October in HTML, PDF and CSV, archived once."""
    inventory = load_inventory()
    return make_report(
        month_store,
        inventory,
        parse_period("2026-10"),
        parse_scope("national", inventory),
        formats=("html", "pdf", "csv"),
        archive_dir=tmp_path_factory.mktemp("archive"),
        generated_at=pd.Timestamp("2026-11-01T02:00+08:00"),
    )
