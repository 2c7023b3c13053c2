"""One spelling of every alert category: the rule pack, its data-quality companions, the
exported rules, the KPI rules and the routes and inhibitions of both alerting configs."""

from __future__ import annotations

import re
from typing import Any

import yaml

from greenwatch.alerts import load_config, load_rules
from tests.deploy.conftest import DEPLOY

# A category matcher: category="x", category=~"x|y", category!="x".
_MATCHER = re.compile(r'category\s*(?:=~|!~|=|!=)\s*"([^"]*)"')


def _pack_categories() -> set[str]:
    return {s.labels["category"] for s in load_rules().specs().values()}


def _rule_file_categories(path: str) -> set[str]:
    doc = yaml.safe_load((DEPLOY / path).read_text(encoding="utf-8"))
    return {
        r["labels"]["category"]
        for g in doc["groups"]
        for r in g["rules"]
        if "category" in r.get("labels", {})
    }


def _matched(text: str) -> set[str]:
    return {value for found in _MATCHER.findall(text) for value in found.split("|")}


def _matchers(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [m for v in node.values() for m in _matchers(v)]
    if isinstance(node, list):
        return [m for v in node for m in _matchers(v)]
    return [node] if isinstance(node, str) and "category" in node else []


def test_every_category_is_spelled_as_the_rule_pack_spells_it() -> None:
    pack = _pack_categories()
    assert "data_quality" in pack
    assert all(re.fullmatch(r"[a-z_]+", c) for c in pack), pack
    exported = {
        path: _rule_file_categories(path)
        for path in (
            "prometheus/rules/greenwatch-alerts.yml",
            "vmalert/greenwatch-alerts.yml",
            "prometheus/rules/greenwatch-kpi.yml",
        )
    }
    for path, found in exported.items():
        assert found <= pack, f"deploy/{path}: categories {found - pack} not in the rule pack"
    alertmanager = yaml.safe_load((DEPLOY / "alertmanager/alertmanager.yml").read_text("utf-8"))
    routed = _matched(" ".join(_matchers(alertmanager)))
    assert routed, "the shipped Alertmanager config routes or inhibits by category"
    assert routed <= pack, f"alertmanager.yml matches categories {routed - pack}"
    config = load_config()
    shipped = " ".join(
        str(m)
        for rule in config.inhibit_rules
        for m in (*rule.source_matchers, *rule.target_matchers)
    )
    assert _matched(shipped) <= pack
