"""The demo's registry history: Wuhan's growth, TaihuLight's published runs, a failed GPU check."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from greenwatch.inventory import load_inventory
from greenwatch.metrics import DISCOVERED_COLUMNS, pool_status
from greenwatch.query import pool_frame
from greenwatch.resources import REGISTRY_FILE, ResourceRegistry, verification_frame
from greenwatch.service import DemoState, seed_registry

NOW = pd.Timestamp("2026-11-23T12:00:00Z")


def test_seeded_registry_tells_the_demo_story(tmp_path: Path) -> None:
    inventory = load_inventory()
    state = DemoState.load_or_create(tmp_path, 30, NOW, 0)
    first = seed_registry(tmp_path, inventory, state, NOW)
    assert first[0] == 1
    assert first[1] > 60
    assert seed_registry(tmp_path, inventory, state, NOW) == (0, 0)  # idempotent
    with ResourceRegistry(tmp_path / REGISTRY_FILE, inventory) as registry:
        history = registry.history("ai-wuhan", "ascend-phase2")
        pools = [(v.site, v.pool) for v in registry.pools()]
        records = verification_frame(registry.verifications())
    assert [(v.version, v.registered_by) for v in history] == [(1, "demo")]
    seen = pd.DataFrame(columns=list(DISCOVERED_COLUMNS))
    frame = pool_frame(inventory, pools)
    status = pool_status(frame, seen, records, inventory.catalogue(), NOW).set_index(
        ["site", "pool"]
    )
    # 400 + 800 Ascend 910 x 256 TFLOPS = 307.2 PFLOPS FP16 once phase 2 is in service
    wuhan = status.loc["ai-wuhan"]
    ai = wuhan[wuhan["class"] == "ai"]["rated_flops"].sum()
    assert ai == pytest.approx(307.2e15)
    before = pool_status(frame, seen, records, inventory.catalogue(), state.start)
    assert before.set_index(["site", "pool"]).loc[("ai-wuhan", "ascend-phase2"), "rated_flops"] == 0
    # TaihuLight: HPL Rmax 93.0146 / Rpeak 125.436 PFLOPS = 0.7415, run in 2016 -> stale
    taihulight = status.loc[("sc-wuxi", "taihulight")]
    assert taihulight["measured_ratio"] == pytest.approx(93.0146 / 125.436, rel=1e-4)
    assert taihulight["verification"] == "stale"
    assert status.loc[("zhongwei-2", "ai"), "verification"] == "failed"
    states = set(status["verification"])
    assert states == {"ok", "stale", "failed", "never"}
