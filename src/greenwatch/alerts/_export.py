"""Export the PromQL-expressible rules as a Prometheus rule file (also loaded by vmalert).

``metric`` rules become ``<fn>_over_time`` (or ``rate``/``increase``) comparisons, ratio rules a
vector division, ``absent`` rules "seen within the look-back, unless seen within the window".
``compute`` rules become comparisons over the series greenwatch itself exposes on ``/metrics``
(``greenwatch_compute_devices_missing``, ``greenwatch_compute_pool_verification``, …: see
:mod:`greenwatch.export`), so Prometheus must scrape greenwatch for them; a matcher on a label
those series lack (``kind``, ``province``) cannot be exported, and an identify alert whose
model no collector reports on any more resolves there (greenwatch holds it). KPI and sub-meter
rules need the inventory (PUE category meters, targets) and the metrics engine's coverage
semantics, which PromQL cannot express; they are listed as skipped. Annotation templates are
translated to Go templates (``{site}`` -> ``{{ $labels.site }}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from greenwatch.alerts._duration import format_duration
from greenwatch.alerts._matchers import Matcher, selector
from greenwatch.alerts._rules import AbsentRule, ComputeRule, MetricRule, Rule, RuleSet
from greenwatch.alerts._template import go_template

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
    return f"{expr} {rule.op} {_number(rule.threshold)}"


def _absent_expr(rule: AbsentRule) -> str:
    sel = selector(rule.metric, rule.match)
    before = f"count_over_time({sel}[{format_duration(rule.lookback)}])"
    recent = f"count_over_time({sel}[{format_duration(rule.window)}])"
    if rule.by:
        by = ", ".join(rule.by)
        return f"count by ({by}) ({before}) unless count by ({by}) ({recent})"
    return f"{before} unless {recent}"


# The /metrics series of compute rules and the labels they carry besides ``state``.
MISSING = "greenwatch_compute_devices_missing"
REGISTERED = "greenwatch_compute_devices_registered"
VERIFICATION = "greenwatch_compute_pool_verification"
AGE = "greenwatch_compute_verification_age_seconds"
_DEVICE_LABELS = frozenset({"site", "hub", "region", "model", "device_kind"})
_POOL_LABELS = frozenset({"site", "hub", "region", "pool", "class", "model"})
# What the annotation fields of a compute alert become in Prometheus (its value is the missing
# devices or the verification age in seconds).
_GO = {
    "identify_mismatch": "{{ $labels.site }}: registered minus seen {{ $labels.model }} devices "
    "is {{ $value }}",
    "verification_stale": "{{ $labels.site }}/{{ $labels.pool }} ({{ $labels.model }}): last "
    "verified {{ $value | humanizeDuration }} ago",
    "verification_failed": "{{ $labels.site }}/{{ $labels.pool }} ({{ $labels.model }}): the "
    "latest verification failed",
    "verification_never": "{{ $labels.site }}/{{ $labels.pool }} ({{ $labels.model }}): no "
    "verification record",
}


def _compute_expr(rule: ComputeRule) -> tuple[str | None, str]:
    """The rule over greenwatch's /metrics series, or why it cannot be."""
    device = rule.condition == "identify_mismatch"
    known = _DEVICE_LABELS if device else _POOL_LABELS
    unknown = sorted({m.name for m in rule.match} - known)
    if unknown:
        return None, f"matchers on {', '.join(unknown)}, which the /metrics series lack"
    if device:
        missing = selector(MISSING, rule.match)
        share = rule.missing_share()
        if rule.min_missing is None:
            return f"{missing} != 0", ""
        if share:
            registered = selector(REGISTERED, rule.match)
            ratio = f"{missing} / on(site, model) {registered} >= {_number(share)}"
            return f"{missing} > 0 and on(site, model) ({ratio})", ""
        return f"{missing} >= {_number(rule.missing_devices())}", ""
    if rule.condition == "verification_stale":
        seconds = rule.verification_limit().total_seconds()
        passed = selector(VERIFICATION, (*rule.match, Matcher("state", "=~", "ok|stale")))
        age = selector(AGE, rule.match)
        return f"{age} > {_number(seconds)} and on(site, pool) ({passed} == 1)", ""
    state = "failed" if rule.condition == "verification_failed" else "never"
    return f"{selector(VERIFICATION, (*rule.match, Matcher('state', '=', state)))} == 1", ""


def _expr(rule: Rule) -> tuple[str | None, str]:
    if isinstance(rule, MetricRule):
        expr = _metric_expr(rule)
        return expr, "" if expr else f"aggregation {rule.agg!r} has no PromQL function"
    if isinstance(rule, AbsentRule):
        return _absent_expr(rule), ""
    if isinstance(rule, ComputeRule):
        return _compute_expr(rule)
    return None, f"{rule.kind} rules need the inventory and coverage semantics of greenwatch"


def _constants(rule: Rule) -> dict[str, object]:
    """Figures known when exporting, inlined into the annotations."""
    if isinstance(rule, ComputeRule):
        out: dict[str, object] = {"message": _GO[rule.condition]}
        if rule.condition == "verification_stale":
            out["max_age"] = format_duration(rule.verification_limit())
            out["age"] = "{{ $value | humanizeDuration }}"
        return out
    constants: dict[str, object] = {"window": format_duration(rule.window)}
    if isinstance(rule, MetricRule):
        constants["threshold"] = rule.threshold
    return constants


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
        header = [header[0], "# Not expressible in PromQL (evaluated by greenwatch only):"]
        header += [f"#   {name}: {why}" for name, why in out.skipped] + [""]
    if dropped:
        header.insert(-1, f"# keep_firing_for left out for vmalert: {', '.join(dropped)}")
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=1000)
    out.text = "\n".join(header) + body
    return out
