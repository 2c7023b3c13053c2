"""The live demo: backfill the simulated national network, then keep it live."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from greenwatch.inventory import CLASS_PRECISION, Inventory
from greenwatch.resources import REGISTRY_FILE, ResourceRegistry
from greenwatch.simulate import Scenario, ScenarioKind, Simulator

DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)
BACKFILL_STEP = pd.Timedelta(minutes=1)
Write = Callable[[pd.DataFrame], int]


@dataclass(frozen=True)
class DemoState:
    """What makes a demo reproducible: where the simulation starts and its seed."""

    start: pd.Timestamp
    seed: int

    @classmethod
    def load_or_create(cls, data_dir: Path, days: int, now: pd.Timestamp, seed: int) -> DemoState:
        path = data_dir / "demo.json"
        if path.exists():
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(pd.Timestamp(raw["start"]), int(raw["seed"]))
        state = cls((now - days * DAY).floor("D"), seed)
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"start": state.start.isoformat(), "seed": seed}), encoding="utf-8"
        )
        return state


def demo_scenarios(inventory: Inventory, start: pd.Timestamp, end: pd.Timestamp) -> list[Scenario]:
    """Scripted faults in the last days of the demo, so alerts and gaps have something to show.

    Faults whose site or link is not in ``inventory`` are left out.
    """
    last = end.floor("h")
    known = {s.id for s in inventory.sites} | {link.id for link in inventory.links}
    hours = pd.Timedelta(hours=1)
    # (fault, site or link, hours before the last full hour it starts, and ends)
    script: list[tuple[ScenarioKind, str, int, int]] = [
        ("chiller_failure", "shaoguan-1", 30, 22),
        ("meter_dropout", "sc-wuxi", 50, 47),
        ("link_flap", "guian-1--guian-2", 6, 5),
        ("collector_down", "qingyang-2", 12, 11),
        # Still going at the end: the identify finding and its alert are live in the demo.
        ("device_loss", "ai-shanghai", 8, -72),
    ]
    scripted = [
        Scenario(kind, target, last - a * hours, last - b * hours) for kind, target, a, b in script
    ]
    scripted.append(Scenario("counter_reset", "tianfu-1", max(start, last - 70 * hours), last))
    return [s for s in scripted if s.target in known]


def _chunks(sim: Simulator, end: pd.Timestamp, step: pd.Timedelta) -> Iterator[pd.DataFrame]:
    while sim.cursor < end:
        yield sim.advance(min(sim.cursor.floor("D") + DAY, end), step)


def backfill(
    sim: Simulator,
    write: Write,
    end: pd.Timestamp,
    *,
    step: pd.Timedelta = BACKFILL_STEP,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Advance the simulator to ``end`` in day chunks and write every chunk.

    Generation runs on a second thread while the previous chunk is written, so the two cores
    work at once. Returns (samples generated, samples newly stored).
    """
    chunks: queue.Queue[pd.DataFrame | BaseException | None] = queue.Queue(maxsize=2)

    def produce() -> None:
        try:
            for chunk in _chunks(sim, end, step):
                chunks.put(chunk)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            chunks.put(exc)
        else:
            chunks.put(None)

    producer = threading.Thread(target=produce, name="backfill-generate", daemon=True)
    producer.start()
    generated = stored = 0
    while (item := chunks.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        generated += len(item)
        stored += write(item)
        if progress is not None:
            progress(len(item), stored)
    producer.join()
    return generated, stored


DEMO = "demo"
# Sunway TaihuLight's published results: HPL Rmax 93.0146 PFLOPS (TOP500, June 2016) and HPCG
# 0.4808 PFLOPS (HPCG list, November 2016), on all 40,960 nodes.
TAIHULIGHT = (
    ("hpl", 93.0146e15, "2016-06-20", "TOP500 June 2016: Rmax 93.0146 PFLOPS, Rpeak 125.436"),
    ("hpcg", 0.4808e15, "2016-11-14", "HPCG November 2016: 480.8 TFLOPS"),
)


def registered_inventory(data_dir: Path, inventory: Inventory) -> Inventory:
    """``inventory`` with each site's pools as the registry in ``data_dir`` has them now, so
    the simulated centres report the devices of pools registered since (the demo's Wuhan
    phase 2) from the day they enter service."""
    with ResourceRegistry(data_dir / REGISTRY_FILE, inventory) as registry:
        pools = registry.pools()
    sites = tuple(
        site.model_copy(update={"compute": tuple(v.pool for v in pools if v.site == site.id)})
        for site in inventory.sites
    )
    return inventory.model_copy(update={"sites": sites})


def _demo_days(key: str, seed: int) -> int:
    """A stable pseudo-random age in days (0-119) for a pool's last demo probe."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{key}".encode()).digest()[:4], "big") % 120


def phase2_in_service(state: DemoState, now: pd.Timestamp) -> date:
    """The day Wuhan's phase 2 enters service: two thirds into the demo's window, never after
    ``now`` (the window starts at a midnight, so the day is at most today)."""
    return (state.start + (now - state.start) * 2 / 3).date()


def seed_registry(
    data_dir: Path, inventory: Inventory, state: DemoState, now: pd.Timestamp
) -> tuple[int, int]:
    """Give the demo's registry a history: Wuhan's AI centre grows from 100 to 300 PFLOPS
    (phase 2 registered, in service two thirds into the backfill: day 20 of 30), TaihuLight's
    published HPL and HPCG runs, and probe, MLPerf-style and GPU-check records of every other
    pool — most recent, some stale, one failed, some never verified. Idempotent: records are
    added only to a registry that has none. Returns (pools registered, records added).
    """
    registry = ResourceRegistry(data_dir / REGISTRY_FILE, inventory, clock=lambda: now)
    try:
        sites = {s.id for s in inventory.sites}
        registered = 0
        if "ai-wuhan" in sites and registry.get("ai-wuhan", "ascend-phase2") is None:
            phase2 = {
                "id": "ascend-phase2",
                "class": "ai",
                "model": "huawei-ascend-910",
                "count": 800,
                "in_service": phase2_in_service(state, now).isoformat(),
                "source": "demo: phase 2 takes the centre from 100 to 300 PFLOPS FP16",
            }
            registry.register("ai-wuhan", phase2, DEMO)
            registered = 1
        if registry.verifications():
            return registered, 0
        records = []
        for version in registry.pools():
            pool, key = version.pool, f"{version.site}/{version.pool.id}"
            precision = CLASS_PRECISION[pool.compute_class].value
            base = {"site": version.site, "pool": pool.id, "precision": precision}
            if key == "sc-wuxi/taihulight":
                records += [
                    {**base, "benchmark": name, "measured_flops": flops, "devices": pool.count,
                     "passed": True, "at": f"{day}T00:00:00Z", "detail": detail}
                    for name, flops, day, detail in TAIHULIGHT
                ]  # fmt: skip
                continue
            days = _demo_days(key, state.seed)
            if days >= 110:
                continue  # never verified
            at = now - days * DAY
            if pool.in_service is not None:  # not probed before it was in service
                at = max(at, pd.Timestamp(pool.in_service, tz="UTC"))
            records.append({**base, "benchmark": "probe", "devices": pool.count, "passed": True,
                            "at": at.isoformat(), "detail": "demo: all nodes answer"})  # fmt: skip
        if "zhongwei-2" in sites:
            records.append(
                {"site": "zhongwei-2", "pool": "ai", "benchmark": "gpu-matmul",
                 "precision": "fp16", "measured_flops": 0.0, "devices": 8, "passed": False,
                 "at": (now - 2 * HOUR).isoformat(),
                 "detail": "demo: wrong product on GPU 3 (relative error 0.41)"}
            )  # fmt: skip
        for record in records:
            registry.record_verification(record, DEMO)
        return registered, len(records)
    finally:
        registry.close()
