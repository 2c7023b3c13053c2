"""The alert engine: evaluates rules on a schedule, keeps alert state, notifies receivers.

One :class:`AlertEngine` per process. :meth:`~AlertEngine.tick` evaluates (when the
evaluation interval has passed) and dispatches; state (alerts, notification groups, silences,
delivery statistics) is saved to SQLite after every change, so a new engine on the same file
carries on where the last one stopped: it neither pages again for what was notified nor loses
what was firing. The clock, the dispatcher (built by
:func:`~greenwatch.alerts.build_dispatcher`: routes, receivers and how they send) and the compute
source (pools and verification records for compute rules) come in through the constructor.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from greenwatch.alerts._config import AlertingConfig, load_config
from greenwatch.alerts._dispatch import Dispatcher, GroupState, IntegrationStats, Mute
from greenwatch.alerts._evaluate import Evaluator
from greenwatch.alerts._integrations import build_dispatcher
from greenwatch.alerts._persist import StateStore
from greenwatch.alerts._rules import RuleSet, load_rules
from greenwatch.alerts._silence import Silence, SilenceError
from greenwatch.alerts._state import (
    Ack,
    AlertRecord,
    Identities,
    Transition,
    advance,
    retire_orphans,
)
from greenwatch.inventory import Inventory
from greenwatch.model import Clock, GreenwatchError, utc_now
from greenwatch.query import ComputeSource
from greenwatch.store import Store

RESOLVED_RETENTION = pd.Timedelta(hours=1)
RESOLVED_MAX_AGE = pd.Timedelta(days=7)
# Instances whose full labels and fingerprint the engine keeps between evaluations, at most.
IDENTITIES_KEPT = 100_000
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


class AlertNotFoundError(GreenwatchError, KeyError):
    """No alert (or silence) with that id."""


def _iso(ts: pd.Timestamp | None) -> str | None:
    return None if ts is None else ts.isoformat()


class AlertEngine:
    """Rules, alert state, silences and notifications of one greenwatch process."""

    def __init__(
        self,
        store: Store,
        inventory: Inventory,
        rules: RuleSet | None = None,
        config: AlertingConfig | None = None,
        *,
        state_path: str | Path | None = None,
        clock: Clock = utc_now,
        dispatcher: Dispatcher | None = None,
        compute: ComputeSource | None = None,
    ) -> None:
        """``dispatcher`` is built from the same ``config`` (None: its receivers as configured,
        real HTTP and SMTP)."""
        self.rules = rules if rules is not None else load_rules()
        self.config = config if config is not None else load_config()
        self.clock = clock
        self.interval = pd.Timedelta(self.config.evaluation_interval)
        self._specs = self.rules.specs()
        self._evaluator = Evaluator(store, inventory, self.rules, compute)
        self._sites = {s.id: s for s in inventory.sites}
        self._state = StateStore(state_path)
        self.records = {k: AlertRecord.from_json(v) for k, v in self._state.load("alerts").items()}
        self.groups = {k: GroupState.from_json(v) for k, v in self._state.load("groups").items()}
        self._silences = {k: Silence.from_json(v) for k, v in self._state.load("silences").items()}
        self.stats = {k: IntegrationStats(**v) for k, v in self._state.load("integrations").items()}
        if dispatcher is None:
            dispatcher = build_dispatcher(self.config, inventory, clock=clock)
        self._dispatcher = dispatcher
        self._lock = threading.RLock()
        self._sending = threading.Lock()  # one dispatch at a time
        self.last_eval_at: pd.Timestamp | None = None
        self.last_eval_s = 0.0
        self.rule_errors: dict[str, str] = {}
        self._identities: Identities = {}

    # -- labels from the inventory -------------------------------------------------------------

    def _enrich(self, labels: Mapping[str, str]) -> dict[str, str]:
        site = self._sites.get(labels.get("site", ""))
        if site is None:
            return {}
        out = {"region": site.region.value, "kind": site.kind.value}
        if site.hub:
            out["hub"] = site.hub
        return out

    # -- the schedule --------------------------------------------------------------------------

    def tick(self, now: pd.Timestamp | None = None) -> int:
        """Evaluate when an interval has passed since the last evaluation, then dispatch.

        Returns the number of notifications sent."""
        now = now if now is not None else self.clock()
        with self._lock:
            if self.last_eval_at is None or now - self.last_eval_at >= self.interval:
                self.evaluate(now)
        return self.dispatch(now)

    def evaluate(self, now: pd.Timestamp | None = None) -> list[Transition]:
        """Evaluate every rule at ``now`` and advance alert states; returns the transitions."""
        now = now if now is not None else self.clock()
        with self._lock:
            started = time.perf_counter()
            changes: list[Transition] = []
            by_rule: dict[str, set[str]] = {}
            for fp, record in self.records.items():
                by_rule.setdefault(record.rule_id, set()).add(fp)
            for outcome in self._evaluator.evaluate(now):
                if outcome.error is not None:
                    self.rule_errors[outcome.rule_id] = outcome.error
                else:
                    self.rule_errors.pop(outcome.rule_id, None)
                spec = self._specs[outcome.rule_id]
                mine = by_rule.get(outcome.rule_id, set())
                changes += advance(
                    self.records, spec, outcome, now, self._enrich, mine, self._identities
                )
            changes += retire_orphans(self.records, set(self._specs), now)
            if len(self._identities) > IDENTITIES_KEPT:  # series come and go: start afresh
                self._identities = {}
            self._purge(now)
            self.last_eval_at = now
            self.last_eval_s = time.perf_counter() - started
            self._save()
            return changes

    def dispatch(self, now: pd.Timestamp | None = None) -> int:
        """Notify what is due (see ``_dispatch``); returns the number of notifications sent.

        Deliveries run outside the state lock, so a slow or dead receiver (an SMTP timeout)
        never blocks the API: acknowledging or silencing during an outage still answers.
        """
        now = now if now is not None else self.clock()
        with self._sending:
            with self._lock:
                silences = list(self._silences.values())
                due = self._dispatcher.plan(self.records, silences, self.groups, now)
                self._save()
            sent = 0
            for item in due:
                error = self._dispatcher.deliver(item)
                with self._lock:
                    self._dispatcher.settle(item, error, self.groups, self.stats, now)
                    self._save()
                sent += error is None
            return sent

    def _purge(self, now: pd.Timestamp) -> None:
        owed = {fp for g in self.groups.values() for fp in g.notified}
        for fp, r in list(self.records.items()):
            if r.state != "resolved" or r.resolved_at is None:
                continue
            age = now - r.resolved_at
            if (age > RESOLVED_RETENTION and fp not in owed) or age > RESOLVED_MAX_AGE:
                del self.records[fp]

    def _save(self) -> None:
        self._state.save(
            {
                "alerts": {k: r.to_json() for k, r in self.records.items()},
                "groups": {k: g.to_json() for k, g in self.groups.items()},
                "silences": {k: s.to_json() for k, s in self._silences.items()},
                "integrations": {k: s.to_json() for k, s in self.stats.items()},
            }
        )

    # -- reading -------------------------------------------------------------------------------

    def _view(self, r: AlertRecord, mute: Mute | None) -> dict[str, Any]:
        m = mute or Mute()
        return {
            "fingerprint": r.fingerprint,
            "alertname": r.alertname,
            "rule": r.rule_id,
            "state": r.state,
            "severity": r.labels.get("severity", ""),
            "labels": dict(r.labels),
            "annotations": dict(r.annotations),
            "value": None if r.value != r.value else r.value,
            "activeAt": _iso(r.active_at),
            "firedAt": _iso(r.fired_at),
            "resolvedAt": _iso(r.resolved_at),
            "lastEvaluatedAt": _iso(r.last_eval_at),
            "silenced": bool(m.silenced_by or m.maintenance),
            "silencedBy": list(m.silenced_by),
            "maintenance": list(m.maintenance),
            "inhibited": bool(m.inhibited_by),
            "inhibitedBy": list(m.inhibited_by),
            "acknowledged": None
            if r.ack is None
            else {"by": r.ack.by, "at": _iso(r.ack.at), "comment": r.ack.comment},
        }

    def alerts(self, now: pd.Timestamp | None = None) -> list[dict[str, Any]]:
        """Every pending, firing and recently resolved alert, most severe and oldest first."""
        now = now if now is not None else self.clock()
        with self._lock:
            mutes = self._dispatcher.mutes(self.records, list(self._silences.values()), now)
            records = sorted(
                self.records.values(),
                key=lambda r: (
                    {"firing": 0, "pending": 1}.get(r.state, 2),
                    _SEVERITY_ORDER.get(r.labels.get("severity", ""), 3),
                    r.active_at,
                    r.fingerprint,
                ),
            )
            return [self._view(r, mutes.get(r.fingerprint)) for r in records]

    def alert(self, fp: str, now: pd.Timestamp | None = None) -> dict[str, Any]:
        for view in self.alerts(now):
            if view["fingerprint"] == fp:
                return view
        raise AlertNotFoundError(f"no alert with fingerprint {fp!r}")

    def acknowledge(self, fp: str, by: str, comment: str = "") -> dict[str, Any]:
        """Mark a pending or firing alert as being handled: no repeat notifications for it."""
        if not by.strip():
            raise SilenceError("an acknowledgement needs who acknowledges (by)")
        with self._lock:
            record = self.records.get(fp)
            if record is None or record.state == "resolved":
                raise AlertNotFoundError(f"no pending or firing alert with fingerprint {fp!r}")
            record.ack = Ack(by.strip(), self.clock(), comment)
            self._save()
        return self.alert(fp)

    def status(self) -> dict[str, Any]:
        """Health of the engine: last evaluation, rule errors, delivery per integration."""
        with self._lock:
            counts = {"pending": 0, "firing": 0, "resolved": 0}
            for r in self.records.values():
                counts[r.state] += 1
            retrying: dict[str, int] = {}
            for g in self.groups.values():
                if g.failures:
                    retrying[g.integration] = retrying.get(g.integration, 0) + 1
            integrations = [
                {
                    "name": integ.name,
                    "receiver": integ.receiver,
                    **self.stats.get(integ.name, IntegrationStats()).to_json(),
                    "retrying_groups": retrying.get(integ.name, 0),
                }
                for items in self._dispatcher.integrations.values()
                for integ in items
            ]
            return {
                "rules": len(self.rules.rules),
                "last_evaluation": _iso(self.last_eval_at),
                "evaluation_seconds": self.last_eval_s,
                "evaluation_interval_seconds": self.interval.total_seconds(),
                "rule_errors": dict(self.rule_errors),
                "alerts": counts,
                "integrations": integrations,
            }

    # -- silences ------------------------------------------------------------------------------

    def silences(self) -> list[Silence]:
        with self._lock:
            return sorted(self._silences.values(), key=lambda s: (s.ends_at, s.id))

    def silence(self, silence_id: str) -> Silence:
        with self._lock:
            found = self._silences.get(silence_id)
        if found is None:
            raise AlertNotFoundError(f"no silence with id {silence_id!r}")
        return found

    def add_silence(self, silence: Silence) -> Silence:
        """Store a new silence, or replace one with the same id (keeping when it was created)."""
        with self._lock:
            old = self._silences.get(silence.id)
            if old is not None:
                silence = Silence(
                    silence.id,
                    silence.matchers,
                    silence.starts_at,
                    silence.ends_at,
                    silence.created_by,
                    silence.comment,
                    old.created_at,
                    silence.updated_at,
                )
            self._silences[silence.id] = silence
            self._save()
            return silence

    def expire_silence(self, silence_id: str) -> Silence:
        with self._lock:
            expired = self.silence(silence_id).expire(self.clock())
            self._silences[silence_id] = expired
            self._save()
            return expired

    def close(self) -> None:
        """Save the state, close the state file and the notifiers' connections."""
        with self._lock:
            self._save()
            self._state.close()
            for items in self._dispatcher.integrations.values():
                for integ in items:
                    close = getattr(integ.notifier, "close", None)
                    if callable(close):
                        close()
