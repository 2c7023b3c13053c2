"""The embedded DuckDB store passes the store contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenwatch.store import DuckDBStore, Store
from tests.store.contract import StoreContract


class TestDuckDBStore(StoreContract):
    @pytest.fixture
    def store_factory(self):
        def make(directory: Path) -> Store:
            return DuckDBStore(directory / "greenwatch.duckdb")

        return make


def test_new_series_are_visible_while_readers_poll(tmp_path: Path) -> None:
    """A reader refreshing its series list during a write must not cache a stale list."""
    import threading

    from tests.store.contract import power

    store = DuckDBStore(tmp_path / "greenwatch.duckdb")
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            store.series("power_watts")

    readers = [threading.Thread(target=poll) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for i in range(40):
            store.write(power(f"s{i}", 3, 1.0))
            assert f"s{i}" in set(store.series("power_watts")["site"]), i
    finally:
        stop.set()
        for thread in readers:
            thread.join()
        store.close()
