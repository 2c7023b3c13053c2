"""Fixtures of the alerting tests: the simulated slice of the network in a DuckDB store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from greenwatch.inventory import Inventory
from greenwatch.store import DuckDBStore
from tests.alerts._network import simulated_store, slice_inventory


@pytest.fixture(scope="session")
def inventory() -> Inventory:
    return slice_inventory()


@pytest.fixture(scope="session")
def network_store(inventory: Inventory) -> Iterator[DuckDBStore]:
    store = simulated_store(inventory)
    yield store
    store.close()
