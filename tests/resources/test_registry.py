"""The registry on its own: versions over the inventory, validation, verifications, concurrency."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from greenwatch.inventory import Inventory, Precision, load_inventory
from greenwatch.metrics import VERIFICATION_COLUMNS
from greenwatch.resources import (
    INVENTORY,
    PoolNotFoundError,
    RegistrationError,
    ResourceRegistry,
    VersionConflictError,
    verification_frame,
)
from tests.resources import NOW, h100_pool, verification

SITE = "guian-1"


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: pd.Timestamp) -> None:
        self.now = now

    def __call__(self) -> pd.Timestamp:
        return self.now


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def registry(inventory: Inventory, clock: Clock) -> Iterator[ResourceRegistry]:
    with ResourceRegistry(None, inventory, clock=clock) as reg:
        yield reg


def _problems(exc: pytest.ExceptionInfo[RegistrationError]) -> dict[str, str]:
    return dict(exc.value.problems)


def test_inventory_pools_are_version_zero(registry: ResourceRegistry, inventory: Inventory) -> None:
    declared = sorted((s.id, p.id) for s in inventory.sites for p in s.compute)
    current = registry.pools()
    assert [(v.site, v.pool.id) for v in current] == declared
    assert {(v.version, v.registered_by, v.removed) for v in current} == {(0, INVENTORY, False)}
    site = next(s for s in inventory.sites if s.id == SITE)
    assert [v.pool for v in registry.pools(site=SITE)] == sorted(site.compute, key=lambda p: p.id)
    assert registry.history(SITE, "ai")[0].pool == next(p for p in site.compute if p.id == "ai")


def test_register_round_trip(registry: ResourceRegistry, clock: Clock) -> None:
    made = registry.register(SITE, h100_pool(), "li.wei")
    assert made.to_dict() == {
        "site": SITE,
        "pool": {
            "id": "burst",
            "class": "ai",
            "model": "nvidia-h100-sxm",
            "count": 64,
            "nodes": None,
            "memory_bytes": None,
            "storage_bytes": None,
            "in_service": None,
            "retired": None,
            "source": None,
        },
        "version": 1,
        "registered_by": "li.wei",
        "registered_at": "2026-03-01T12:00:00+00:00",
        "removed": False,
    }
    assert registry.get(SITE, "burst") == made
    assert made in registry.pools(site=SITE, compute_class="ai", hub="guizhou", region="west")
    assert made not in registry.pools(region="east")
    view = registry.view(made)
    # 64 x 989.4 TFLOPS dense FP16 (the catalogue's H100 SXM figure), in FLOPS.
    assert view["rated_flops"] == pytest.approx(64 * 989.4e12)
    assert (view["hub"], view["region"], view["precision"]) == ("guizhou", "west", "fp16")
    clock.now = NOW + pd.Timedelta(hours=1)
    bigger = registry.register(SITE, h100_pool(count=128), "zhang.min")
    assert [
        (v.version, v.pool.count, v.registered_by) for v in registry.history(SITE, "burst")
    ] == [
        (1, 64, "li.wei"),
        (2, 128, "zhang.min"),
    ]
    assert bigger.registered_at == NOW + pd.Timedelta(hours=1)


def test_registering_an_inventory_pool_makes_version_one(registry: ResourceRegistry) -> None:
    declared = registry.get(SITE, "ai")
    assert declared is not None
    changed = declared.pool.model_copy(update={"count": declared.pool.count - 100})
    made = registry.register(SITE, changed, "li.wei", expected_version=0)
    assert made.version == 1
    history = registry.history(SITE, "ai")
    assert [(v.version, v.registered_by) for v in history] == [(0, INVENTORY), (1, "li.wei")]
    assert registry.get(SITE, "ai") == made


def test_identical_registration_makes_no_version(registry: ResourceRegistry) -> None:
    first = registry.register(SITE, h100_pool(), "li.wei")
    again = registry.register(SITE, h100_pool(nodes=None), "zhang.min", expected_version=0)
    assert again == first
    assert len(registry.history(SITE, "burst")) == 1
    declared = registry.get(SITE, "ai")
    assert declared is not None
    assert registry.register(SITE, declared.pool, "li.wei") == declared


@pytest.mark.parametrize(
    ("site", "pool", "key", "words"),
    [
        (SITE, h100_pool(count=0), "pool.count", "greater than or equal to 1"),
        (SITE, h100_pool(count=7.5), "pool.count", "valid integer"),
        (SITE, h100_pool(model="nvidia-b999"), "pool.model", "unknown device model"),
        (SITE, h100_pool(count=1_000_000), "pool.count", "IT capacity"),
        (SITE, h100_pool(gpus=8), "pool.gpus", "unknown key"),
        (SITE, h100_pool(nodes=65), "pool", "exceeds count"),
        ("atlantis-1", h100_pool(), "site", "unknown site"),
    ],
)
def test_invalid_registrations_name_the_key(
    registry: ResourceRegistry, site: str, pool: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(RegistrationError) as exc:
        registry.register(site, pool, "li.wei")
    assert words in _problems(exc)[key]
    assert registry.history(site, pool["id"]) == []


def test_every_problem_is_reported_at_once(registry: ResourceRegistry) -> None:
    with pytest.raises(RegistrationError) as exc:
        registry.register("atlantis-1", h100_pool(model="nvidia-b999"), "")
    assert set(_problems(exc)) == {"site", "pool.model", "by"}


def test_capacity_counts_the_sites_other_pools(
    registry: ResourceRegistry, inventory: Inventory
) -> None:
    site = next(s for s in inventory.sites if s.id == SITE)
    catalogue = inventory.catalogue()
    used_kw = sum(
        p.count * model.rated_power_w / 1000
        for p in site.compute
        if (model := catalogue.find(p.model)) is not None
    )
    fits = int((site.it_capacity_kw - used_kw) * 1000 // 700)  # H100 SXM: 700 W each
    registry.register(SITE, h100_pool(count=fits), "li.wei")
    with pytest.raises(RegistrationError) as exc:
        registry.register(SITE, h100_pool("second", count=1), "li.wei")
    assert "site total" in _problems(exc)["pool.count"]


def test_expected_version_guards_against_lost_updates(registry: ResourceRegistry) -> None:
    registry.register(SITE, h100_pool(), "li.wei", expected_version=0)
    registry.register(SITE, h100_pool(count=32), "zhang.min", expected_version=1)
    with pytest.raises(VersionConflictError) as exc:
        registry.register(SITE, h100_pool(count=16), "li.wei", expected_version=1)
    assert (exc.value.expected, exc.value.current) == (1, 2)
    assert "version 2" in str(exc.value)
    current = registry.get(SITE, "burst")
    assert current is not None
    assert current.pool.count == 32


def test_remove_keeps_the_history(registry: ResourceRegistry) -> None:
    registry.register(SITE, h100_pool(), "li.wei")
    removed = registry.remove(SITE, "burst", "zhang.min")
    assert (removed.version, removed.removed, removed.pool.count) == (2, True, 64)
    assert registry.get(SITE, "burst") is None
    assert "burst" not in {v.pool.id for v in registry.pools(site=SITE)}
    with pytest.raises(PoolNotFoundError):
        registry.remove(SITE, "burst", "zhang.min")
    back = registry.register(SITE, h100_pool(), "li.wei")
    assert back.version == 3
    assert [v.removed for v in registry.history(SITE, "burst")] == [False, True, False]
    registry.remove(SITE, "ai", "li.wei")  # an inventory pool: removed by version 1
    assert [(v.version, v.removed) for v in registry.history(SITE, "ai")] == [(0, False), (1, True)]
    with pytest.raises(PoolNotFoundError):
        registry.remove("atlantis-1", "ai", "li.wei")


def _record(**changes: Any) -> dict[str, Any]:
    return verification(**{"at": "2026-03-01T11:30:00+08:00", **changes})


def test_verification_round_trip(registry: ResourceRegistry) -> None:
    done = registry.record_verification(_record(detail="job 4711"), "edge-agent")
    assert done.at == pd.Timestamp("2026-03-01T03:30:00Z")
    assert done.precision is Precision.FP64
    probe = registry.record_verification(
        _record(benchmark="probe", measured_flops=None, at=..., precision="fp16"), "edge-agent"
    )
    assert probe.at == NOW
    free = registry.record_verification(_record(benchmark="stream-triad", passed=False), "ops")
    assert registry.verifications() == [done, free, probe]  # oldest first
    assert registry.verifications(site=SITE, pool="ai") == [done, free, probe]
    assert registry.verifications(pool="general") == []
    assert done.to_dict() == verification(
        at="2026-03-01T03:30:00+00:00", recorded_by="edge-agent", detail="job 4711"
    )


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"devices": 0}, "devices"),
        ({"devices": 10**9}, "devices"),
        ({"devices": 2.5}, "devices"),
        ({"measured_flops": -1.0}, "measured_flops"),
        ({"benchmark": "HPL 2.3"}, "benchmark"),
        ({"precision": "int8"}, "precision"),
        ({"at": "2026-03-01T11:30:00"}, "at"),
        ({"at": "2026-03-01T12:06:00Z"}, "at"),
        ({"site": "atlantis-1"}, "site"),
        ({"pool": "quantum"}, "pool"),
        ({"passed": "yes"}, "passed"),
        ({"gflops": 3}, "gflops"),
    ],
)
def test_invalid_verifications_name_the_key(
    registry: ResourceRegistry, changes: dict[str, Any], key: str
) -> None:
    with pytest.raises(RegistrationError) as exc:
        registry.record_verification(_record(**changes), "edge-agent")
    assert key in _problems(exc)
    assert registry.verifications() == []


def test_verification_frame_has_the_metrics_columns(registry: ResourceRegistry) -> None:
    empty = verification_frame([])
    assert tuple(empty.columns) == VERIFICATION_COLUMNS
    dtypes = {
        "measured_flops": "float64",
        "devices": "int64",
        "passed": "bool",
        "at": "datetime64[ns, UTC]",
    }
    assert {k: str(empty[k].dtype) for k in dtypes} == dtypes
    registry.record_verification(_record(), "edge-agent")
    registry.record_verification(_record(benchmark="probe", measured_flops=None), "edge-agent")
    frame = verification_frame(registry.verifications())
    assert {k: str(frame[k].dtype) for k in dtypes} == dtypes
    assert frame["measured_flops"].isna().tolist() == [False, True]
    assert frame["precision"].tolist() == ["fp64", "fp64"]
    assert frame["at"].tolist() == [pd.Timestamp("2026-03-01T03:30:00Z")] * 2


def test_a_file_registry_survives_reopening(tmp_path: Path, inventory: Inventory) -> None:
    path = tmp_path / "resources.sqlite"
    with ResourceRegistry(path, inventory, clock=lambda: NOW) as reg:
        made = reg.register(SITE, h100_pool(), "li.wei")
        record = reg.record_verification(_record(), "edge-agent")
    with ResourceRegistry(path, inventory, clock=lambda: NOW) as reg:
        assert reg.get(SITE, "burst") == made
        assert reg.verifications() == [record]


def test_threads_lose_no_update(registry: ResourceRegistry) -> None:
    def register(first: int) -> None:
        for count in range(first, first + 25):
            registry.register(SITE, h100_pool(count=count), f"thread-{first}")

    threads = [threading.Thread(target=register, args=(1 + 25 * i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = registry.history(SITE, "burst")
    assert [v.version for v in history] == list(range(1, 201))
    assert sorted(v.pool.count for v in history) == list(range(1, 201))


WRITER = """
import sys, time
from pathlib import Path
from greenwatch.inventory import load_inventory
from greenwatch.resources import ResourceRegistry

path, go, first = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
pool = {"id": "burst", "class": "ai", "model": "nvidia-h100-sxm"}
with ResourceRegistry(path, load_inventory()) as reg:
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    for count in range(first, first + 100):
        reg.register("guian-1", {**pool, "count": count}, f"process-{first}")
"""


def test_processes_sharing_the_file_lose_no_update(tmp_path: Path, inventory: Inventory) -> None:
    path, go = tmp_path / "resources.sqlite", tmp_path / "go"
    ResourceRegistry(path, inventory).close()  # the schema exists before the writers start
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(go), str(first)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for first in (1, 101)
    ]
    try:
        for writer in writers:
            assert writer.stdout is not None
            assert writer.stdout.readline().strip() == "ready"
        go.touch()  # both start writing at once
        for writer in writers:
            assert writer.wait(timeout=120) == 0
    finally:
        for writer in writers:
            writer.kill()
            writer.communicate()
    with ResourceRegistry(path, inventory) as reg:
        history = reg.history(SITE, "burst")
    assert [v.version for v in history] == list(range(1, 201))
    assert sorted(v.pool.count for v in history) == list(range(1, 201))
    by = {v.registered_by for v in history}
    assert by == {"process-1", "process-101"}
