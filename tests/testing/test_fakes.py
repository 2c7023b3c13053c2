"""``greenwatch.testing`` as a user meets it: their own rule tested on the real H100 trace with
a store in memory, a clock that moves only when told and a notifier that records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from tests.h100 import load_trace

from greenwatch.alerts import (
    AlertEngine,
    AlertingConfig,
    NotifyError,
    build_dispatcher,
    parse_rules,
)
from greenwatch.inventory import load_inventory
from greenwatch.model import load_yaml, make_batch
from greenwatch.store import DuckDBStore
from greenwatch.testing import FakeClock, RecordingNotifier, memory_store

RULE = """rules:
  - alert: GpuPowerHigh
    kind: metric
    metric: device_power_watts
    agg: max
    window: 5m
    op: ">"
    threshold: 650
"""


@pytest.fixture
def h100_store(shared_data: Path) -> Iterator[DuckDBStore]:
    trace = load_trace(shared_data)
    labels = {"site": "guian-1", "device": "gpu0", "device_kind": "gpu"}
    store = memory_store(make_batch(trace["ts"], "device_power_watts", trace["power_w"], labels))
    yield store
    store.close()


def test_a_users_rule_fires_on_the_real_trace_and_is_recorded(
    h100_store: DuckDBStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    trace_end = pd.Timestamp("2026-11-22T18:11:17Z")
    clock = FakeClock(trace_end)
    pager = RecordingNotifier()
    config, inventory = AlertingConfig(), load_inventory()
    engine = AlertEngine(
        h100_store,
        inventory,
        parse_rules(load_yaml("mine.yaml", RULE)),
        config,
        clock=clock,
        dispatcher=build_dispatcher(config, inventory, clock=clock, notifiers={"default": pager}),
    )
    try:
        engine.tick()
        clock.advance("1m")
        engine.tick()
    finally:
        engine.close()
    assert pager.firing() == [("GpuPowerHigh", "guian-1")]
    assert list(tmp_path.iterdir()) == []  # nothing on disk: store, state and clock are fakes


def test_the_recording_notifier_fails_when_told() -> None:
    pager = RecordingNotifier("pager")
    pager.fail(1, "HTTP 503")
    with pytest.raises(NotifyError, match="HTTP 503"):
        pager.notify(None)  # type: ignore[arg-type]
    assert pager.attempts == 1
    assert pager.notifications == []


def test_the_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock("2026-11-22T18:00")
    assert clock() == clock() == pd.Timestamp("2026-11-22T18:00Z")
    assert clock.advance("90s") == pd.Timestamp("2026-11-22T18:01:30Z")
    assert clock.set("2026-11-23T00:00Z") == clock()
