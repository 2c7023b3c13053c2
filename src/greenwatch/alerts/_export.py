"""Export the PromQL-expressible rules as a Prometheus rule file (also loaded by vmalert).

One alerting path per alert: the rules over canonical device series (``metric`` and ``absent``)
are the exported file's; greenwatch's engine evaluates them too, with the same expression
semantics, window and label set (the series' labels, or the ``by`` labels, plus ``severity``, the
rule's labels and the site's ``region``, ``kind`` and ``hub`` from the inventory), so an
Alertmanager that receives both deduplicates them. Per-site expressions drop the scrape's ``job``
and ``instance`` and join ``greenwatch_site_info`` (``GET /metrics/samples``) on ``site``; where
that gauge is missing (greenwatch not scraped) they fire with the series' labels alone. The
engine alone owns the rules that need the inventory or the registry: ``kpi`` (targets, PUE
category meters, coverage and the KpiDataIncomplete companion), ``submeter``, ``compute`` and
absent rules ``by`` ``hub`` or ``region``; they are listed as skipped.

``metric`` rules become ``<fn>_over_time`` (or ``rate``/``increase``) comparisons, ratio rules a
vector division, ``absent`` rules "seen within the look-back, unless seen within the window"
(``network: true``: the count of all series). Annotation templates are translated to Go
templates (``{site}`` -> ``{{ $labels.site }}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from greenwatch.alerts._matchers import selector
from greenwatch.alerts._rules import AbsentRule, ComputeRule, MetricRule, Rule, RuleSet
from greenwatch.alerts._template import go_template
from greenwatch.model import format_duration

_INFO = "max by (site, region, kind, hub) (greenwatch_site_info)"  # one per site, any scrape job
_OVER_TIME = {
    "mean": "avg_over_time",
    "min": "min_over_time",
    "max": "max_over_time",
    "sum": "sum_over_time",
    "count": "count_over_time",
    "last": "last_over_time",
    "increase": "increase",
    "rate": "rate",
}


@dataclass
class PrometheusExport:
    """The rule file's text, the rules it holds and the rules left out with why."""

    text: str
    exported: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _number(value: float) -> str:
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def _metric_expr(rule: MetricRule) -> str | None:
    fn = _OVER_TIME.get(rule.agg)
    if fn is None:
        return None
    window = format_duration(rule.window)
    expr = f"{fn}({selector(rule.metric, rule.match)}[{window}])"
    if rule.scale != 1.0:
        expr = f"{_number(rule.scale)} * {expr}"
    if rule.divide_by is not None:
        div = rule.divide_by
        den_fn = _OVER_TIME.get(div.agg)
        if den_fn is None:
            return None
        on = f" on({', '.join(div.join_on)})" if div.join_on else ""
        expr = f"({expr}) /{on} {den_fn}({div.metric}[{window}])"
    return _with_site_info(f"{expr} {rule.op} {_number(rule.threshold)}")


def _with_site_info(expr: str) -> str:
    """``expr`` without scrape labels, with the inventory labels of its ``site`` (its value kept:
    the info gauge is 1); as it is where the site has no ``greenwatch_site_info``."""
    own = f"max without (job, instance) ({expr})"
    joined = f"{own} * on(site) group_left(region, kind, hub) {_INFO}"
    return f"{joined} or on(site) {own}"


def _absent_expr(rule: AbsentRule) -> str | None:
    if set(rule.by) & {"hub", "region"}:
        return None
    sel = selector(rule.metric, rule.match)
    before = f"count_over_time({sel}[{format_duration(rule.lookback)}])"
    recent = f"count_over_time({sel}[{format_duration(rule.window)}])"
    if rule.network:
        return f"count({before}) unless count({recent})"
    if rule.by:
        by = ", ".join(rule.by)
        expr = f"count by ({by}) ({before}) unless count by ({by}) ({recent})"
    else:
        expr = f"{before} unless {recent}"
    return _with_site_info(expr)


def _expr(rule: Rule) -> tuple[str | None, str]:
    if isinstance(rule, MetricRule):
        expr = _metric_expr(rule)
        return expr, "" if expr else f"aggregation {rule.agg!r} has no PromQL function"
    if isinstance(rule, AbsentRule):
        expr = _absent_expr(rule)
        return expr, "" if expr else "hub and region come from greenwatch's inventory"
    if isinstance(rule, ComputeRule):
        return None, "compute rules are owned by greenwatch's engine (registry and verifications)"
    return None, f"{rule.kind} rules need the inventory and coverage semantics of greenwatch"


def _constants(rule: Rule) -> dict[str, object]:
    """Figures known when exporting, inlined into the annotations."""
    if isinstance(rule, MetricRule):
        return {"window": format_duration(rule.window), "threshold": rule.threshold}
    if isinstance(rule, AbsentRule):
        return {"window": format_duration(rule.window)}
    return {}


def prometheus_rules(
    rules: RuleSet, interval: str = "1m", *, flavour: str = "prometheus"
) -> PrometheusExport:
    """A rule file with every rule PromQL can express.

    ``flavour`` ``"vmalert"`` leaves out ``keep_firing_for``, which vmalert releases before
    1.90 (Debian's 1.79, for one) reject as an unknown field; the header says so.
    """
    out = PrometheusExport(text="")
    dropped: list[str] = []
    groups: dict[str, list[dict[str, Any]]] = {}
    for rule in rules.rules:
        expr, why = _expr(rule)
        if expr is None:
            out.skipped.append((rule.alert, why))
            continue
        constants = _constants(rule)
        entry: dict[str, Any] = {"alert": rule.alert, "expr": expr}
        if rule.for_:
            entry["for"] = format_duration(rule.for_)
        if rule.keep_firing_for and flavour == "vmalert":
            dropped.append(rule.alert)
        elif rule.keep_firing_for:
            entry["keep_firing_for"] = format_duration(rule.keep_firing_for)
        entry["labels"] = {"severity": rule.severity, **rule.labels}
        if rule.annotations:
            entry["annotations"] = {
                k: go_template(t, constants) for k, t in rule.annotations.items()
            }
        groups.setdefault(rule.group, []).append(entry)
        out.exported.append(rule.alert)
    document = {
        "groups": [
            {"name": name, "interval": interval, "rules": entries}
            for name, entries in groups.items()
        ]
    }
    header = [f"# Exported by greenwatch from {rules.source}.", ""]
    if out.skipped:
        header = [header[0], "# Owned by greenwatch's engine, not exported:"]
        header += [f"#   {name}: {why}" for name, why in out.skipped] + [""]
    if dropped:
        header.insert(-1, f"# keep_firing_for left out for vmalert: {', '.join(dropped)}")
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)
    out.text = "\n".join(header) + body
    return out
