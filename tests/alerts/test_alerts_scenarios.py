"""The shipped rules against the simulator's fault scripts, evaluated on a fake clock.

One replay (25:00 to 29:10 after T0, every 2 minutes) of the default rules that concern the
incidents, through the shipped inhibitions and a Tuesday maintenance window at guian-1, with a
recording receiver; the tests read what happened. See ``_network`` for the timeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.alerts import (
    AlertEngine,
    AlertingConfig,
    MaintenanceWindow,
    Matcher,
    Receiver,
    Route,
    RuleSet,
    build_dispatcher,
    load_config,
    load_rules,
)
from greenwatch.inventory import Inventory
from greenwatch.store import DuckDBStore
from greenwatch.testing import FakeClock, RecordingNotifier
from tests.alerts._network import FLAP_LINK, Replay, after, replay

SCENARIO_RULES = (
    "SitePueAboveTarget",
    "SiteDown",
    "MeterSilent",
    "SubmeterDrift",
    "LinkDown",
    "LinkLossHigh",
)
STEP = pd.Timedelta(minutes=2)


def scenario_rules() -> RuleSet:
    pack = load_rules()
    return RuleSet(pack.source, tuple(r for r in pack.rules if r.alert in SCENARIO_RULES))


def scenario_config() -> AlertingConfig:
    shipped = load_config()
    return AlertingConfig(
        route=Route(
            receiver="oncall",
            group_by=("alertname", "site"),
            group_wait=timedelta(seconds=30),
            group_interval=timedelta(minutes=5),
            repeat_interval=timedelta(hours=4),
        ),
        receivers=(Receiver(name="oncall"),),
        inhibit_rules=shipped.inhibit_rules,
        maintenance_windows=(
            # Tuesday 11:00-11:30 in guian-1's time zone (Asia/Shanghai) = 03:00-03:30 UTC,
            # i.e. after(27) to after(27, 30): in the middle of the chiller failure.
            MaintenanceWindow(
                name="guian-1-tuesday",
                matchers=(Matcher.parse('site="guian-1"'),),
                schedule="weekly",
                weekdays=("tue",),
                start=time(11, 0),
                duration=timedelta(minutes=30),
            ),
        ),
    )


@dataclass
class Run:
    engine: AlertEngine
    pager: RecordingNotifier
    replay: Replay
    during_maintenance: list[dict[str, object]]

    def sent(self, alertname: str, site: str, status: str = "firing") -> list[pd.Timestamp]:
        """When notifications carried this alert with this status."""
        return [
            n.sent_at
            for n in self.pager.notifications
            for a in (n.firing if status == "firing" else n.resolved)
            if a.labels["alertname"] == alertname and a.labels.get("site") == site
        ]


@pytest.fixture(scope="module")
def run(network_store: DuckDBStore, inventory: Inventory) -> Iterator[Run]:
    pager = RecordingNotifier()
    clock = FakeClock(after(25))
    config = scenario_config()
    engine = AlertEngine(
        network_store,
        inventory,
        scenario_rules(),
        config,
        clock=clock,
        dispatcher=build_dispatcher(config, inventory, clock=clock, notifiers={"oncall": pager}),
    )
    record = replay(engine, after(25), after(27, 10), STEP)
    during = engine.alerts(after(27, 10))
    replay(engine, after(27, 12), after(29, 10), STEP, record)
    yield Run(engine, pager, record, during)
    engine.close()


def test_chiller_failure_fires_after_for_and_resolves_after_repair(run: Run) -> None:
    steps = run.replay.of("SitePueAboveTarget", site="guian-1")
    states = [(t.before, t.after) for t in steps]
    assert states == [(None, "pending"), ("pending", "firing"), ("firing", "resolved")]
    pending, firing, resolved = (t.at for t in steps)
    assert after(26) < pending < after(26, 45)
    assert firing - pending >= pd.Timedelta(minutes=15)  # the rule's ``for``
    assert firing - pending < pd.Timedelta(minutes=15) + STEP
    assert resolved > after(28)  # after the repair, once the 1-hour window is good again
    first = run.sent("SitePueAboveTarget", "guian-1")[0]
    assert firing <= first <= firing + STEP  # group_wait 30 s: the next tick
    assert run.sent("SitePueAboveTarget", "guian-1", "resolved") == [resolved]
    summary = next(
        a.annotations["summary"]
        for n in run.pager.notifications
        for a in n.firing
        if a.labels["alertname"] == "SitePueAboveTarget"
    )
    assert summary.startswith("PUE 1.")
    assert "guian-1" in summary
    assert "target 1.20" in summary


def test_meter_dropout_raises_data_quality_alerts_and_no_pue_alert(run: Run) -> None:
    assert run.replay.of("SitePueAboveTarget", site="shaoguan-1") == []
    fired = {
        t.alertname
        for t in run.replay.transitions
        if t.after == "firing" and run.replay.of(t.alertname, site="shaoguan-1")
    }
    assert {"KpiDataIncomplete", "MeterSilent", "SubmeterDrift"} <= fired
    assert run.replay.of("MeterSilent", site="shaoguan-1", meter="facility")
    assert run.replay.of("KpiDataIncomplete", site="shaoguan-1", kpi="pue", category="data_quality")
    drift = [
        a
        for n in run.pager.notifications
        for a in n.firing
        if a.labels["alertname"] == "SubmeterDrift" and a.labels["site"] == "shaoguan-1"
    ]
    assert drift
    assert "parent meter missing" in drift[0].annotations["summary"]
    assert run.sent("KpiDataIncomplete", "shaoguan-1")
    assert run.sent("SitePueAboveTarget", "shaoguan-1") == []


def test_link_flap_shorter_than_for_raises_nothing(run: Run) -> None:
    link = run.replay.of("LinkDown", link=FLAP_LINK) + run.replay.of("LinkLossHigh", link=FLAP_LINK)
    assert any(t.after == "pending" for t in link)  # the flap was seen …
    assert all(t.after != "firing" for t in link)  # … but never lasted the rule's ``for``
    assert not [a for n in run.pager.notifications for a in n.alerts if "link" in a.labels]


def test_site_down_inhibits_that_sites_data_quality_alerts(run: Run) -> None:
    down = run.replay.of("SiteDown", site="qingyang-2")
    assert [t.after for t in down] == ["pending", "firing", "resolved"]
    fired, back = down[1].at, down[2].at
    assert run.sent("SiteDown", "qingyang-2")
    assert run.sent("SiteDown", "qingyang-2", "resolved")
    silent = run.replay.of("MeterSilent", site="qingyang-2")
    assert any(t.after == "firing" and fired < t.at < back for t in silent)
    for n in run.pager.notifications:
        if fired <= n.sent_at < back:
            others = [a.labels["alertname"] for a in n.firing if a.labels["site"] == "qingyang-2"]
            assert others in ([], ["SiteDown"])


def test_maintenance_window_mutes_then_notifies_again_if_still_firing(run: Run) -> None:
    sent = run.sent("SitePueAboveTarget", "guian-1")
    assert sent[0] < after(27)
    assert not [t for t in sent if after(27) <= t < after(27, 30)]  # muted in the window
    again = [t for t in sent if t >= after(27, 30)]
    assert again
    assert again[0] <= after(27, 30) + STEP
    view = next(a for a in run.during_maintenance if a["alertname"] == "SitePueAboveTarget")
    assert view["state"] == "firing"
    assert view["maintenance"] == ["guian-1-tuesday"]
    assert view["silenced"] is True


def test_restart_mid_incident_neither_repages_nor_loses_the_alert(
    network_store: DuckDBStore, inventory: Inventory, tmp_path: Path
) -> None:
    state = tmp_path / "alerts.sqlite"

    def engine(pager: RecordingNotifier) -> AlertEngine:
        config, clock = scenario_config(), FakeClock(after(26))
        return AlertEngine(
            network_store,
            inventory,
            scenario_rules(),
            config,
            state_path=state,
            clock=clock,
            dispatcher=build_dispatcher(
                config, inventory, clock=clock, notifiers={"oncall": pager}
            ),
        )

    # First process: evaluates until the PUE alert fires, then dies before dispatching.
    first = engine(RecordingNotifier())
    now = after(26)
    while not any(
        r.state == "firing" and r.alertname == "SitePueAboveTarget" for r in first.records.values()
    ):
        now += pd.Timedelta(minutes=1)
        first.evaluate(now)
    first.close()
    # Second process: the firing alert survived and is paged once.
    pager = RecordingNotifier()
    second = engine(pager)
    replay(second, now + pd.Timedelta(minutes=1), now + pd.Timedelta(minutes=9), STEP)
    assert pager.firing().count(("SitePueAboveTarget", "guian-1")) == 1
    paged_at = pager.notifications[0].sent_at
    second.close()
    # Third process, still within repeat_interval: no second page for the same incident.
    again = RecordingNotifier()
    third = engine(again)
    replay(third, now + pd.Timedelta(minutes=11), now + pd.Timedelta(minutes=19), STEP)
    assert ("SitePueAboveTarget", "guian-1") not in again.firing()
    fp = next(r.fingerprint for r in third.records.values() if r.alertname == "SitePueAboveTarget")
    assert third.records[fp].state == "firing"
    assert third.records[fp].fired_at is not None
    assert third.records[fp].fired_at <= paged_at
    third.close()
