"""Routing, grouping and timing, inhibition, silences, maintenance windows, acks, retries."""

from __future__ import annotations

from datetime import time, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwatch.alerts import (
    AlertingConfig,
    AlertRecord,
    InhibitRule,
    MaintenanceWindow,
    Matcher,
    Silence,
    SilenceError,
    fingerprint,
    load_config,
)
from greenwatch.alerts._dispatch import Dispatcher, GroupState, Integration, IntegrationStats
from greenwatch.alerts._state import Ack
from greenwatch.testing import RecordingNotifier

T = pd.Timestamp("2025-03-04T00:00:00Z")  # a Tuesday


def at(minutes: float) -> pd.Timestamp:
    return T + pd.Timedelta(minutes=minutes)


def alert(name: str, site: str, state: str = "firing", **labels: str) -> AlertRecord:
    full = {"alertname": name, "site": site, "severity": "warning", **labels}
    fp = fingerprint(full)
    return AlertRecord(fp, name, full, {"summary": f"{name} at {site}"}, state, T, T)  # type: ignore[arg-type]


def m(*texts: str) -> tuple[Matcher, ...]:
    return tuple(Matcher.parse(t) for t in texts)


class Harness:
    """A dispatcher with recording receivers and the state dicts the engine would keep."""

    def __init__(self, config: AlertingConfig, zone: str | None = None) -> None:
        self.pagers = {r.name: RecordingNotifier(r.name) for r in config.receivers}
        integrations = {
            name: [Integration(f"{name}/rec", name, pager)] for name, pager in self.pagers.items()
        }
        self.dispatcher = Dispatcher(config, integrations, lambda _labels: zone)
        self.records: dict[str, AlertRecord] = {}
        self.silences: list[Silence] = []
        self.groups: dict[str, GroupState] = {}
        self.stats: dict[str, IntegrationStats] = {}

    def add(self, record: AlertRecord) -> AlertRecord:
        self.records[record.fingerprint] = record
        return record

    def tick(self, minutes: float) -> int:
        return self.dispatcher.dispatch(
            self.records, self.silences, self.groups, self.stats, at(minutes), lambda: None
        )

    def sent(self, receiver: str = "oncall") -> list[tuple[str, list[str], list[str]]]:
        return [
            (
                n.sent_at.strftime("%H:%M"),
                sorted(a.labels["site"] for a in n.firing),
                sorted(a.labels["site"] for a in n.resolved),
            )
            for n in self.pagers[receiver].notifications
        ]


def config(**kw: object) -> AlertingConfig:
    base: dict[str, object] = {
        "route": {
            "receiver": "oncall",
            "group_by": ["alertname"],
            "group_wait": "1m",
            "group_interval": "5m",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "oncall"}, {"name": "west"}, {"name": "critical"}],
    }
    return AlertingConfig.model_validate(base | kw)


def test_group_wait_interval_repeat_and_resolution() -> None:
    h = Harness(config())
    a = h.add(alert("Hot", "a"))
    h.tick(0)
    assert h.sent() == []  # group_wait
    h.add(alert("Hot", "b"))
    h.tick(1)
    assert h.sent() == [("00:01", ["a", "b"], [])]  # one notification for the group
    h.add(alert("Hot", "c"))
    h.tick(3)
    assert len(h.sent()) == 1  # group_interval not over
    h.tick(6)
    assert h.sent()[-1] == ("00:06", ["a", "b", "c"], [])
    a.state, a.resolved_at = "resolved", at(10)
    h.tick(10)
    assert len(h.sent()) == 2
    h.tick(11)
    assert h.sent()[-1] == ("00:11", ["b", "c"], ["a"])  # resolution reported once
    h.tick(17)
    assert len(h.sent()) == 3
    h.tick(71)
    assert h.sent()[-1] == ("01:11", ["b", "c"], [])  # repeat_interval


def test_routes_by_labels_with_continue() -> None:
    routed = config(
        route={
            "receiver": "oncall",
            "group_by": ["alertname", "site"],
            "group_wait": "0s",
            "routes": [
                {"matchers": ['severity="critical"'], "receiver": "critical", "continue": True},
                {"matchers": ['region="west"', 'hub=~"guizhou|gansu"'], "receiver": "west"},
            ],
        }
    )
    h = Harness(routed)
    h.add(alert("Down", "guian-1", severity="critical", region="west", hub="guizhou"))
    h.add(alert("Hot", "qingyang-1", region="west", hub="gansu"))
    h.add(alert("Hot", "shaoguan-1", region="east", hub="greater-bay"))
    h.tick(0)
    assert [s for _, s, _ in h.sent("critical")] == [["guian-1"]]
    assert sorted(s[0] for _, s, _ in h.sent("west")) == ["guian-1", "qingyang-1"]
    assert [s for _, s, _ in h.sent("oncall")] == [["shaoguan-1"]]


