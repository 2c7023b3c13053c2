"""Notifiers against real receivers on loopback: webhook (HMAC), SMTP (STARTTLS, AUTH) and
Debian's Alertmanager, plus the engine delivering through them and reporting failures."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenwatch.alerts import (
    AlertEngine,
    AlertingConfig,
    AlertRecord,
    EmailNotifier,
    Notification,
    NotifiedAlert,
    NotifyError,
    RuleSet,
    WebhookNotifier,
    build_dispatcher,
    fingerprint,
    parse_rules,
)
from greenwatch.inventory import Inventory
from greenwatch.model import load_yaml, make_batch, parse_model
from greenwatch.service._serve import default_external_url
from greenwatch.store import DuckDBStore
from greenwatch.testing import FakeClock
from tests.alerts import servers
from tests.conftest import free_port

SECRET = b"s3cret-for-tests"
T = pd.Timestamp("2025-03-04T08:00:00Z")


def no_sleep(_: float) -> None:
    pass


def notification(status: str = "firing", site: str = "guian-1") -> Notification:
    labels = {"alertname": "GpuTemperatureHigh", "site": site, "severity": "critical"}
    alert = NotifiedAlert(
        fingerprint=fingerprint(labels),
        status=status,
        labels=labels,
        annotations={
            "summary": f"GPU at {site} reached 91 °C",
            "runbook_url": "https://x.example/r",
        },
        starts_at=T,
        ends_at=None if status == "firing" else T + pd.Timedelta(minutes=30),
        generator_url="http://127.0.0.1:8050/api/v1/alerts/x",
    )
    return Notification(
        receiver="oncall",
        group_key="0:abc",
        group_labels={"alertname": "GpuTemperatureHigh", "site": site},
        alerts=(alert,),
        external_url="http://127.0.0.1:8050",
        sent_at=T,
    )


@pytest.fixture
def webhook() -> Iterator[servers.WebhookReceiver]:
    yield from servers.webhook_server(SECRET)


@pytest.fixture
def mailbox(tmp_path: Path) -> Iterator[servers.Mailbox]:
    yield from servers.smtp_server(tmp_path, "noc", "pa55word")


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.Alertmanager]:
    yield from servers.alertmanager_server(tmp_path_factory.mktemp("alertmanager"))


@pytest.mark.integration
def test_webhook_sends_signed_version_4_payload_and_retries(
    webhook: servers.WebhookReceiver,
) -> None:
    webhook.fail_with = [503]
    WebhookNotifier(webhook.url, secret=SECRET.decode(), sleep=no_sleep).notify(notification())
    assert webhook.signatures_ok == [True]
    body = webhook.bodies[0]
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["groupLabels"] == {"alertname": "GpuTemperatureHigh", "site": "guian-1"}
    assert body["commonLabels"]["severity"] == "critical"
    alert = body["alerts"][0]
    assert alert["startsAt"] == "2025-03-04T08:00:00.000Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["fingerprint"] == fingerprint(alert["labels"])


@pytest.mark.integration
def test_webhook_gives_up_on_4xx_and_on_refused_connections(
    webhook: servers.WebhookReceiver,
) -> None:
    webhook.fail_with = [400, 400]
    with pytest.raises(NotifyError, match="HTTP 400"):
        WebhookNotifier(webhook.url, sleep=no_sleep).notify(notification())
    assert webhook.fail_with == [400]  # not retried
    closed = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(NotifyError, match="ConnectError"):
        WebhookNotifier(closed, sleep=no_sleep, max_attempts=2).notify(notification())


@pytest.mark.integration
def test_email_over_starttls_with_auth(mailbox: servers.Mailbox) -> None:
    n = notification(site="<b>guian-1</b>")
    EmailNotifier(
        f"127.0.0.1:{mailbox.port}",
        sender="greenwatch@example.org",
        to=("noc@example.org",),
        username="noc",
        password=lambda: "pa55word",
        ca_file=mailbox.ca_file,
    ).notify(n)
    assert mailbox.logins == ["noc"]
    msg = mailbox.messages[0]
    assert msg["Subject"] == "[FIRING:1] GpuTemperatureHigh <b>guian-1</b>"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in msg.walk()
        if not p.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert "GPU at <b>guian-1</b> reached 91 °C" in parts["text/plain"]
    assert "&lt;b&gt;guian-1&lt;/b&gt;" in parts["text/html"]  # escaped in HTML
    assert '<a href="https://x.example/r">' in parts["text/html"]


@pytest.mark.integration
def test_email_with_a_wrong_password_says_so(mailbox: servers.Mailbox) -> None:
    notifier = EmailNotifier(
        f"127.0.0.1:{mailbox.port}",
        sender="greenwatch@example.org",
        to=("noc@example.org",),
        username="noc",
        password="wrong",
        ca_file=mailbox.ca_file,
        sleep=no_sleep,
    )
    with pytest.raises(NotifyError, match="SMTP auth refused: 535"):
        notifier.notify(notification())
    assert mailbox.messages == []


# -- the engine delivering through real receivers ---------------------------------------------

RULES = """rules:
  - alert: GpuTemperatureHigh
    kind: metric
    metric: temperature_celsius
    match: ['sensor=~".*gpu.*"']
    agg: max
    window: 5m
    op: ">"
    threshold: 85
    severity: critical
    annotations: {summary: "GPU {sensor} at {site} reached {value:.0f} °C"}
