"""No page storms: the whole national network falling silent at once (the central feed stops)
pages at most three times, and one site going dark pages once, through both paths on-call staff
use: greenwatch's own dispatch with the shipped routes and inhibitions to an HMAC-signed
webhook, and a real Alertmanager with the shipped ``deploy/alertmanager/alertmanager.yml``.

The national inventory is simulated for three hours up to 26 minutes before the test; then
nothing more arrives (or everything but ``DARK``) and the engine ticks every minute for 25
minutes — long enough for SiteDown, HubNoData, NoDataArriving (10 min), MeterSilent (20 min)
and KpiDataIncomplete to fire.
Alertmanager judges ``endsAt`` by its own clock, so the run ends a minute before the real now —
the now of each test, not of the collection: on a busy machine a suite reaches these tests long
after it imported them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from greenwatch.alerts import (
    AlertEngine,
    AlertingConfig,
    RuleSet,
    build_dispatcher,
    load_config,
    load_rules,
)
from greenwatch.inventory import Inventory, load_inventory
from greenwatch.model import load_yaml, parse_model
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore
from greenwatch.testing import FakeClock, RecordingNotifier
from tests.alerts import servers
from tests.deploy.conftest import DEPLOY

SECRET = b"storm-secret"
DARK = "guian-1"
MINUTES = range(1, 26)
# The shipped pack's availability and data-quality rules, and a KPI rule for its
# KpiDataIncomplete companion (other rules judge what still arrives, not the outage).
STORM_RULES = (
    "NoDataArriving",
    "HubNoData",
    "SiteDown",
    "MeterSilent",
    "CollectorDown",
    "SitePueAboveTarget",
)


@pytest.fixture(scope="module")
def national() -> Inventory:
    return load_inventory()


@dataclass(frozen=True)
class Outage:
    """A store holding three hours of the network up to ``stop``, then the outage."""

    store: DuckDBStore
    stop: pd.Timestamp


def _outage(inventory: Inventory, dark: str | None) -> Iterator[Outage]:
    """Three hours of the network up to 26 minutes ago; after it only the other sites
    (``dark``) or nothing at all (``None``)."""
    now = pd.Timestamp.now(tz="UTC").floor("min")
    stop = now - pd.Timedelta(minutes=26)
    store = DuckDBStore(":memory:")
    sim = Simulator(inventory, seed=3, start=stop - pd.Timedelta(hours=3))
    store.write(sim.advance(stop))
    if dark is not None:
        rest = sim.advance(now)
        store.write(rest[rest["site"] != dark])
    yield Outage(store, stop)
    store.close()


@pytest.fixture
def silent_network(national: Inventory) -> Iterator[Outage]:
    yield from _outage(national, None)


@pytest.fixture
def one_site_dark(national: Inventory) -> Iterator[Outage]:
    yield from _outage(national, DARK)


def _rules() -> RuleSet:
    pack = load_rules()
    return RuleSet(pack.source, tuple(r for r in pack.rules if r.alert in STORM_RULES))


def _run(outage: Outage, inventory: Inventory, config: AlertingConfig, tmp: Path) -> None:
    clock = FakeClock(outage.stop)
    engine = AlertEngine(
        outage.store, inventory, _rules(), config, clock=clock, state_path=tmp / "s"
    )
    for m in MINUTES:
        engine.tick(clock.set(outage.stop + pd.Timedelta(minutes=m)))
    engine.close()


def _shipped_with(receivers: str, tmp: Path) -> AlertingConfig:
    """The shipped alerting config (routes, inhibitions) with ``receivers`` instead of its own."""
    shipped = yaml.safe_load(load_config_text())
    shipped["receivers"] = yaml.safe_load(receivers)
    path = tmp / "alerting.yaml"
    path.write_text(yaml.safe_dump(shipped), encoding="utf-8")
    return parse_model(load_yaml(path), AlertingConfig)


def load_config_text() -> str:
    pack = Path(load_rules.__code__.co_filename).parent / "rules" / "alerting.yaml"
    return pack.read_text(encoding="utf-8")


def _alertnames(body: dict[str, Any]) -> set[str]:
    return {a["labels"]["alertname"] for a in body["alerts"]}


def _sites(body: dict[str, Any]) -> set[str]:
    return {a["labels"].get("site", "") for a in body["alerts"]}


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[servers.WebhookReceiver]:
    monkeypatch.setenv("GW_STORM_SECRET", SECRET.decode())
    yield from servers.webhook_server(SECRET)


def _webhook_config(webhook: servers.WebhookReceiver, tmp: Path) -> AlertingConfig:
    return _shipped_with(
        f"""
- name: default
  webhook_configs: [{{url: "{webhook.url}", secret: {{env: GW_STORM_SECRET}}}}]
