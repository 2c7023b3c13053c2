"""What a rule set would fire at a past time: its evaluations replayed on stored data, sending
nothing and keeping no state (``greenwatch alerts test`` and ``POST /api/v1/alerts/test``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from greenwatch.alerts._config import AlertingConfig
from greenwatch.alerts._engine import AlertEngine
from greenwatch.alerts._rules import RuleSet
from greenwatch.inventory import Inventory
from greenwatch.store import Store


def replay_rules(
    store: Store, inventory: Inventory, rules: RuleSet, config: AlertingConfig, at: pd.Timestamp
) -> dict[str, Any]:
    """The alerts firing or pending at ``at`` (UTC) and the engine's status, after replaying
    the evaluations before it every ``evaluation_interval`` from ``first`` (long enough for
    every ``for`` and ``keep_firing_for``): ``{"at", "first", "step_s", "alerts", "status"}``,
    times as ISO strings, the step in seconds."""
    step = pd.Timedelta(config.evaluation_interval)
    history = max(
        (pd.Timedelta(s.for_) + pd.Timedelta(s.keep_firing_for) for s in rules.specs().values()),
        default=pd.Timedelta(0),
    )
    engine = AlertEngine(store, inventory, rules, config, clock=lambda: at)
    try:
        # Replay the evaluations before ``at`` so ``for`` and ``keep_firing_for`` mean what
        # they mean in the running service.
        first = t = at - (history // step + 1) * step
        while t <= at:
            engine.evaluate(t)
            t += step
        views = [v for v in engine.alerts(at) if v["state"] != "resolved"]
        status = engine.status()
    finally:
        engine.close()
    return {
        "at": at.isoformat(),
        "first": first.isoformat(),
        "step_s": step.total_seconds(),
        "alerts": views,
        "status": status,
    }