"""


def gpu_store(start: pd.Timestamp, hot_from: int, minutes: int = 40, hot: int = 10) -> DuckDBStore:
    ts = pd.date_range(start, periods=minutes, freq="1min")
    values = np.where(np.arange(minutes) >= hot_from, 92.0, 70.0)
    values[hot_from + hot :] = 70.0  # cools down again
    store = DuckDBStore(":memory:")
    store.write(
        make_batch(ts, "temperature_celsius", values, {"site": "guian-1", "sensor": "h1/gpu0"})
    )
    return store


def engine_with(
    config_text: str,
    store: DuckDBStore,
    clock: FakeClock,
    inventory: Inventory,
    tmp: Path,
    **options: str,
) -> AlertEngine:
    path = tmp / "alerting.yaml"
    path.write_text(config_text, encoding="utf-8")
    config = parse_model(load_yaml(path), AlertingConfig)
    rules: RuleSet = parse_rules(load_yaml("rules.yaml", RULES))
    dispatcher = build_dispatcher(config, inventory, clock=clock, sleep=no_sleep, **options)
    return AlertEngine(store, inventory, rules, config, clock=clock, dispatcher=dispatcher)


def run(engine: AlertEngine, clock: FakeClock, start: pd.Timestamp, minutes: range) -> None:
    for m in minutes:
        engine.tick(clock.set(start + pd.Timedelta(minutes=m)))


@pytest.mark.integration
def test_engine_webhook_with_secret_from_the_environment(
    webhook: servers.WebhookReceiver,
    inventory: Inventory,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GW_HOOK_SECRET", SECRET.decode())
    config = f"""route: {{receiver: noc, group_wait: 0s, group_interval: 1m}}
receivers:
  - name: noc
    webhook_configs: [{{url: "{webhook.url}", secret: {{env: GW_HOOK_SECRET}}}}]
"""
    clock = FakeClock(T)
    engine = engine_with(config, gpu_store(T, 5), clock, inventory, tmp_path)
    run(engine, clock, T, range(1, 25))
    assert webhook.signatures_ok == [True, True]
    assert [b["status"] for b in webhook.bodies] == ["firing", "resolved"]
    assert webhook.bodies[0]["alerts"][0]["annotations"]["summary"] == (
        "GPU h1/gpu0 at guian-1 reached 92 °C"
    )
    status = engine.status()["integrations"][0]
    assert (status["name"], status["sent"], status["failed"]) == ("noc/webhook[0]", 2, 0)
    engine.close()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("configured", "given", "expected"),
    [
        ("", "https://gw.example.cn:9443/", "https://gw.example.cn:9443"),
        ("external_url: https://noc.example.cn/gw\n", "http://x:1", "https://noc.example.cn/gw"),
        ("", None, "http://127.0.0.1:8050"),
    ],
)
def test_generator_url_leads_to_the_alert_on_the_dashboards_alerts_page(
    webhook: servers.WebhookReceiver,
    inventory: Inventory,
    tmp_path: Path,
    configured: str,
    given: str | None,
    expected: str,
) -> None:
    config = f"""{configured}route: {{receiver: noc, group_wait: 0s}}
receivers:
  - name: noc
    webhook_configs: [{{url: "{webhook.url}"}}]
