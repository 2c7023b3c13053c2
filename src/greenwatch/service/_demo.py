"""The live demo: backfill the simulated national network, then keep it live."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from greenwatch.inventory import Inventory
from greenwatch.simulate import Scenario, ScenarioKind, Simulator

DAY = pd.Timedelta(days=1)
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
