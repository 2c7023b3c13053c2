"""From alert states to notifications: muting, routing, grouping, timing, retries.

Each dispatch, for every firing alert: is it silenced, in a maintenance window or inhibited
(muted)? Every firing or recently resolved alert is routed; per (route, receiver integration,
values of ``group_by``) a group remembers which firing alerts its integration was told about
(``notified``). A group is notified

- first, ``group_wait`` after it got its first firing alert;
- then, at most every ``group_interval``, when an alert is new to it (newly firing, or no
  longer muted: a silence or maintenance window ended while it still fires) or resolved;
- and every ``repeat_interval`` while an unacknowledged alert fires.

A muted alert leaves ``notified`` (so it is notified again when the mute ends); a resolved one
is reported once if the integration was told it fired. A failed delivery keeps the group as it
was, counts the failure, records the error and retries after an exponential backoff.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from greenwatch.alerts._config import (
    DEFAULT_EXTERNAL_URL,
    AlertingConfig,
    RoutePlan,
    match_routes,
    plan,
)
from greenwatch.alerts._matchers import matches_all
from greenwatch.alerts._notify import Notification, NotifiedAlert, Notifier, NotifyError
from greenwatch.alerts._silence import Silence
from greenwatch.alerts._state import AlertRecord

RETRY_BASE = pd.Timedelta(seconds=30)
RETRY_MAX = pd.Timedelta(minutes=15)
Save = Callable[[], None]


@dataclass
class Integration:
    """One way of reaching a receiver (a webhook, a mailbox, an Alertmanager)."""

    name: str
    receiver: str
    notifier: Notifier
    send_resolved: bool = True
    push_interval: timedelta | None = None  # Alertmanager: push every interval, no grouping


@dataclass
class IntegrationStats:
    sent: int = 0
    failed: int = 0
    last_success_at: str | None = None
    last_error: str | None = None
    last_error_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class GroupState:
    key: str
    integration: str
    route: str
    labels: dict[str, str]
    created_at: pd.Timestamp
    last_sent_at: pd.Timestamp | None = None
    notified: set[str] = field(default_factory=set)
    next_attempt_at: pd.Timestamp | None = None
    failures: int = 0
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["notified"] = sorted(self.notified)
        for key in ("created_at", "last_sent_at", "next_attempt_at"):
            value = getattr(self, key)
            out[key] = None if value is None else value.isoformat()
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> GroupState:
        def ts(key: str) -> pd.Timestamp | None:
            value = raw.get(key)
            return None if value is None else pd.Timestamp(value).tz_convert("UTC")

        created = ts("created_at")
        assert created is not None
        return cls(
            key=str(raw["key"]),
            integration=str(raw["integration"]),
            route=str(raw["route"]),
            labels=dict(raw["labels"]),
            created_at=created,
            last_sent_at=ts("last_sent_at"),
            notified=set(raw.get("notified", [])),
            next_attempt_at=ts("next_attempt_at"),
            failures=int(raw.get("failures", 0)),
            last_error=raw.get("last_error"),
        )


@dataclass(frozen=True)
class Due:
    """A notification to deliver for a group, and the firing alerts it tells about."""

    key: str
    integration: Integration
    notification: Notification
    firing: frozenset[str]


@dataclass(frozen=True)
class Mute:
    """Why a firing alert is not notified: silences, maintenance windows, inhibiting alerts."""

    silenced_by: tuple[str, ...] = ()
    maintenance: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.silenced_by or self.maintenance or self.inhibited_by)


def group_key(route: str, integration: str, labels: Mapping[str, str]) -> str:
    text = json.dumps([route, integration, sorted(labels.items())], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def alert_page_url(external_url: str, fingerprint: str) -> str:
    """The dashboard's alerts page showing one alert (in any state), for ``generatorURL``."""
    query = urlencode({"state": "firing,pending,silenced,resolved", "q": fingerprint})
    return f"{external_url.rstrip('/')}/alerts?{query}"


