"""Alert instances and their lifecycle: inactive -> pending -> firing -> resolved.

An instance is identified by its fingerprint, a stable hash of its labels (``alertname``
included), so the same alert keeps its identity across evaluations, processes and restarts.
Inactive instances are not stored. A pending instance that stops being active is dropped; a
firing one stays firing for ``keep_firing_for`` after its condition last held, then resolves.
An instance the rule could not judge (low coverage, a failed read) keeps its state.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from functools import lru_cache
from typing import Any, Literal

import pandas as pd

from greenwatch.alerts._outcome import Outcome
from greenwatch.alerts._rules import AlertSpec
from greenwatch.alerts._template import render

State = Literal["pending", "firing", "resolved"]
Enrich = Callable[[Mapping[str, str]], Mapping[str, str]]


def fingerprint(labels: Mapping[str, str]) -> str:
    """Stable 16-hex-digit identity of a label set (sha256 of its sorted items)."""
    text = json.dumps(sorted(labels.items()), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _ts(value: object) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(str(value)).tz_convert("UTC")


def _iso(value: pd.Timestamp | None) -> str | None:
    return None if value is None else _iso_at(value.value, value.tzinfo)


@lru_cache(maxsize=4096)  # records share their instants (mostly one per evaluation)
def _iso_at(ns: int, tz: tzinfo | None) -> str:
    return pd.Timestamp(ns, tz=tz).isoformat()


@dataclass
class Ack:
    by: str
    at: pd.Timestamp
    comment: str = ""


@dataclass
class AlertRecord:
    """One alert instance (not inactive). Times are UTC."""

    fingerprint: str
    rule_id: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: State
    active_at: pd.Timestamp
    last_active_at: pd.Timestamp
    value: float = math.nan
    fired_at: pd.Timestamp | None = None
    resolved_at: pd.Timestamp | None = None
    last_eval_at: pd.Timestamp | None = None
    ack: Ack | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", self.rule_id)

    def to_json(self) -> dict[str, Any]:
        ack = self.ack
        return {
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "labels": self.labels,
            "annotations": self.annotations,
            "state": self.state,
            "active_at": _iso(self.active_at),
            "last_active_at": _iso(self.last_active_at),
            "value": None if math.isnan(self.value) else self.value,
            "fired_at": _iso(self.fired_at),
            "resolved_at": _iso(self.resolved_at),
            "last_eval_at": _iso(self.last_eval_at),
            "ack": None
            if ack is None
            else {"by": ack.by, "at": _iso(ack.at), "comment": ack.comment},
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> AlertRecord:
        ack = raw.get("ack")
        active = _ts(raw["active_at"])
        assert active is not None
        return cls(
            fingerprint=str(raw["fingerprint"]),
            rule_id=str(raw["rule_id"]),
            labels=dict(raw["labels"]),
            annotations=dict(raw["annotations"]),
            state=raw["state"],
            active_at=active,
            last_active_at=_ts(raw["last_active_at"]) or active,
            value=math.nan if raw.get("value") is None else float(raw["value"]),
            fired_at=_ts(raw.get("fired_at")),
            resolved_at=_ts(raw.get("resolved_at")),
            last_eval_at=_ts(raw.get("last_eval_at")),
            ack=None
            if not ack
            else Ack(str(ack["by"]), _ts(ack["at"]) or active, str(ack.get("comment", ""))),
            extra=dict(raw.get("extra") or {}),
        )


@dataclass(frozen=True)
class Transition:
    """A change of state (``None`` is inactive)."""

    fingerprint: str
    alertname: str
    before: State | None
    after: State | None
    at: pd.Timestamp


def full_labels(spec: AlertSpec, labels: Mapping[str, str], enrich: Enrich) -> dict[str, str]:
    """Series labels, then inventory labels they lack, then the rule's, alertname, severity."""
    out = dict(labels)
    for key, value in enrich(labels).items():
        out.setdefault(key, value)
    out.update(spec.labels)
    out["alertname"] = spec.alertname
    out["severity"] = spec.severity
    return out


Identities = dict[tuple[str, tuple[tuple[str, str], ...]], tuple[dict[str, str], str]]


def identity(
    spec: AlertSpec, labels: Mapping[str, str], enrich: Enrich, known: Identities | None = None
) -> tuple[dict[str, str], str]:
    """The full labels of a rule's instance and their fingerprint; ``known`` keeps them by
    rule and series labels (the same every evaluation: enrichment and rules are fixed)."""
    if known is None:
        full = full_labels(spec, labels, enrich)
        return full, fingerprint(full)
    key = (spec.rule_id, tuple(labels.items()))
    found = known.get(key)
    if found is None:
        full = full_labels(spec, labels, enrich)
        found = known[key] = (full, fingerprint(full))
    return found


def advance(
    records: dict[str, AlertRecord],
    spec: AlertSpec,
    outcome: Outcome,
    now: pd.Timestamp,
    enrich: Enrich,
    mine: set[str] | None = None,
    known: Identities | None = None,
) -> list[Transition]:
    """Apply one evaluation of one rule to the records (in place); returns the transitions.

    ``mine``: the fingerprints of the rule's records, when the caller has them indexed;
    ``known``: full labels and fingerprints kept between evaluations (see :func:`identity`).
    """
    changes: list[Transition] = []
    if mine is None:
        mine = {fp for fp, r in records.items() if r.rule_id == spec.rule_id}
    if outcome.error is not None:
        return changes
    seen: set[str] = set()
    for held in outcome.held:
        seen.add(identity(spec, held, enrich, known)[1])
    for hit in outcome.hits:
        labels, fp = identity(spec, hit.labels, enrich, known)
        seen.add(fp)
        figures = {"value": hit.value, **hit.figures}
        annotations = {k: render(t, labels, figures) for k, t in spec.annotations.items()}
        record = records.get(fp)
        if record is None or record.state == "resolved":
            record = AlertRecord(fp, spec.rule_id, dict(labels), annotations, "pending", now, now)
            records[fp] = record
            changes.append(Transition(fp, spec.alertname, None, "pending", now))
        record.value, record.annotations = hit.value, annotations
        record.last_active_at = record.last_eval_at = now
        if record.state == "pending" and now - record.active_at >= pd.Timedelta(spec.for_):
            record.state, record.fired_at = "firing", now
            changes.append(Transition(fp, spec.alertname, "pending", "firing", now))
    for fp in mine - seen:
        record = records[fp]
        record.last_eval_at = now
        if record.state == "pending":
            del records[fp]
            changes.append(Transition(fp, spec.alertname, "pending", None, now))
        elif record.state == "firing":
            if now - record.last_active_at < pd.Timedelta(spec.keep_firing_for):
                continue
            record.state, record.resolved_at = "resolved", now
            changes.append(Transition(fp, spec.alertname, "firing", "resolved", now))
    return changes


def retire_orphans(
    records: dict[str, AlertRecord], rule_ids: set[str], now: pd.Timestamp
) -> list[Transition]:
    """Resolve firing and drop pending instances of rules no longer loaded."""
    changes = []
    for fp, record in list(records.items()):
        if record.rule_id in rule_ids or record.state == "resolved":
            continue
        if record.state == "pending":
            del records[fp]
            changes.append(Transition(fp, record.alertname, "pending", None, now))
        else:
            record.state, record.resolved_at = "resolved", now
            changes.append(Transition(fp, record.alertname, "firing", "resolved", now))
    return changes
