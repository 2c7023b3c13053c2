"""Retention on a simulated two-year store at coarse (hourly) resolution: raw samples go after
their period, KPIs over older months still answer from the roll-ups with the same figures,
writes into the past that is gone are refused, and the file stops growing."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.inventory import Inventory, load_inventory
from greenwatch.query import Scope, kpi_answer
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore, Gaps, Retention, StoreError

START = pd.Timestamp("2024-01-01T00:00Z")
STEP = pd.Timedelta(hours=1)
# Short periods so two simulated years reach the steady state: raw 100 days, roll-ups 200.
RETENTION = Retention(pd.Timedelta(days=100), pd.Timedelta(days=200))


def _used_blocks(store: DuckDBStore) -> int:
    return int(store._con.execute("PRAGMA database_size").fetchall()[0][4])


def _pue(store: DuckDBStore, start: pd.Timestamp, end: pd.Timestamp) -> tuple[float, float]:
    inventory = load_inventory()
    scope = Scope.parse("site:guian-1", inventory)
    answer = kpi_answer(store, inventory, "pue", scope, start, end)[0].to_dict()
    return answer["value"], answer["coverage"]


def test_two_years_under_retention(tmp_path: Path) -> None:
    inventory = load_inventory()
    one_site = inventory.model_copy(
        update={"sites": tuple(s for s in inventory.sites if s.id == "guian-1"), "links": ()}
    )
    sim = Simulator(one_site, seed=0, start=START)
    path = tmp_path / "greenwatch.duckdb"
    # Hourly samples: pairs an hour apart count as covered.
    store = DuckDBStore(path, gaps=Gaps(max_gap=pd.Timedelta(hours=2)), retention=RETENTION)
    old = (pd.Timestamp("2025-08-01T00:00Z"), pd.Timestamp("2025-09-01T00:00Z"))
    sizes: dict[int, tuple[int, int]] = {}
    before: tuple[float, float] | None = None
    end = START
    for month in range(24):
        end += pd.offsets.MonthBegin(1)
        store.write(sim.advance(end, STEP))
        store.apply_retention(end)
        if end == pd.Timestamp("2025-10-01T00:00Z"):
            before = _pue(store, *old)  # the month is settled: the next one is written
        sizes[month] = (os.path.getsize(path), _used_blocks(store))
    assert before is not None
    assert before[0] > 1.0
    assert before[1] > 0.99
    # 2026-01-01 minus 100 days: August 2025 has no raw samples left, its KPI is the same.
    raw = store.query("power_watts", *old, labels={"site": "guian-1"})
    assert raw.empty
    assert _pue(store, *old) == pytest.approx(before, rel=1e-12)
    kept = store.query("power_watts", end - pd.Timedelta(days=99), end, labels={"site": "guian-1"})
    assert not kept.empty
    with pytest.raises(StoreError, match="older than the raw samples this store keeps"):
        store.write(sim_batch_at(one_site, old[0]))
    # Steady state from month 10 on (raw 100 days, roll-ups 200): the file does not keep
    # growing with the months written after it.
    file_then, used_then = sizes[11]
    file_now, used_now = sizes[23]
    assert used_now <= 1.3 * used_then
    assert file_now <= 1.3 * file_then
    store.close()


def sim_batch_at(inventory: Inventory, at: pd.Timestamp) -> pd.DataFrame:
    """One hour of samples from ``at`` (a fresh simulator)."""
    sim = Simulator(inventory, seed=1, start=at)
    return sim.advance(at + pd.Timedelta(hours=1), STEP)
