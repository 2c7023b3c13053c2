"""``/api/v1/alerts`` and ``/api/v1/silences`` on a Flask app, and the service's wiring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import numpy as np
import pandas as pd
import pytest

from greenwatch.alerts import (
    AlertEngine,
    AlertingConfig,
    MaintenanceWindow,
    Matcher,
    build_dispatcher,
    parse_rules,
)
from greenwatch.ingest import Ingest
from greenwatch.inventory import Inventory
from greenwatch.model import load_yaml, make_batch
from greenwatch.service import ApiContext, Service, _api_alerts
from greenwatch.store import DuckDBStore
from greenwatch.testing import FakeClock, RecordingNotifier
from tests.conftest import free_port

T = pd.Timestamp("2025-03-04T08:00:00Z")
RULES = """rules:
  - alert: GpuTemperatureHigh
    kind: metric
    metric: temperature_celsius
    agg: max
    window: 5m
    op: ">"
    threshold: 85
    severity: critical
"""


@pytest.fixture
def api(inventory: Inventory) -> Iterator[tuple[flask.testing.FlaskClient, AlertEngine]]:
    store = DuckDBStore(":memory:")
    ts = pd.date_range(T - pd.Timedelta(minutes=30), periods=30, freq="1min")
    store.write(
        make_batch(
            ts, "temperature_celsius", np.full(30, 91.0), {"site": "guian-1", "sensor": "h1/gpu0"}
        )
    )
    clock = FakeClock(T)
    window = MaintenanceWindow.model_validate(
        {
            "name": "sunday",
            "matchers": ['site="guian-2"'],
            "schedule": "weekly",
            "weekdays": ["sun"],
            "start": "02:00",
            "duration": "2h",
        }
    )
    config = AlertingConfig(maintenance_windows=(window,))
    engine = AlertEngine(
        store,
        inventory,
        parse_rules(load_yaml("rules.yaml", RULES)),
        config,
        clock=clock,
        dispatcher=build_dispatcher(
            config, inventory, clock=clock, notifiers={"default": RecordingNotifier()}
        ),
    )
    engine.tick(T)
    app = flask.Flask("test")
    ctx = ApiContext(store, inventory, Ingest(store.write), clock, None, engine)
    _api_alerts.register(app, ctx)
    yield app.test_client(), engine
    engine.close()
    store.close()


def data(response: Any) -> Any:
    assert response.is_json, response.data
    return response.get_json()["data"]


def test_list_filter_and_get_alerts(api: tuple[flask.testing.FlaskClient, AlertEngine]) -> None:
    client, _ = api
    alerts = data(client.get("/api/v1/alerts"))
    assert [(a["alertname"], a["state"], a["severity"]) for a in alerts] == [
        ("GpuTemperatureHigh", "firing", "critical")
    ]
    alert = alerts[0]
    assert alert["labels"]["region"] == "west"  # from the inventory
    assert alert["value"] == 91.0
    assert alert["silenced"] is False
    assert data(client.get("/api/v1/alerts?state=pending")) == []
    assert data(client.get("/api/v1/alerts?site=guian-2")) == []
    assert len(data(client.get("/api/v1/alerts?site=guian-1&severity=critical,warning"))) == 1
    one = data(client.get(f"/api/v1/alerts/{alert['fingerprint']}"))
    assert one["fingerprint"] == alert["fingerprint"]
    assert client.get("/api/v1/alerts/0000").status_code == 404


def test_acknowledge(api: tuple[flask.testing.FlaskClient, AlertEngine]) -> None:
    client, _ = api
    fp = data(client.get("/api/v1/alerts"))[0]["fingerprint"]
    acked = data(client.post(f"/api/v1/alerts/{fp}/ack", json={"by": "li.wei", "comment": "on it"}))
    assert acked["acknowledged"]["by"] == "li.wei"
    assert acked["acknowledged"]["comment"] == "on it"
    bad = client.post(f"/api/v1/alerts/{fp}/ack", json={"comment": "who?"})
    assert bad.status_code == 400
    assert "by" in bad.get_json()["message"]
    assert client.post("/api/v1/alerts/nope/ack", json={"by": "x"}).status_code == 404


def test_silence_lifecycle(api: tuple[flask.testing.FlaskClient, AlertEngine]) -> None:
    client, engine = api
    made = client.post(
        "/api/v1/silences",
        json={
            "matchers": [
                'site="guian-1"',
                {"name": "alertname", "value": "Gpu.*", "isRegex": True},
            ],
            "createdBy": "li.wei",
            "comment": "replacing the GPU board",
            "duration": "2h",
        },
    )
    assert made.status_code == 201
    silence = data(made)
    assert silence["status"]["state"] == "active"
    assert silence["endsAt"] == (T + pd.Timedelta(hours=2)).isoformat()
    alert = data(client.get("/api/v1/alerts"))[0]
    assert alert["silenced"] is True
    assert alert["silencedBy"] == [silence["id"]]
    assert data(client.get("/api/v1/alerts?silenced=false")) == []
    sid = silence["id"]
    updated = client.put(
        f"/api/v1/silences/{sid}",
        json={
            "matchers": ['site="guian-1"'],
            "createdBy": "li.wei",
            "comment": "longer",
            "endsAt": "2025-03-04T20:00:00+08:00",
        },
    )
    assert data(updated)["comment"] == "longer"
    assert data(updated)["endsAt"] == "2025-03-04T12:00:00+00:00"
    expired = data(client.delete(f"/api/v1/silences/{sid}"))
    assert expired["status"]["state"] == "expired"
    assert data(client.get("/api/v1/alerts"))[0]["silenced"] is False
    assert [s["id"] for s in data(client.get("/api/v1/silences?state=expired"))] == [sid]
    assert engine.silence(sid).created_by == "li.wei"
    bad = client.post("/api/v1/silences", json={"matchers": [], "createdBy": "x", "comment": "y"})
    assert bad.status_code == 400
    assert "matcher" in bad.get_json()["message"]
    assert client.get("/api/v1/silences/unknown").status_code == 404
    assert client.post("/api/v1/silences", data="nope").status_code == 400


def test_status_and_maintenance(api: tuple[flask.testing.FlaskClient, AlertEngine]) -> None:
    client, _ = api
    status = data(client.get("/api/v1/alerts/status"))
    assert status["rules"] == 1
    assert status["alerts"]["firing"] == 1
    assert status["integrations"][0]["name"] == "default/custom[0]"
    windows = data(client.get("/api/v1/maintenance"))
    assert windows[0]["name"] == "sunday"
    assert windows[0]["matchers"] == ['site="guian-2"']
    assert Matcher.parse(windows[0]["matchers"][0]).matches({"site": "guian-2"})


def test_without_alerting_the_api_says_so(inventory: Inventory) -> None:
    store = DuckDBStore(":memory:")
    app = flask.Flask("test")
    _api_alerts.register(app, ApiContext(store, inventory, Ingest(store.write), lambda: T))
    response = app.test_client().get("/api/v1/alerts")
    assert response.status_code == 503
    assert response.get_json()["code"] == "unavailable"


def test_the_service_runs_the_engine_on_its_scheduler(inventory: Inventory, tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "greenwatch.duckdb")
    service = Service(store, inventory, port=free_port(), clock=lambda: T, data_dir=tmp_path)
    assert service.alerts is not None
    assert service.context.alerts is service.alerts
    assert service.scheduler.get_job("alerts") is not None
    service.start()
    service.alerts.tick()
    service.stop()
    assert (tmp_path / "alerts.sqlite").is_file()
    off = Service(DuckDBStore(":memory:"), inventory, port=free_port(), alerting=False)
    assert off.alerts is None
    assert off.scheduler.get_job("alerts") is None
    off.start()
    off.stop()
