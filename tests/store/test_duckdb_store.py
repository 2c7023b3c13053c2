"""The embedded DuckDB store passes the store contract."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from greenwatch.model import make_batch
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


T0 = pd.Timestamp("2026-03-01T00:00:00Z")


def test_a_label_value_with_the_old_separators_is_its_own_series(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "gw.duckdb")
    try:
        honest = make_batch(T0, "power_watts", [1.0], {"site": "a", "meter": "facility"})
        forged = make_batch(T0, "power_watts", [2.0], {"site": "a\x1fmeter\x1efacility"})
        assert store.write(honest) == 1
        assert store.write(forged) == 1
        got = store.query("power_watts", T0, T0 + pd.Timedelta(hours=1), labels={"site": "a"})
        assert list(got["value"]) == [1.0]
    finally:
        store.close()


def test_a_store_with_separator_keys_is_rekeyed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "gw.duckdb"
    DuckDBStore(path).close()  # today's schema, then series keyed as earlier versions did
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO series VALUES (1, 'power_watts\x1esite\x1ea\x1fmeter\x1efacility', "
        """'power_watts', '{"meter": "facility", "site": "a"}')"""
    )
    con.execute("INSERT INTO samples VALUES (1, $t, 5.0)", {"t": T0.value})
    con.close()
    store = DuckDBStore(path)
    try:
        again = make_batch(T0, "power_watts", [5.0], {"site": "a", "meter": "facility"})
        assert store.write(again) == 0  # the same series: nothing stored twice
        later = make_batch(
            T0 + pd.Timedelta(minutes=1), "power_watts", [6.0], {"site": "a", "meter": "facility"}
        )
        assert store.write(later) == 1
        got = store.query(
            "power_watts", T0, T0 + pd.Timedelta(hours=1), labels={"meter": "facility"}
        )
        assert list(got["value"]) == [5.0, 6.0]
        assert len(store.series()) == 1
    finally:
        store.close()
