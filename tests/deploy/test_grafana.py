"""The Grafana dashboard and provisioning: panels query metrics greenwatch exports."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.deploy.conftest import dashboard_exprs, exported_names, read

NAME = re.compile(r"\b(greenwatch_[a-z0-9_]+)\b")
REQUIRED_PANELS = ("National PUE", "Site PUE", "CO2", "coverage")


def _dashboard() -> dict[str, Any]:
    return json.loads(read("grafana/greenwatch-dashboard.json"))  # type: ignore[no-any-return]


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def test_panels_have_targets_on_the_datasource_variable() -> None:
    board = _dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["window"]["type"] == "custom"
    assert set(variables["window"]["query"].split(",")) == {"1h", "24h"}
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${datasource}"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24


def test_required_panels_exist() -> None:
    titles = " | ".join(p["title"] for p in _panels())
    for needle in REQUIRED_PANELS:
        assert needle in titles, needle
    (table,) = [p for p in _panels() if p["type"] == "table"]
    assert any("greenwatch_site_pue_${window}_ratio" in t["expr"] for t in table["targets"])


def _metrics_section(readme: str) -> str:
    return readme.split("## GET /metrics")[1].split("\n## ", maxsplit=1)[0]


def test_every_metric_queried_is_exported() -> None:
    exported = exported_names()
    texts = {
        "dashboard": " ".join(dashboard_exprs()).replace("${window}", "24h"),
        "greenwatch-kpi.yml": read("prometheus/rules/greenwatch-kpi.yml"),
        "README.md": _metrics_section(read("README.md"))
        .replace("<level>", "national")
        .replace("<figure>", "pue")
        .replace("<window>", "1h")
        .replace("<unit>", "ratio"),
    }
    for where, text in texts.items():
        for name in NAME.findall(text):
            assert name in exported, f"{where}: {name}"


def test_provisioning_matches_the_compose_mounts() -> None:
    datasources = yaml.safe_load(read("grafana/provisioning/datasources/greenwatch.yml"))
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://victoriametrics:8428"
    providers = yaml.safe_load(read("grafana/provisioning/dashboards/greenwatch.yml"))
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load(read("compose/compose.yaml"))
    mounts = compose["services"]["grafana"]["volumes"]
    board = [m for m in mounts if m.startswith("../grafana/greenwatch-dashboard.json:")]
    assert board
    assert board[0].split(":")[1].startswith(provider["options"]["path"] + "/")
