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
