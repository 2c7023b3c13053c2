"""A five-site slice of the national network, simulated through scripted incidents.

Data from ``T0`` (Monday 2025-01-13 00:00 UTC) for 31 hours at 1-minute resolution; alerts are
evaluated from ``T0 + 25h`` so every 24-hour window is complete. Incidents:

- guian-1: chiller failure 26:00-28:00 (PUE climbs above its 1.2 target);
- shaoguan-1: facility meter drop-out 26:00-28:00;
- qingyang-2: collector down 26:00-26:40;
- guian-1--guian-2: link flap 25:30-25:36 (each down period a few minutes).

Times ``after(26, 30)`` are hours and minutes after ``T0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from greenwatch.alerts import AlertEngine, Transition
from greenwatch.inventory import Inventory, load_inventory
from greenwatch.simulate import Scenario, Simulator
from greenwatch.store import DuckDBStore

T0 = pd.Timestamp("2025-01-13T00:00:00Z")
SITES = ("guian-1", "guian-2", "shaoguan-1", "qingyang-1", "qingyang-2")
FLAP_LINK = "guian-1--guian-2"
MINUTE = pd.Timedelta(minutes=1)


def after(hours: int, minutes: int = 0) -> pd.Timestamp:
    return T0 + pd.Timedelta(hours=hours, minutes=minutes)


def slice_inventory(sites: tuple[str, ...] = SITES) -> Inventory:
    national = load_inventory()
    keep = set(sites)
    return Inventory(
        sites=tuple(s for s in national.sites if s.id in keep),
        links=tuple(lk for lk in national.links if lk.a in keep and lk.b in keep),
    )


def incidents() -> list[Scenario]:
    return [
        Scenario("chiller_failure", "guian-1", after(26), after(28)),
        Scenario("meter_dropout", "shaoguan-1", after(26), after(28)),
        Scenario("collector_down", "qingyang-2", after(26), after(26, 40)),
        Scenario("link_flap", FLAP_LINK, after(25, 30), after(25, 36)),
    ]


def simulated_store(
    inventory: Inventory, until: pd.Timestamp | None = None, path: Path | str = ":memory:"
) -> DuckDBStore:
    """The slice with its incidents from T0 to ``until`` (default: 31 hours later)."""
    store = DuckDBStore(path)
    sim = Simulator(inventory, seed=3, start=T0, scenarios=incidents())
    store.write(sim.advance(until if until is not None else after(31)))
    return store


@dataclass
class Replay:
    """What an engine did over a run of ticks: transitions with their time."""

    transitions: list[Transition] = field(default_factory=list)

    def of(self, alertname: str, **labels: str) -> list[Transition]:
        return [t for t in self.transitions if t.alertname == alertname and _has(t, labels)]


_LABELS: dict[str, dict[str, str]] = {}


def _has(t: Transition, labels: dict[str, str]) -> bool:
    known = _LABELS.get(t.fingerprint, {})
    return all(known.get(k) == v for k, v in labels.items())


def replay(
    engine: AlertEngine,
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: pd.Timedelta = MINUTE,
    out: Replay | None = None,
) -> Replay:
    """Tick the engine at ``start, start + step, …`` up to ``end`` (inclusive)."""
    out = out or Replay()
    now = start
    while now <= end:
        clock = engine.clock
        if hasattr(clock, "set"):
            clock.set(now)
        before = len(out.transitions)
        out.transitions += engine.evaluate(now)
        engine.dispatch(now)
        for t in out.transitions[before:]:
            record = engine.records.get(t.fingerprint)
            if record is not None:
                _LABELS[t.fingerprint] = record.labels
        now += step
    return out
