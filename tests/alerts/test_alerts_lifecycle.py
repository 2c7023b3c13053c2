"""inactive -> pending -> firing -> resolved, fingerprints, holding, persistence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from greenwatch.alerts import AlertRecord, fingerprint
from greenwatch.alerts._outcome import Hit, Outcome
from greenwatch.alerts._persist import StateStore
from greenwatch.alerts._rules import AlertSpec
from greenwatch.alerts._state import advance, retire_orphans

T = pd.Timestamp("2025-03-03T00:00:00Z")
SPEC = AlertSpec(
    "HotGpu",
    "HotGpu",
    "critical",
    timedelta(minutes=5),
    timedelta(minutes=3),
    {"team": "compute"},
    {"summary": "{sensor} at {value:.0f} °C"},
)
LABELS = {"site": "guian-1", "sensor": "gpu0"}


def enrich(labels: dict[str, str]) -> dict[str, str]:
    return {"region": "west"} if labels.get("site") == "guian-1" else {}


def at(minutes: int) -> pd.Timestamp:
    return T + pd.Timedelta(minutes=minutes)


def run(
    records: dict[str, AlertRecord], active: bool, minute: int, held: bool = False
) -> list[str]:
    outcome = Outcome("HotGpu")
    if active:
        outcome.hits.append(Hit(LABELS, 90.0))
    if held:
        outcome.held.append(LABELS)
    changes = advance(records, SPEC, outcome, at(minute), enrich)  # type: ignore[arg-type]
    return [f"{c.before}->{c.after}" for c in changes]


def test_fingerprints_are_stable_and_order_free() -> None:
    a = fingerprint({"alertname": "X", "site": "s", "meter": "m"})
    assert a == fingerprint({"meter": "m", "site": "s", "alertname": "X"})
    assert a != fingerprint({"alertname": "X", "site": "s", "meter": "n"})
    assert len(a) == 16
    assert a == "".join(c for c in a if c in "0123456789abcdef")


def test_pending_for_then_firing_then_keep_firing_then_resolved() -> None:
    records: dict[str, AlertRecord] = {}
    assert run(records, True, 0) == ["None->pending"]
    assert run(records, True, 4) == []
    assert run(records, True, 5) == ["pending->firing"]
    record = next(iter(records.values()))
    assert record.labels == {
        **LABELS,
        "region": "west",
        "team": "compute",
        "alertname": "HotGpu",
        "severity": "critical",
    }
    assert record.annotations == {"summary": "gpu0 at 90 °C"}
    assert record.fired_at == at(5)
    assert record.active_at == at(0)
    assert run(records, False, 6) == []  # keep_firing_for 3m
    assert run(records, True, 7) == []
    assert run(records, False, 9) == []
    assert run(records, False, 10) == ["firing->resolved"]
    assert record.resolved_at == at(10)
    assert run(records, True, 11) == ["None->pending"]  # a new episode, same fingerprint
    assert next(iter(records.values())).active_at == at(11)


def test_a_pending_alert_that_stops_is_dropped() -> None:
    records: dict[str, AlertRecord] = {}
    run(records, True, 0)
    assert run(records, False, 3) == ["pending->None"]
    assert records == {}


def test_held_instances_keep_their_state() -> None:
    records: dict[str, AlertRecord] = {}
    run(records, True, 0)
    run(records, True, 5)
    assert run(records, False, 20, held=True) == []
    assert next(iter(records.values())).state == "firing"
    error = Outcome("HotGpu", error="StoreError: down")
    assert advance(records, SPEC, error, at(30), enrich) == []  # type: ignore[arg-type]


def test_alerts_of_removed_rules_are_retired() -> None:
    records: dict[str, AlertRecord] = {}
    run(records, True, 0)
    run(records, True, 5)
    changes = retire_orphans(records, {"Other"}, at(6))
    assert [(c.before, c.after) for c in changes] == [("firing", "resolved")]


def test_records_survive_the_state_file(tmp_path: Path) -> None:
    records: dict[str, AlertRecord] = {}
    run(records, True, 0)
    run(records, True, 5)
    store = StateStore(tmp_path / "alerts.sqlite")
    store.save({"alerts": {k: r.to_json() for k, r in records.items()}})
    store.close()
    again = StateStore(tmp_path / "alerts.sqlite").load("alerts")
    loaded = {k: AlertRecord.from_json(v) for k, v in again.items()}
    assert loaded == records


def test_saved_times_keep_their_own_zone_and_precision() -> None:
    shanghai = T.tz_convert("Asia/Shanghai")
    precise = T + pd.Timedelta(nanoseconds=123_456_789)
    a = AlertRecord("a", "R", {}, {}, "firing", T, T, fired_at=shanghai, resolved_at=precise)
    b = AlertRecord("b", "R", {}, {}, "firing", shanghai, T, last_eval_at=T.as_unit("s"))
    saved = [a.to_json(), b.to_json()]
    assert [s["active_at"] for s in saved] == [T.isoformat(), shanghai.isoformat()]
    assert saved[0]["fired_at"] == "2025-03-03T08:00:00+08:00"
    assert saved[0]["resolved_at"] == "2025-03-03T00:00:00.123456789+00:00"
    assert saved[1]["last_eval_at"] == "2025-03-03T00:00:00+00:00"


def test_kept_identities_say_what_fresh_ones_say() -> None:
    kept: dict[Any, Any] = {}
    fresh: dict[str, AlertRecord] = {}
    reused: dict[str, AlertRecord] = {}
    other = {"site": "guian-2", "sensor": "gpu1"}
    for minute, labels in enumerate([[LABELS], [LABELS, other], [other], [other], [LABELS]]):
        outcome = Outcome("HotGpu", [Hit(dict(x), 90.0) for x in labels], held=[dict(other)])
        now = at(minute * 3)
        said = advance(fresh, SPEC, outcome, now, enrich)  # type: ignore[arg-type]
        assert advance(reused, SPEC, outcome, now, enrich, known=kept) == said  # type: ignore[arg-type]
        assert {fp: r.to_json() for fp, r in fresh.items()} == {
            fp: r.to_json() for fp, r in reused.items()
        }
    next(iter(reused.values())).labels["site"] = "elsewhere"  # a record's labels are its own
    assert all(full["site"] != "elsewhere" for full, _ in kept.values())