""",
        tmp,
    )


@pytest.mark.integration
def test_a_network_wide_outage_pages_once_at_the_webhook(
    webhook: servers.WebhookReceiver,
    silent_network: Outage,
    national: Inventory,
    tmp_path: Path,
) -> None:
    _run(silent_network, national, _webhook_config(webhook, tmp_path), tmp_path)
    assert 1 <= len(webhook.bodies) <= 3
    assert all(webhook.signatures_ok)
    assert _alertnames(webhook.bodies[0]) == {"NoDataArriving"}
    paged = set().union(*(_alertnames(b) for b in webhook.bodies))
    assert not paged & {"SiteDown", "MeterSilent", "KpiDataIncomplete", "HubNoData"}


def test_without_the_inhibitions_the_same_outage_is_a_storm(
    silent_network: Outage, national: Inventory, tmp_path: Path
) -> None:
    """What the inhibitions above prevent: one notification per site for MeterSilent."""
    config = load_config().model_copy(update={"inhibit_rules": ()})
    recorder = RecordingNotifier()
    clock = FakeClock(silent_network.stop)
    engine = AlertEngine(
        silent_network.store,
        national,
        _rules(),
        config,
        clock=clock,
        dispatcher=build_dispatcher(config, national, clock=clock, notifiers={"default": recorder}),
        state_path=tmp_path / "s",
    )
    for m in MINUTES:
        engine.tick(clock.set(silent_network.stop + pd.Timedelta(minutes=m)))
    engine.close()
    names = [a.labels["alertname"] for n in recorder.notifications for a in n.alerts]
    assert names.count("SiteDown") == len(national.sites)
    assert len(recorder.notifications) > 40


@pytest.mark.integration
def test_one_site_going_dark_pages_once_at_the_webhook(
    webhook: servers.WebhookReceiver,
    one_site_dark: Outage,
    national: Inventory,
    tmp_path: Path,
) -> None:
    _run(one_site_dark, national, _webhook_config(webhook, tmp_path), tmp_path)
    about = [b for b in webhook.bodies if DARK in _sites(b) or _sites(b) == {""}]
    assert len(about) == 1
    assert _alertnames(about[0]) == {"SiteDown"}
    assert _sites(about[0]) == {DARK}


def _alertmanager_config(hook: str) -> str:
    """The shipped Alertmanager config, every receiver a webhook on loopback, 2 s group wait."""
    doc = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text("utf-8"))
    doc["receivers"] = [
        {"name": r["name"], "webhook_configs": [{"url": hook}]} for r in doc["receivers"]
    ]
    doc["route"]["group_wait"] = "2s"
    return yaml.safe_dump(doc, sort_keys=False)


def _through_alertmanager(
    outage: Outage, inventory: Inventory, tmp: Path
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run the engine into a real Alertmanager with the shipped config (which alone inhibits
    here); the webhook bodies it sent once it has notified every group with an active alert,
    and its alerts."""
    with (
        contextmanager(servers.webhook_server)(SECRET) as hook,
        contextmanager(servers.alertmanager_server)(tmp, _alertmanager_config(hook.url)) as am,
    ):
        config = f"""route: {{receiver: am}}
receivers:
  - name: am
    alertmanager_configs: [{{url: "{am.url}", resend_interval: 10m}}]
"""
        _run(outage, inventory, parse_model(load_yaml("am.yaml", config), AlertingConfig), tmp)
        deadline = time.monotonic() + 60
        while True:
            active = [
                g for g in am.groups() if any(a["status"]["state"] == "active" for a in g["alerts"])
            ]
            if active and len(hook.bodies) >= len(active):
                return hook.bodies, am.alerts()
            assert time.monotonic() < deadline, f"{len(active)} active groups, {hook.bodies}"
            time.sleep(0.2)


@pytest.mark.integration
def test_a_network_wide_outage_pages_once_through_alertmanager(
    silent_network: Outage, national: Inventory, tmp_path: Path
) -> None:
    bodies, alerts = _through_alertmanager(silent_network, national, tmp_path)
    assert 1 <= len(bodies) <= 3
    assert {n for b in bodies for n in _alertnames(b)} == {"NoDataArriving"}
    suppressed = [a for a in alerts if a["status"]["state"] == "suppressed"]
    assert {a["labels"]["alertname"] for a in suppressed} >= {"SiteDown", "HubNoData"}
    assert all(a["status"]["inhibitedBy"] for a in suppressed)


@pytest.mark.integration
def test_one_site_going_dark_pages_once_through_alertmanager(
    one_site_dark: Outage, national: Inventory, tmp_path: Path
) -> None:
    bodies, _ = _through_alertmanager(one_site_dark, national, tmp_path)
    about = [b for b in bodies if DARK in _sites(b) or _sites(b) == {""}]
    assert len(about) == 1
    assert _alertnames(about[0]) == {"SiteDown"}