def test_inhibition_needs_equal_labels() -> None:
    h = Harness(
        config(
            inhibit_rules=[
                InhibitRule(
                    source_matchers=m('alertname="SiteDown"'),
                    target_matchers=m('category="efficiency"'),
                    equal=("site",),
                )
            ]
        )
    )
    h.add(alert("SiteDown", "a"))
    pue_a = h.add(alert("Pue", "a", category="efficiency"))
    h.add(alert("Pue", "b", category="efficiency"))
    mutes = h.dispatcher.mutes(h.records, [], at(0))
    assert list(mutes) == [pue_a.fingerprint]
    h.tick(0)
    h.tick(1)
    sent = [
        (a.labels["alertname"], a.labels["site"])
        for n in h.pagers["oncall"].notifications
        for a in n.firing
    ]
    assert sorted(sent) == [("Pue", "b"), ("SiteDown", "a")]


def test_a_silence_mutes_and_its_end_renotifies() -> None:
    h = Harness(config())
    h.add(alert("Hot", "a"))
    h.tick(0)
    h.tick(1)
    assert len(h.sent()) == 1
    silence = Silence.create(
        ['site="a"'],
        created_by="ops",
        comment="swapping a chiller",
        now=at(2),
        duration=timedelta(minutes=30),
    )
    h.silences.append(silence)
    for minute in range(2, 32):
        h.tick(minute)
    assert len(h.sent()) == 1  # muted: no repeat, no resolution
    h.tick(32)
    assert h.sent()[-1] == ("00:32", ["a"], [])  # still firing when the silence ended
    assert silence.status(at(40)) == "expired"


def test_silences_need_matchers_creator_comment_and_an_end() -> None:
    now = at(0)
    with pytest.raises(SilenceError, match="matcher"):
        Silence.create([], created_by="x", comment="y", now=now, duration=timedelta(hours=1))
    with pytest.raises(SilenceError, match="creator"):
        Silence.create(
            ['site="a"'], created_by=" ", comment="y", now=now, duration=timedelta(hours=1)
        )
    with pytest.raises(SilenceError, match="comment"):
        Silence.create(
            ['site="a"'], created_by="x", comment="", now=now, duration=timedelta(hours=1)
        )
    with pytest.raises(SilenceError, match="endsAt"):
        Silence.create(['site="a"'], created_by="x", comment="y", now=now)
    with pytest.raises(SilenceError, match="narrower"):
        Silence.create(
            ['site=~".*"'], created_by="x", comment="y", now=now, duration=timedelta(hours=1)
        )
    s = Silence.create(['site="a"'], created_by="x", comment="y", now=now, ends_at=at(60))
    assert Silence.from_json(s.to_json()) == s
    assert s.expire(at(10)).ends_at == at(10)


def window(**kw: object) -> MaintenanceWindow:
    base = {"name": "w", "matchers": ['site="a"'], "start": "02:00", "duration": "4h"}
    return MaintenanceWindow.model_validate(base | kw)


def test_maintenance_windows_follow_the_sites_time_zone() -> None:
    weekly = window(schedule="weekly", weekdays=["tue"])
    # 02:00-06:00 Asia/Shanghai on Tuesday = Monday 18:00 - Tuesday 22:00 UTC.
    assert weekly.active(pd.Timestamp("2025-03-03T18:30Z"), "Asia/Shanghai")
    assert not weekly.active(pd.Timestamp("2025-03-03T22:30Z"), "Asia/Shanghai")
    assert weekly.active(pd.Timestamp("2025-03-04T02:30Z"), None)  # UTC without a zone
    monthly = window(
        schedule="monthly", days=[-1], start=time(23, 0), duration="2h", timezone="Asia/Shanghai"
    )
    assert monthly.active(pd.Timestamp("2025-02-28T15:30Z"), None)  # 23:30 on the last day
    assert monthly.active(pd.Timestamp("2025-02-28T16:30Z"), None)  # 00:30 the next day
    assert not monthly.active(pd.Timestamp("2025-02-27T15:30Z"), None)
    with pytest.raises(ValueError, match="weekdays"):
        window(schedule="weekly")
    with pytest.raises(ValueError, match="time zone"):
        window(schedule="daily", timezone="Mars/Olympus")


