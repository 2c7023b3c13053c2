"""Compute rules: pools against the devices collectors see and the benchmarks that verified them.

Once per evaluation the pools and verification records come from the rules' compute source
(the registry in a service, the inventory otherwise), the devices collectors reported in the
identify window before the instant from the store, and the metrics engine judges them
(:func:`greenwatch.metrics.pool_status`, :func:`greenwatch.metrics.identify_findings`).
``identify_mismatch`` gives one instance per site and device model, the verification conditions
one per pool in service. A registered model that no collector at its site reports on is not
identified: its instance is held, not resolved, as a KPI on incomplete data is.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import pandas as pd

from greenwatch.alerts._matchers import matches_all
from greenwatch.alerts._outcome import Hit, Outcome
from greenwatch.alerts._rules import ComputeRule
from greenwatch.inventory import Inventory
from greenwatch.model import format_duration
from greenwatch.query import ComputeSource, pool_state
from greenwatch.store import Store

Row = dict[Hashable, Any]


def _pool_labels(row: Row) -> dict[str, str]:
    return {k: str(row[k]) for k in ("site", "pool", "model", "class")}


def _model_labels(site: str, model: str, pools: pd.DataFrame) -> dict[str, str]:
    """One instance per site and model: its pools and their classes, when it has any."""
    labels = {"site": site, "model": model}
    if not pools.empty:
        labels["pool"] = ",".join(pools["pool"].astype(str))
        labels["class"] = ",".join(sorted(set(pools["class"].astype(str))))
    return labels


class ComputeEvaluator:
    """Compute rules at one instant; pools, status and findings are read once per instant."""

    def __init__(self, store: Store, inventory: Inventory, source: ComputeSource) -> None:
        self.store = store
        self.inventory = inventory
        self.source = source
        self._sites = {s.id: s for s in inventory.sites}
        self._judged: tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame] | None = None

    def _state(self, now: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Status of the pools in service and the identify findings at ``now``."""
        if self._judged is None or self._judged[0] != now:
            state = pool_state(self.store, self.inventory, now, source=self.source)
            live = state.status[state.status["rated_flops"] > 0]  # in service
            self._judged = (now, live, state.findings)
        return self._judged[1], self._judged[2]

    def _attrs(self, labels: dict[str, str], **extra: str) -> dict[str, str]:
        """What matchers see: the instance's labels and where its site is."""
        site = self._sites.get(labels["site"])
        where = (
            {"hub": site.hub or "", "region": site.region.value, "kind": site.kind.value}
            if site is not None
            else {}
        )
        return {**where, **extra, **labels}

    def rule(self, rule: ComputeRule, now: pd.Timestamp) -> Outcome:
        """The rule's instances at ``now``."""
        status, findings = self._state(now)
        if rule.condition == "identify_mismatch":
            return self._identify(rule, status, findings)
        return self._verification(rule, status)

    def _identify(self, rule: ComputeRule, status: pd.DataFrame, findings: pd.DataFrame) -> Outcome:
        out = Outcome(rule.alert)
        for row in findings.to_dict("records"):
            site, model = str(row["site"]), str(row["model"])
            mine = status[(status["site"] == site) & (status["model"] == model)]
            labels = _model_labels(site, model, mine)
            if not matches_all(rule.match, self._attrs(labels, device_kind=row["device_kind"])):
                continue
            missing = float(row["registered"]) - float(row["seen"])
            if rule.min_missing is not None:
                share = missing / row["registered"] if row["registered"] else math.nan
                if not (
                    row["finding"] == "missing"
                    and missing >= rule.missing_devices()
                    and share >= rule.missing_share()
                ):
                    continue
            figures: dict[str, object] = {
                "finding": str(row["finding"]),
                "message": str(row["message"]),
                "registered": int(row["registered"]),
                "seen": float(row["seen"]),
                "device_kind": str(row["device_kind"]),
            }
            out.hits.append(Hit(labels, missing, figures))
        # Registered models no collector at their site reports on cannot be judged now.
        dark = status[~status["identified"].astype(bool)]
        for key, mine in dark.groupby(["site", "model"], sort=True):
            out.held.append(_model_labels(str(key[0]), str(key[1]), mine))
        return out

    def _verification(self, rule: ComputeRule, status: pd.DataFrame) -> Outcome:
        out = Outcome(rule.alert)
        limit = pd.Timedelta(rule.verification_limit())
        stale = rule.condition == "verification_stale"
        wanted = _STATES[rule.condition]
        for row in status.to_dict("records"):
            state, age = str(row["verification"]), float(row["verified_age_s"])
            # stale at this rule's limit: the latest record passed and is older than it
            if state not in wanted or (stale and not age > limit.total_seconds()):
                continue
            labels = _pool_labels(row)
            if not matches_all(rule.match, self._attrs(labels)):
                continue
            figures: dict[str, object] = {
                "verification": "stale" if stale else state,
                "benchmark": str(row["last_benchmark"]),
                "age": _days(age) if math.isfinite(age) else "",
                "max_age": _fmt(limit),
                "message": _message(row, stale, limit),
            }
            out.hits.append(Hit(labels, age, figures))
        return out


# The pool states each verification condition looks for (stale: judged at the rule's max_age,
# so a pool ``ok`` at the default 90 days may be stale at a shorter limit).
_STATES: dict[str, tuple[str, ...]] = {
    "verification_never": ("never",),
    "verification_failed": ("failed",),
    "verification_stale": ("ok", "stale"),
}


def _message(row: Row, stale: bool, limit: pd.Timedelta) -> str:
    what = f"{row['site']}/{row['pool']} ({row['count']} x {row['model']}, {row['class']})"
    if row["verification"] == "never":
        return f"{what}: no verification record"
    when = f"{row['last_verified_at']:%Y-%m-%d} ({row['last_benchmark']})"
    if stale:
        age = _days(float(row["verified_age_s"]))
        return f"{what}: last verified {when}, {age} ago; limit {_fmt(limit)}"
    return f"{what}: the latest verification {when} failed; it counts as unavailable"


def _days(seconds: float) -> str:
    return f"{seconds / 86400:.0f}d"


def _fmt(limit: pd.Timedelta) -> str:
    return format_duration(limit.to_pytimedelta())
