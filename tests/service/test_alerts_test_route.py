"""``POST /api/v1/alerts/test``: the replay ``greenwatch alerts test`` runs, answered by a
server; bad bodies are 400 naming what is wrong (file, line and key for a bad rule file)."""

from __future__ import annotations

import pandas as pd

from greenwatch.alerts import load_config, load_rules, replay_rules
from greenwatch.ingest import Ingest
from greenwatch.inventory import load_inventory
from greenwatch.service import ApiContext
from greenwatch.service._api_alerts import register
from greenwatch.service._http import create_flask
from greenwatch.store import DuckDBStore

AT = pd.Timestamp("2026-05-01T00:00:00Z")


def test_the_route_answers_what_the_replay_answers() -> None:
    store = DuckDBStore(":memory:")
    inventory = load_inventory()
    app = create_flask(lambda: True)
    register(app, ApiContext(store, inventory, Ingest(store.write), lambda: AT))
    client = app.test_client()
    answer = client.post("/api/v1/alerts/test", json={"at": AT.isoformat(), "rules": None})
    assert answer.status_code == 200, answer.text
    served = answer.get_json()["data"]
    local = replay_rules(store, inventory, load_rules(), load_config(), AT)
    assert list(served) == ["at", "first", "step_s", "alerts", "status"]
    assert served["alerts"] == local["alerts"]
    assert (served["at"], served["first"], served["step_s"]) == (
        local["at"],
        local["first"],
        local["step_s"],
    )
    bad = {"source": "mine.yaml", "text": "rules:\n  - kind: nonsense\n"}
    refused = client.post("/api/v1/alerts/test", json={"at": AT.isoformat(), "rules": bad})
    assert refused.status_code == 400
    assert "mine.yaml:2: rules[0].kind" in refused.get_json()["message"]
    assert client.post("/api/v1/alerts/test", json={"rules": None}).status_code == 400
    assert client.post("/api/v1/alerts/test", data="x").status_code == 400
