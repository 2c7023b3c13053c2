"""Fixtures of the simulator tests: the small network and a week of it in winter and summer."""

from __future__ import annotations

import pandas as pd
import pytest

from greenwatch.inventory import Inventory
from tests.simulate._network import JAN, JUL, simulator, small_network


@pytest.fixture(scope="session")
def inventory() -> Inventory:
    return small_network()


@pytest.fixture(scope="session")
def january(inventory: Inventory) -> pd.DataFrame:
    return simulator(inventory, seed=7).advance(
        JAN + pd.Timedelta(days=7), pd.Timedelta(minutes=10)
    )


@pytest.fixture(scope="session")
def july(inventory: Inventory) -> pd.DataFrame:
    return simulator(inventory, JUL, seed=7).advance(
        JUL + pd.Timedelta(days=7), pd.Timedelta(minutes=10)
    )
