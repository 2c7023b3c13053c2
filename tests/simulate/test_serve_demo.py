"""The demo in protocol mode: live samples come from real collectors polling the simulated
centres, and land on exactly the series the backfill wrote (plus collector health)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.cli._simulate import serve_demo_over_protocols
from greenwatch.service import backfill
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore
from tests.conftest import free_port
from tests.simulate._network import small_network

pytestmark = pytest.mark.integration
HEALTH = {"collector_up", "collector_duration_seconds"}


def _series(store: DuckDBStore) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    table = store.series()
    labels = [c for c in table.columns if c != "metric"]
    return {
        (row["metric"], tuple(sorted((k, str(row[k])) for k in labels if pd.notna(row[k]))))
        for row in table.to_dict("records")
    }


@pytest.fixture
def stop_after_start() -> Iterator[Callable[[str], None]]:
    """An ``announce`` that SIGTERMs this process (the demo's way to stop) a few seconds
    after the service says it is serving; the first polls run at once when it starts."""
    previous = signal.getsignal(signal.SIGTERM)
    timers: list[threading.Timer] = []

    def announce(text: str) -> None:
        if "serving the dashboard" in text:
            timers.append(threading.Timer(5.0, os.kill, (os.getpid(), signal.SIGTERM)))
            timers[-1].start()

    yield announce
    for timer in timers:
        timer.cancel()
    signal.signal(signal.SIGTERM, previous)


def test_live_samples_continue_the_backfilled_series(
    tmp_path: Path, stop_after_start: Callable[[str], None]
) -> None:
    inventory = small_network()
    path = tmp_path / "greenwatch.duckdb"
    end = pd.Timestamp.now(tz="UTC").floor("min")
    sim = Simulator(inventory, seed=5, start=end - pd.Timedelta(hours=2))
    store = DuckDBStore(path)
    backfill(sim, store.write, end)
    backfilled = _series(store)
    started = pd.Timestamp.now(tz="UTC")

    assert (
        serve_demo_over_protocols(
            sim, inventory, store, host="127.0.0.1", port=free_port(), announce=stop_after_start
        )
        == 0
    )

    store = DuckDBStore(path)  # the service closed it
    try:
        after = _series(store)
        assert {m for m, _ in after - backfilled} == HEALTH, "collected data made new series"
        health = store.query("collector_up", started, pd.Timestamp.now(tz="UTC"))
        assert len(set(health["target"])) == 3 * len(inventory.sites) + len(inventory.links)
        assert set(health["value"]) == {1.0}
        for metric in sorted({m for m, _ in backfilled}):
            live = store.query(metric, started, pd.Timestamp.now(tz="UTC"))
            labels = [c for c in live.columns if c not in ("ts", "value")]
            got = {tuple(sorted((k, str(v)) for k, v in zip(labels, r, strict=True) if pd.notna(v)))
                   for r in live[labels].itertuples(index=False)}  # fmt: skip
            want = {lab for m, lab in backfilled if m == metric}
            assert got == want, metric
    finally:
        store.close()
