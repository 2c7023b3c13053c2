"""Scripted incidents the simulator plays into its series (for alerts, dashboards, tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from greenwatch.inventory import Inventory
from greenwatch.model import GreenwatchError

ScenarioKind = Literal[
    "chiller_failure",
    "meter_dropout",
    "counter_reset",
    "link_flap",
    "link_down",
    "collector_down",
    "device_loss",
]
SCENARIO_KINDS: tuple[str, ...] = get_args(ScenarioKind)
LINK_KINDS = ("link_flap", "link_down")


class ScenarioError(GreenwatchError, ValueError):
    """A scenario names an unknown kind or target, or has a bad time window."""

    def __init__(self, scenario: object, cause: str) -> None:
        self.scenario = scenario
        self.cause = cause
        super().__init__(f"{cause}: {scenario!r}")


def _utc(value: object, what: str) -> pd.Timestamp:
    ts = pd.Timestamp(value)  # type: ignore[arg-type]
    if pd.isna(ts) or ts.tzinfo is None:
        raise ScenarioError(value, f"{what} must be a tz-aware timestamp")
    return ts.tz_convert("UTC")


@dataclass(frozen=True)
class Scenario:
    """One incident on a site (or a link, for ``link_*``) during ``[start, end)``.

    - ``chiller_failure``: cooling power about doubles (stand-by units at poor efficiency), so
      PUE climbs noticeably; supply-air temperature drifts up.
    - ``meter_dropout``: no samples for the facility meter (power and energy) of the site.
    - ``counter_reset``: every joule counter of the site (energy, green, reused) restarts from 0
      at ``start`` and keeps counting (``end`` is ignored).
    - ``link_flap``: ``link_up`` toggles 0/1 every few minutes; no traffic while down.
    - ``link_down``: ``link_up`` 0, no traffic, loss 1.0, no latency samples.
    - ``collector_down``: no samples at all for the site (its links included).
    - ``device_loss``: collectors see one in sixteen of the site's accelerators fewer
      (``compute_devices``), as when nodes drop out; the registry still lists them.
    """

    kind: ScenarioKind
    target: str
    start: pd.Timestamp
    end: pd.Timestamp

    def __post_init__(self) -> None:
        if self.kind not in SCENARIO_KINDS:
            raise ScenarioError(self, f"unknown scenario kind (one of {', '.join(SCENARIO_KINDS)})")
        object.__setattr__(self, "start", _utc(self.start, "start"))
        object.__setattr__(self, "end", _utc(self.end, "end"))
        if self.kind != "counter_reset" and self.end <= self.start:
            raise ScenarioError(self, "end must be after start")

    @property
    def is_link(self) -> bool:
        return self.kind in LINK_KINDS

    def window(self, ts_ns: NDArray[np.int64]) -> NDArray[np.bool_]:
        """Which of the sample times fall in ``[start, end)``."""
        out: NDArray[np.bool_] = (ts_ns >= self.start.value) & (ts_ns < self.end.value)
        return out


def check_scenarios(inventory: Inventory, scenarios: tuple[Scenario, ...]) -> None:
    """Raise :class:`ScenarioError` for a scenario whose target is not in the inventory."""
    sites = {s.id for s in inventory.sites}
    links = {link.id for link in inventory.links}
    for sc in scenarios:
        known = links if sc.is_link else sites
        if sc.target not in known:
            what = "link" if sc.is_link else "site"
            raise ScenarioError(sc, f"unknown {what} {sc.target!r}")
