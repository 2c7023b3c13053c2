"""Rule files, matchers, durations and templates: valid input loads, bad input names its line."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest

from greenwatch.alerts import (
    KpiRule,
    Matcher,
    MetricRule,
    load_config,
    load_rules,
)
from greenwatch.alerts._template import check_template, go_template, render
from greenwatch.model import ConfigError, format_duration, parse_duration


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_pack_and_config_load() -> None:
    pack = load_rules()
    kinds = {r.kind for r in pack.rules}
    assert kinds == {"kpi", "metric", "absent", "submeter", "compute"}
    pue = next(r for r in pack.rules if r.alert == "SitePueAboveTarget")
    assert isinstance(pue, KpiRule)
    assert pue.threshold == "target"
    assert pue.for_ == timedelta(minutes=15)
    assert pue.keep_firing_for == timedelta(minutes=10)
    specs = pack.specs()
    assert specs["SitePueAboveTarget:coverage"].alertname == "KpiDataIncomplete"
    config = load_config()
    assert [r.name for r in config.receivers] == ["default"]
    assert [r.equal for r in config.inhibit_rules] == [(), ("hub",), ("site",), ("link",)]


def test_a_metric_rule_with_every_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """rules:
  - alert: LinkBusy
    kind: metric
    metric: link_transmit_bytes_total
    match: ['interface="wan0"', link=~"guian-.*"]
    agg: rate
    scale: 8
    divide_by: {metric: link_capacity_bits_per_second, agg: last, join_on: [site, link]}
    window: 15m
    op: ">"
    threshold: 0.9
    for: 1h30m
    keep_firing_for: 5m
    severity: critical
    labels: {team: noc}
    annotations: {summary: "{link} at {value:.0%}"}
""",
    )
    rule = load_rules(path).rules[0]
    assert isinstance(rule, MetricRule)
    assert [m.promql() for m in rule.match] == ['interface="wan0"', 'link=~"guian-.*"']
    assert rule.for_ == timedelta(hours=1, minutes=30)
    assert rule.divide_by is not None
    assert rule.divide_by.join_on == ("site", "link")


@pytest.mark.parametrize(
    ("body", "line", "key", "message"),
    [
        (
            "  - alert: A\n    kind: metric\n    metric: link_up\n    op: '=='\n    treshold: 0\n",
            5,
            "rules[0].treshold",
            "unknown key",
        ),
        (
            "  - alert: A\n    kind: metric\n    metric: link_upp\n"
            "    op: '=='\n    threshold: 0\n",
            3,
            "rules[0].metric",
            "unknown metric 'link_upp'",
        ),
        ("  - alert: A\n    kind: gauge\n", 2, "rules[0].kind", "kind must be one of"),
        (
            "  - alert: A\n    kind: absent\n    metric: power_watts\n    window: 5 minutes\n",
            4,
            "rules[0].window",
            "a duration like",
        ),
        (
            "  - alert: A\n    kind: kpi\n    kpi: cue\n    op: '>'\n    threshold: target\n",
            1,
            "rules[0]",
            "threshold: target needs a target for cue",
        ),
        (
            "  - alert: A\n    kind: absent\n    metric: power_watts\n"
            "    annotations: {summary: '{value:.2q}'}\n",
            4,
            "rules[0].annotations",
            "template",
        ),
        (
            "  - alert: A\n    kind: metric\n    metric: power_watts\n    agg: rate\n"
            "    op: '>'\n    threshold: 1\n",
            1,
            "rules[0]",
            "needs a counter",
        ),
        (
            "  - alert: A\n    kind: metric\n    metric: power_watts\n"
            "    match: ['meter=~\"(\"']\n    op: '>'\n    threshold: 1\n",
            4,
            "rules[0].match",
            "bad regex",
        ),
        (
            "  - alert: A\n    kind: absent\n    metric: power_watts\n"
            "  - alert: A\n    kind: absent\n    metric: energy_joules_total\n",
            4,
            "rules[1].alert",
            "duplicate alert 'A'",
        ),
    ],
)
def test_bad_rules_name_file_line_and_key(
    tmp_path: Path, body: str, line: int, key: str, message: str
) -> None:
    path = write(tmp_path, "# rules\nrules:\n" + body)  # ``line`` counts from the body
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    text = err.value.render()
    assert f"{path}:{line + 2}: {key}: " in text, text
    assert message in text


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "rules:\n  - alert: bad name\n    kind: absent\n    metric: power_watts\n"
        "  - alert: B\n    kind: submeter\n    parents: {}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_rules(path)
    keys = [key for _, key, _ in err.value.problems]
    assert keys == ["rules[0].alert", "rules[1].parents"]


def test_matchers() -> None:
    assert Matcher.parse('site="guian-1"').matches({"site": "guian-1"})
    assert Matcher.parse("site=guian-1").matches({"site": "guian-1"})
    assert Matcher.parse('site!="a"').matches({})
    assert Matcher.parse('meter=~"it_.*"').matches({"meter": "it_input"})
    assert not Matcher.parse('meter=~"it"').matches({"meter": "it_input"})  # anchored
    assert Matcher.parse('meter!~"it_.*"').matches({"meter": "facility"})
    assert Matcher.parse('x=""').matches({})  # a missing label is the empty string
    api = Matcher.coerce({"name": "site", "value": "a.*", "isRegex": True, "isEqual": False})
    assert api.promql() == 'site!~"a.*"'
    with pytest.raises(ValueError, match="bad matcher"):
        Matcher.parse("not a matcher")


def test_durations_round_trip() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration(90) == timedelta(seconds=90)
    assert parse_duration("0") == timedelta(0)
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_duration(timedelta(0)) == "0s"
    for bad in ("5", "m5", "1.5h", "-5m", "5 m"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_templates_render_and_translate() -> None:
    text = "PUE {value:.3f} at {site} ({hall}) above {threshold} over {window}"
    check_template(text)
    labels = {"site": "guian-1"}
    out = render(text, labels, {"value": 1.23456, "threshold": 1.2, "window": "1h"})
    assert out == "PUE 1.235 at guian-1 () above 1.2 over 1h"
    assert render("{value:.1f}", {}, {"value": math.nan}) == "n/a"
    go = go_template(text, {"threshold": 1.2, "window": "1h"})
    assert go == (
        'PUE {{ printf "%.3f" $value }} at {{ $labels.site }} ({{ $labels.hall }}) '
        "above 1.2 over 1h"
    )
    assert go_template("{value:.0%}", {}) == "{{ humanizePercentage $value }}"
    for bad in ("{labels.site}", "{site!r}", "{value:.2q}", "{unclosed"):
        with pytest.raises(ValueError, match="template"):
            check_template(bad)