def test_maintenance_window_mutes_through_the_dispatcher() -> None:
    h = Harness(
        config(maintenance_windows=[window(schedule="daily", start="00:10", duration="20m")]),
        zone="UTC",
    )
    h.add(alert("Hot", "a"))
    h.tick(0)
    h.tick(1)
    for minute in range(10, 30):
        h.tick(minute)
    assert [t for t, _, _ in h.sent()] == ["00:01"]
    h.tick(30)
    assert [t for t, _, _ in h.sent()] == ["00:01", "00:30"]
    mutes = h.dispatcher.mutes(h.records, [], at(15))
    assert next(iter(mutes.values())).maintenance == ("w",)


def test_an_acknowledged_alert_is_not_repeated_but_its_resolution_is_sent() -> None:
    h = Harness(config())
    a = h.add(alert("Hot", "a"))
    h.tick(0)
    h.tick(1)
    a.ack = Ack("li.wei", at(2), "on it")
    h.tick(70)
    assert len(h.sent()) == 1
    a.state, a.resolved_at = "resolved", at(80)
    h.tick(80)
    assert h.sent()[-1] == ("01:20", [], ["a"])


def test_failed_deliveries_are_counted_retried_and_never_lost() -> None:
    h = Harness(config())
    h.pagers["oncall"].fail(2, "connection refused")
    h.add(alert("Hot", "a"))
    h.tick(0)
    h.tick(1)
    stats = h.stats["oncall/rec"]
    assert (stats.sent, stats.failed, stats.last_error) == (0, 1, "connection refused")
    group = next(iter(h.groups.values()))
    assert group.failures == 1
    assert group.next_attempt_at == at(1.5)
    h.tick(1.25)
    assert h.pagers["oncall"].attempts == 1  # backing off
    h.tick(2)
    assert group.failures == 2
    assert group.next_attempt_at == at(3)
    h.tick(3)
    assert h.sent() == [("00:03", ["a"], [])]
    assert (stats.sent, stats.failed) == (1, 2)
    assert group.failures == 0


def _inhibitors_one_by_one(
    config: AlertingConfig, records: dict[str, AlertRecord]
) -> dict[str, tuple[str, ...]]:
    """Inhibition as Alertmanager defines it, each target against every firing alert."""
    firing = [r for r in records.values() if r.state == "firing"]
    out: dict[str, tuple[str, ...]] = {}
    for target in firing:
        found = [
            source.fingerprint
            for rule in config.inhibit_rules
            if all(mt.matches(target.labels) for mt in rule.target_matchers)
            for source in firing
            if source.fingerprint != target.fingerprint
            and all(mt.matches(source.labels) for mt in rule.source_matchers)
            and all(source.labels.get(k, "") == target.labels.get(k, "") for k in rule.equal)
        ]
        if found:
            out[target.fingerprint] = tuple(dict.fromkeys(found))
    return out


_NAMES = ("NoDataArriving", "HubNoData", "SiteDown", "MeterSilent", "PueHigh", "LinkDown",
          "LinkLossHigh")  # fmt: skip
_ALERTS = st.lists(
    st.tuples(
        st.sampled_from(_NAMES),
        st.sampled_from(("a", "b", "c")),  # site
        st.sampled_from(("", "h1", "h2")),  # hub ("": no hub label)
        st.sampled_from(("", "efficiency", "cooling", "network")),  # category
        st.sampled_from(("", "l1", "l2")),  # link
        st.sampled_from(("firing", "firing", "resolved")),
    ),
    max_size=40,
)


@given(alerts=_ALERTS)
@settings(max_examples=300, deadline=None)
def test_inhibitions_are_alertmanagers_for_any_set_of_alerts(
    alerts: list[tuple[str, str, str, str, str, str]],
) -> None:
    shipped = load_config()  # the national pack's inhibitions, equal labels and all
    h = Harness(shipped)
    for name, site, hub, category, link, state in alerts:
        extra = {k: v for k, v in (("hub", hub), ("category", category), ("link", link)) if v}
        h.add(alert(name, site, state, **extra))
    mutes = h.dispatcher.mutes(h.records, [], at(0))
    got = {fp: mute.inhibited_by for fp, mute in mutes.items() if mute.inhibited_by}
    assert got == _inhibitors_one_by_one(shipped, h.records)
