"""``greenwatch demo --days N`` for any N from 1: the registry history fits the window."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from greenwatch.cli import main
from greenwatch.inventory import load_inventory
from greenwatch.resources import REGISTRY_FILE, ResourceRegistry
from greenwatch.service import DemoState, seed_registry

NOW = pd.Timestamp("2026-11-23T12:34:00Z")


@pytest.mark.parametrize("days", [1, 2, 7, 30])
def test_registry_history_lies_inside_the_window(tmp_path: Path, days: int) -> None:
    inventory = load_inventory()
    state = DemoState.load_or_create(tmp_path, days, NOW, 0)
    registered, records = seed_registry(tmp_path, inventory, state, NOW)
    assert (registered, records > 60) == (1, True)
    with ResourceRegistry(tmp_path / REGISTRY_FILE, inventory) as registry:
        phase2 = registry.get("ai-wuhan", "ascend-phase2")
        verifications = registry.verifications()
    assert phase2 is not None
    assert phase2.pool.in_service is not None
    in_service = pd.Timestamp(phase2.pool.in_service, tz="UTC")
    assert state.start < in_service <= NOW.floor("D")
    # two thirds into the window: day 20 of a 30-day demo
    assert (in_service - state.start).days == {1: 1, 2: 1, 7: 5, 30: 20}[days]
    assert all(v.at <= NOW for v in verifications)


@pytest.mark.parametrize("days", [1, 2])
def test_demo_backfills_a_short_window(
    tmp_path: Path, days: int, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["demo", "--days", str(days), "--no-serve", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert "newly stored" in out
    assert "registry: 1 pool(s) registered" in out
    with ResourceRegistry(data / REGISTRY_FILE, load_inventory()) as registry:
        assert registry.get("ai-wuhan", "ascend-phase2") is not None