"""
    clock = FakeClock(T)
    options = {"external_url": given} if given else {}
    engine = engine_with(config, gpu_store(T, 5), clock, inventory, tmp_path, **options)
    run(engine, clock, T, range(1, 8))
    body = webhook.bodies[0]
    alert = body["alerts"][0]
    assert body["externalURL"] == expected
    assert alert["generatorURL"] == (
        f"{expected}/alerts?state=firing%2Cpending%2Csilenced%2Cresolved&q={alert['fingerprint']}"
    )
    engine.close()


def test_the_service_default_external_url_is_where_it_listens() -> None:
    assert default_external_url("127.0.0.1", 8123) == "http://127.0.0.1:8123"
    assert default_external_url("::1", 8050) == "http://[::1]:8050"
    assert default_external_url("0.0.0.0", 8050) == f"http://{socket.getfqdn()}:8050"


@pytest.mark.integration
def test_engine_reports_delivery_failures(inventory: Inventory, tmp_path: Path) -> None:
    config = f"""route: {{receiver: noc, group_wait: 0s}}
receivers:
  - name: noc
    webhook_configs: [{{url: "http://127.0.0.1:{free_port()}/", max_attempts: 1}}]
"""
    clock = FakeClock(T)
    engine = engine_with(config, gpu_store(T, 5), clock, inventory, tmp_path)
    run(engine, clock, T, range(5, 8))
    status = engine.status()["integrations"][0]
    assert status["sent"] == 0
    assert status["failed"] >= 1
    assert "ConnectError" in status["last_error"]
    assert status["retrying_groups"] == 1
    assert engine.alerts()[0]["state"] == "firing"  # nothing was lost
    engine.close()


@pytest.mark.integration
def test_engine_pushes_to_a_real_alertmanager(
    alertmanager: servers.Alertmanager, inventory: Inventory, tmp_path: Path
) -> None:
    # Alertmanager judges endsAt by its own clock, so the fake clock runs at the real time:
    # the GPU was hot from 12 to 7 minutes ago.
    now = pd.Timestamp.now(tz="UTC").floor("s")
    start = now - pd.Timedelta(minutes=20)
    config = f"""route: {{receiver: am}}
receivers:
  - name: am
    alertmanager_configs: [{{url: "{alertmanager.url}", resend_interval: 1m}}]
"""
    clock = FakeClock(start)
    engine = engine_with(config, gpu_store(start, 8, minutes=20, hot=6), clock, inventory, tmp_path)
    for back in (4, 2):
        engine.tick(clock.set(now - pd.Timedelta(minutes=back)))
    alerts = alertmanager.alerts()
    assert [a["labels"]["alertname"] for a in alerts] == ["GpuTemperatureHigh"]
    assert alerts[0]["labels"]["site"] == "guian-1"
    assert alerts[0]["status"]["state"] == "active"
    assert alerts[0]["annotations"]["summary"] == "GPU h1/gpu0 at guian-1 reached 92 °C"
    assert pd.Timestamp(alerts[0]["endsAt"]) == now + pd.Timedelta(minutes=2)  # 4 x resend
    engine.tick(clock.set(now))  # cooled down: resolved, pushed with its end
    assert engine.alerts()[0]["state"] == "resolved"
    assert alertmanager.alerts() == []
    engine.close()


def test_the_recording_notifier_and_record_round_trip() -> None:
    labels = {"alertname": "A", "site": "s"}
    record = AlertRecord(fingerprint(labels), "A", labels, {}, "firing", T, T)
    assert AlertRecord.from_json(record.to_json()) == record


class BlockingNotifier:
    """Hangs in ``notify`` until released, like an SMTP server that stopped answering."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def notify(self, notification: Notification) -> None:
        assert notification.firing
        self.entered.set()
        self.release.wait(10)


def test_a_hung_receiver_does_not_block_the_api(inventory: Inventory) -> None:
    clock = FakeClock(T)
    hung = BlockingNotifier()
    config = AlertingConfig.model_validate(
        {"route": {"receiver": "noc", "group_wait": "0s"}, "receivers": [{"name": "noc"}]}
    )
    engine = AlertEngine(
        gpu_store(T, 5),
        inventory,
        parse_rules(load_yaml("rules.yaml", RULES)),
        config,
        clock=clock,
        dispatcher=build_dispatcher(config, inventory, clock=clock, notifiers={"noc": hung}),
    )
    engine.evaluate(clock.set(T + pd.Timedelta(minutes=8)))
    sender = threading.Thread(target=engine.dispatch)
    sender.start()
    assert hung.entered.wait(10)
    fp = engine.alerts()[0]["fingerprint"]  # answers while the delivery hangs
    assert engine.acknowledge(fp, "li.wei")["acknowledged"]["by"] == "li.wei"
    hung.release.set()
    sender.join(10)
    assert engine.status()["integrations"][0]["sent"] == 1
    engine.close()