class Dispatcher:
    """Notifies the receivers of a config; state lives in the dicts the engine passes in."""

    def __init__(
        self,
        config: AlertingConfig,
        integrations: Mapping[str, list[Integration]],
        zone_of: Callable[[Mapping[str, str]], str | None],
        external_url: str = DEFAULT_EXTERNAL_URL,
    ) -> None:
        self.config = config
        self.external_url = (config.external_url or external_url).rstrip("/")
        self.root: RoutePlan = plan(config.route)
        self.integrations = integrations
        self.zone_of = zone_of

    def mutes(
        self, records: Mapping[str, AlertRecord], silences: list[Silence], now: pd.Timestamp
    ) -> dict[str, Mute]:
        """Why each muted firing alert is muted (alerts not muted are absent)."""
        firing = [r for r in records.values() if r.state == "firing"]
        active = [s for s in silences if s.active(now)]
        sources = self._inhibiting(firing)
        out: dict[str, Mute] = {}
        for record in firing:
            labels = record.labels
            silenced = tuple(s.id for s in active if matches_all(s.matchers, labels))
            windows = tuple(
                w.name
                for w in self.config.maintenance_windows
                if w.mutes(labels, now, self.zone_of(labels))
            )
            inhibitors: list[str] = []
            for rule, by_equal in zip(self.config.inhibit_rules, sources, strict=True):
                if by_equal and matches_all(rule.target_matchers, labels):
                    same = by_equal.get(tuple(labels.get(k, "") for k in rule.equal), ())
                    inhibitors += [f for f in same if f != record.fingerprint]
            mute = Mute(silenced, windows, tuple(dict.fromkeys(inhibitors)))
            if mute:
                out[record.fingerprint] = mute
        return out

    def _inhibiting(self, firing: list[AlertRecord]) -> list[dict[tuple[str, ...], list[str]]]:
        """For each inhibit rule, the firing alerts its sources match, by their values of the
        rule's ``equal`` labels (a missing label is empty, as in Alertmanager): a target is
        looked up once. Compared with every firing alert instead, 11,000 alerts firing (1,000
        sites down, ten silent meters each) took 320 s to sort out, now 0.13 s."""
        out: list[dict[tuple[str, ...], list[str]]] = []
        for rule in self.config.inhibit_rules:
            by_equal: dict[tuple[str, ...], list[str]] = {}
            for source in firing:
                if matches_all(rule.source_matchers, source.labels):
                    key = tuple(source.labels.get(k, "") for k in rule.equal)
                    by_equal.setdefault(key, []).append(source.fingerprint)
            out.append(by_equal)
        return out

    def _groups(
        self, records: Mapping[str, AlertRecord]
    ) -> dict[str, tuple[RoutePlan, Integration, dict[str, str], list[AlertRecord]]]:
        groups: dict[str, tuple[RoutePlan, Integration, dict[str, str], list[AlertRecord]]] = {}
        for record in records.values():
            for route in match_routes(self.root, record.labels):
                labels = route.group_labels(record.labels)
                for integ in self.integrations.get(route.receiver, []):
                    key = group_key(route.id, integ.name, labels)
                    groups.setdefault(key, (route, integ, labels, []))[3].append(record)
        return groups

    def plan(
        self,
        records: Mapping[str, AlertRecord],
        silences: list[Silence],
        states: dict[str, GroupState],
        now: pd.Timestamp,
    ) -> list[Due]:
        """The notifications due now (group states are created, pruned and retired here)."""
        muted = self.mutes(records, silences, now)
        due: list[Due] = []
        visited: set[str] = set()
        for key, (route, integ, labels, members) in self._groups(records).items():
            visited.add(key)
            firing = {
                r.fingerprint: r
                for r in members
                if r.state == "firing" and r.fingerprint not in muted
            }
            state = states.get(key)
            if state is None:
                if not firing:
                    continue
                state = states[key] = GroupState(key, integ.name, route.id, labels, now)
            state.notified -= set(muted)
            notification = self._due(route, integ, state, firing, records, now)
            if notification is not None:
                due.append(Due(key, integ, notification, frozenset(firing)))
            elif not state.notified and all(r.state != "firing" for r in members):
                del states[key]  # the episode is over; the next one waits group_wait again
        for key in [k for k in states if k not in visited]:
            if not any(fp in records for fp in states[key].notified):
                del states[key]  # its alerts are forgotten or the config no longer routes here
        return due

    @staticmethod
    def deliver(due: Due) -> str | None:
        """Send one notification; the error, or None when it was delivered."""
        try:
            due.integration.notifier.notify(due.notification)
        except NotifyError as exc:
            return exc.cause
        return None

    def settle(
        self,
        due: Due,
        error: str | None,
        states: dict[str, GroupState],
        stats: dict[str, IntegrationStats],
        now: pd.Timestamp,
    ) -> None:
        """Record a delivery: the group's notified alerts, or the failure and when to retry."""
        stat = stats.setdefault(due.integration.name, IntegrationStats())
        state = states.get(due.key)
        if error is not None:
            stat.failed += 1
            stat.last_error, stat.last_error_at = error, now.isoformat()
            if state is not None:
                state.failures += 1
                state.last_error = error
                state.next_attempt_at = now + min(RETRY_BASE * 2 ** (state.failures - 1), RETRY_MAX)
            return
        stat.sent += 1
        stat.last_success_at = now.isoformat()
        if state is not None:
            state.last_sent_at, state.notified = now, set(due.firing)
            state.failures, state.next_attempt_at, state.last_error = 0, None, None

    def dispatch(
        self,
        records: Mapping[str, AlertRecord],
        silences: list[Silence],
        states: dict[str, GroupState],
        stats: dict[str, IntegrationStats],
        now: pd.Timestamp,
        save: Save,
    ) -> int:
        """Plan, deliver and settle in one go; returns the number of notifications sent."""
        sent = 0
        for due in self.plan(records, silences, states, now):
            error = self.deliver(due)
            self.settle(due, error, states, stats, now)
            sent += error is None
            save()
        return sent

    def _due(
        self,
        route: RoutePlan,
        integ: Integration,
        state: GroupState,
        firing: dict[str, AlertRecord],
        records: Mapping[str, AlertRecord],
        now: pd.Timestamp,
    ) -> Notification | None:
        resolved = {fp for fp in state.notified if fp not in firing}
        gone = {fp for fp in resolved if fp not in records or records[fp].state == "firing"}
        resolved -= gone  # forgotten: nothing left to report
        state.notified -= gone
        if not integ.send_resolved:
            state.notified -= resolved
            resolved = set()
        new = set(firing) - state.notified
        wait, interval, repeat = route.group_wait, route.group_interval, route.repeat_interval
        if integ.push_interval is not None:
            wait, interval, repeat = timedelta(0), timedelta(0), integ.push_interval
        if state.last_sent_at is None:
            due = bool(new) and now >= state.created_at + wait
        else:
            since = now - state.last_sent_at
            unacked = any(r.ack is None for r in firing.values())
            due = (since >= interval and bool(new or resolved)) or (since >= repeat and unacked)
        if not due or (state.next_attempt_at is not None and now < state.next_attempt_at):
            return None
        alerts = [self._notified(r, "firing", now) for r in firing.values()]
        alerts += [self._notified(records[fp], "resolved", now) for fp in sorted(resolved)]
        return Notification(
            receiver=integ.receiver,
            group_key=f"{route.id}:{state.key}",
            group_labels=state.labels,
            alerts=tuple(alerts),
            external_url=self.external_url,
            sent_at=now,
        )

    def _notified(self, record: AlertRecord, status: str, now: pd.Timestamp) -> NotifiedAlert:
        ends = (record.resolved_at or now) if status == "resolved" else None
        return NotifiedAlert(
            fingerprint=record.fingerprint,
            status=status,
            labels=record.labels,
            annotations=record.annotations,
            starts_at=record.active_at,
            ends_at=ends,
            generator_url=alert_page_url(self.external_url, record.fingerprint),
            value=record.value,
        )
