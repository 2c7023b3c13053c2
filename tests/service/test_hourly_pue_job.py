"""serve keeps each site's hourly PUE inputs of settled hours on a schedule, so a restarted
server answers a month's hourly trend from kept rows; the rows equal a fresh computation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tests.conftest import free_port

from greenwatch.inventory import load_inventory
from greenwatch.query import fresh_reads, pue_trend
from greenwatch.query._hourly import NAME, _signature
from greenwatch.service import Service, backfill
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

START = pd.Timestamp("2026-10-01T00:00:00Z")
HOUR = pd.Timedelta(hours=1)


def test_the_scheduled_job_keeps_settled_hours(tmp_path: Path) -> None:
    inventory = load_inventory()
    sites = inventory.sites[:3]
    store = DuckDBStore(tmp_path / "greenwatch.duckdb")
    end = START + pd.Timedelta(hours=12)
    backfill(Simulator(inventory, seed=0, start=START), store.write, end)
    now = end + pd.Timedelta(hours=1)
    service = Service(
        store,
        inventory,
        port=free_port(),
        data_dir=tmp_path,
        alerting=False,
        clock=lambda: now,
    )
    service.start()
    try:
        assert service.scheduler.get_job("hourly-pue") is not None
        service.keep_hourly_pue()
        ids = [s.id for s in sites]
        kept = store.kept(NAME, _signature(store), ids, START, end)
        assert kept is not None
        # Hours that ended over 6 h 15 min (a sample's reach) before now are kept, not later.
        hours = sorted(set(pd.to_datetime(kept["bucket"], utc=True)))
        assert hours == list(pd.date_range(START, now - pd.Timedelta(hours=8), freq="h"))
        with fresh_reads():
            from_kept = pue_trend(store, sites, START, end, HOUR)
    finally:
        service.stop()
    plain = DuckDBStore(tmp_path / "greenwatch.duckdb", read_only=True)
    with fresh_reads():
        computed = pue_trend(plain, sites, START, end, HOUR)
    pd.testing.assert_frame_equal(from_kept, computed, rtol=1e-12)
