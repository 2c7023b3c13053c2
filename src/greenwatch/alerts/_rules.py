"""Alert rules: a small typed language over canonical metrics and the metrics engine's KPIs.

A rule file is YAML with one key, ``rules``, a list of rules; each has a ``kind``:

- ``metric``: an aggregation of a canonical metric over a window, per series, compared with a
  number (``temperature_celsius`` max over 5m > 85; ``link_up`` last == 0; a counter's ``rate``
  scaled and divided by another metric for link utilisation).
- ``kpi``: a site's (or hub's, region's, the network's) KPI over a rolling window — PUE, cooling
  pPUE, CUE, WUE, REF (green share), occupancy — against a number or the site's ``target``. Not
  judged on data whose coverage is below ``min_coverage``; a data-quality alert says so instead.
- ``absent``: series (grouped ``by`` labels) that reported before but sent nothing in the window.
  ``by`` may name ``hub`` or ``region``, taken from the series' site in the inventory (one alert
  per hub that went silent as a whole); ``network: true`` gives one alert, without labels, when
  nothing of the metric arrives from anywhere (the alert that inhibits the per-site ones).
- ``submeter``: sub-meters whose energies drift from their parent meter
  (:func:`greenwatch.metrics.submeter_findings`); a data-quality alert.
- ``compute``: compute pools against what collectors see and what benchmarks verified
  (:func:`greenwatch.metrics.pool_status`): ``identify_mismatch`` per site and device model
  (registered devices the collectors do not see, or more seen than registered; ``min_missing``
  devices or share like ``"5%"`` to alert on missing devices only), ``verification_stale``
  (latest benchmark passed longer ago than ``max_age``, default 90d), ``verification_failed``
  and ``verification_never`` per pool.

Every rule has ``for``, ``keep_firing_for``, ``severity``, ``labels`` and ``annotations``
(templates, see :mod:`greenwatch.alerts._template`). Errors name the file, line and key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, cast

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from greenwatch.alerts._matchers import Matchers
from greenwatch.alerts._template import check_template
from greenwatch.metrics import DEFAULT_MAX_VERIFICATION_AGE
from greenwatch.model import (
    REGISTRY,
    ConfigError,
    Duration,
    MetricName,
    StrictModel,
    YamlDocument,
    load_yaml,
    parse_model,
)

Op = Literal[">", ">=", "<", "<=", "==", "!="]
Severity = Literal["critical", "warning", "info"]
Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=128)]
GaugeAgg = Literal["mean", "min", "max", "first", "last", "sum", "count"]
MetricAgg = Literal["mean", "min", "max", "first", "last", "sum", "count", "increase", "rate"]
KpiName = Literal["pue", "ppue", "cue", "wue", "ref", "occupancy"]
ComputeCondition = Literal[
    "identify_mismatch", "verification_stale", "verification_failed", "verification_never"
]
_SHARE = re.compile(r"(\d+(?:\.\d+)?)\s*%")
RESERVED_LABELS = frozenset({"alertname", "severity"})
# KPIs with a per-site target in the inventory (``threshold: target``), and where it lives.
SITE_TARGETS: dict[str, str] = {"pue": "pue", "occupancy": "occupancy", "ref": "green_energy_share"}
BUILTIN = "national"


class _Rule(StrictModel):
    model_config = ConfigDict(populate_by_name=True)

    alert: Name
    for_: Duration = Field(default=timedelta(0), alias="for")
    keep_firing_for: Duration = timedelta(0)
    severity: Severity = "warning"
    labels: dict[Name, str] = Field(default_factory=dict)
    annotations: dict[Name, str] = Field(default_factory=dict)
    group: Name = "greenwatch"
    match: Matchers = ()

    @field_validator("labels")
    @classmethod
    def _no_reserved(cls, labels: dict[str, str]) -> dict[str, str]:
        bad = RESERVED_LABELS & set(labels)
        if bad:
            raise ValueError(f"label(s) {sorted(bad)} are set by the rule itself (alert, severity)")
        return labels

    @field_validator("annotations")
    @classmethod
    def _templates(cls, annotations: dict[str, str]) -> dict[str, str]:
        for text in annotations.values():
            check_template(text)
        return annotations


class DivideBy(StrictModel):
    """The denominator of a ratio rule: another metric, aggregated, joined on shared labels."""

    metric: MetricName
    agg: GaugeAgg = "last"
    join_on: tuple[Name, ...] | None = None  # "on" would be YAML 1.1 for true


class MetricRule(_Rule):
    kind: Literal["metric"]
    metric: MetricName
    agg: MetricAgg = "last"
    window: Duration = timedelta(minutes=5)
    op: Op
    threshold: float
    scale: float = 1.0
    divide_by: DivideBy | None = None

    @model_validator(mode="after")
    def _counter_aggs(self) -> MetricRule:
        spec = REGISTRY.get(self.metric)
        if self.agg in ("increase", "rate") and spec is not None and not spec.is_counter:
            raise ValueError(f"agg {self.agg} needs a counter; {self.metric} is a gauge")
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")
        return self


class KpiRule(_Rule):
    kind: Literal["kpi"]
    kpi: KpiName
    level: Literal["site", "hub", "region", "national"] = "site"
    window: Duration = timedelta(hours=1)
    op: Op
    threshold: float | Literal["target"]
    margin: float = 0.0
    min_coverage: float = Field(default=0.9, ge=0.0, le=1.0)
    coverage_alert: Name = "KpiDataIncomplete"
    coverage_severity: Severity = "info"

    @model_validator(mode="after")
    def _target_exists(self) -> KpiRule:
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")
        if self.kpi in ("occupancy", "ppue") and self.level != "site":
            raise ValueError(f"{self.kpi} is judged per site (level: site)")
        if self.threshold == "target":
            site_ok = self.level == "site" and self.kpi in SITE_TARGETS
            national_ok = self.level == "national" and self.kpi == "pue"
            if not (site_ok or national_ok):
                raise ValueError(
                    f"threshold: target needs a target for {self.kpi} at level {self.level} "
                    f"(sites have targets for {', '.join(SITE_TARGETS)}; the network for pue)"
                )
        return self


class AbsentRule(_Rule):
    kind: Literal["absent"]
    metric: MetricName
    window: Duration = timedelta(minutes=10)
    by: tuple[Name, ...] = ()
    network: bool = False
    lookback: Duration = timedelta(days=1)

    @model_validator(mode="after")
    def _windows(self) -> AbsentRule:
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")
        if self.network and self.by:
            raise ValueError("network: true is one alert for the whole network; leave out by")
        if self.lookback < timedelta(hours=1) or self.lookback.total_seconds() % 3600:
            raise ValueError("lookback must be a whole number of hours (at least 1h)")
        return self


class SubmeterRule(_Rule):
    kind: Literal["submeter"]
    window: Duration = timedelta(hours=1)
    parents: dict[Name, Name] = Field(min_length=1)
    tolerance: float = Field(default=0.05, ge=0.0)
    min_coverage: float = Field(default=0.9, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _tree(self) -> SubmeterRule:
        if self.window <= timedelta(0):
            raise ValueError("window must be positive")
        if any(child == parent for child, parent in self.parents.items()):
            raise ValueError("a meter cannot be its own parent")
        return self


class ComputeRule(_Rule):
    kind: Literal["compute"]
    condition: ComputeCondition
    min_missing: int | str | None = Field(
        default=None, description="devices (4) or share of the registered ones ('5%')"
    )
    max_age: Duration | None = Field(default=None, description="verification_stale: 90d")

    @field_validator("min_missing")
    @classmethod
    def _missing(cls, value: int | str | None, info: ValidationInfo) -> int | str | None:
        if value is None:
            return None
        if info.data.get("condition") != "identify_mismatch":
            raise ValueError("min_missing applies to condition identify_mismatch only")
        if isinstance(value, int):
            if value < 1:
                raise ValueError("min_missing must be at least 1 device, or a share like '5%'")
            return value
        share = _SHARE.fullmatch(value.strip())
        if share is None or not 0 < float(share.group(1)) <= 100:
            raise ValueError(f"min_missing {value!r}: use devices (4) or a share like '5%'")
        return f"{float(share.group(1)):g}%"

    @field_validator("max_age")
    @classmethod
    def _age(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        if value is None:
            return None
        if info.data.get("condition") != "verification_stale":
            raise ValueError("max_age applies to condition verification_stale only")
        if value <= timedelta(0):
            raise ValueError("max_age must be positive")
        return value

    def verification_limit(self) -> timedelta:
        """The age beyond which a passed verification is stale (default 90 days)."""
        return self.max_age or DEFAULT_MAX_VERIFICATION_AGE.to_pytimedelta()

    def missing_devices(self) -> float:
        """Fewest missing devices that alert (0: any identify finding alerts)."""
        return float(self.min_missing) if isinstance(self.min_missing, int) else 0.0

    def missing_share(self) -> float:
        """Smallest missing share of the registered devices that alerts (0: any)."""
        if isinstance(self.min_missing, str):
            return float(self.min_missing.rstrip("%")) / 100.0
        return 0.0


Rule = MetricRule | KpiRule | AbsentRule | SubmeterRule | ComputeRule
_KINDS: dict[str, type[_Rule]] = {
    "metric": MetricRule,
    "kpi": KpiRule,
    "absent": AbsentRule,
    "submeter": SubmeterRule,
    "compute": ComputeRule,
}


@dataclass(frozen=True)
class AlertSpec:
    """What the lifecycle needs of a rule (or of a KPI rule's data-quality companion)."""

    rule_id: str
    alertname: str
    severity: str
    for_: timedelta
    keep_firing_for: timedelta
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


_COVERAGE_ANNOTATIONS = {
    "summary": "{kpi} of {scope} not judged by {rule}: coverage {coverage:.0%} of the last "
    "{window} is below {min_coverage:.0%}",
    "description": "Meters or collectors behind this figure were silent for part of the window; "
    "the efficiency alert is held until the data is complete again.",
}


def specs(rule: Rule) -> list[AlertSpec]:
    """The alert specs a rule produces: itself, plus a data-quality companion for KPI rules."""
    out = [
        AlertSpec(
            rule.alert,
            rule.alert,
            rule.severity,
            rule.for_,
            rule.keep_firing_for,
            dict(rule.labels),
            dict(rule.annotations),
        )
    ]
    if isinstance(rule, KpiRule):
        out.append(
            AlertSpec(
                coverage_rule_id(rule),
                rule.coverage_alert,
                rule.coverage_severity,
                rule.for_,
                rule.keep_firing_for,
                {"category": "data_quality"},
                _COVERAGE_ANNOTATIONS,
            )
        )
    return out


def coverage_rule_id(rule: KpiRule) -> str:
    return f"{rule.alert}:coverage"


@dataclass(frozen=True)
class RuleSet:
    """Validated rules from one file."""

    source: str
    rules: tuple[Rule, ...]

    def specs(self) -> dict[str, AlertSpec]:
        return {s.rule_id: s for rule in self.rules for s in specs(rule)}


class _File(StrictModel):
    rules: list[dict[str, Any]] = Field(default_factory=list)


def _sub_document(doc: YamlDocument, prefix: tuple[str | int, ...], data: object) -> YamlDocument:
    n = len(prefix)
    lines = {loc[n:]: line for loc, line in doc.lines.items() if loc[:n] == prefix}
    return YamlDocument(doc.source, data, lines)


def parse_rules(doc: YamlDocument) -> RuleSet:
    """Validate a parsed rule file; every problem names file, line and key."""
    top = parse_model(doc, _File)
    problems: list[tuple[int | None, str, str]] = []
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(top.rules):
        where = f"rules[{i}]"
        kind = raw.get("kind")
        model = _KINDS.get(kind) if isinstance(kind, str) else None
        if model is None:
            line = doc.line_of(("rules", i, "kind"))
            problems.append((line, f"{where}.kind", f"kind must be one of {', '.join(_KINDS)}"))
            continue
        try:
            rule = cast(Rule, parse_model(_sub_document(doc, ("rules", i), raw), model))
        except ConfigError as exc:
            problems += [
                (line, f"{where}.{key}" if key else where, m) for line, key, m in exc.problems
            ]
            continue
        alert = rule.alert
        if alert in seen:
            problems.append(
                (doc.line_of(("rules", i, "alert")), f"{where}.alert", f"duplicate alert {alert!r}")
            )
        seen.setdefault(alert, i)
        rules.append(rule)
    if problems:
        raise ConfigError(doc.source, problems)
    return RuleSet(doc.source, tuple(rules))


def load_rules(path: str | Path | None = None) -> RuleSet:
    """Load a rule file; ``None`` (or ``"national"``) loads the shipped national rule pack."""
    if path is None or str(path) == BUILTIN:
        text = (resources.files("greenwatch.alerts") / "rules" / "national.yaml").read_text(
            encoding="utf-8"
        )
        return parse_rules(load_yaml("<builtin>/alerts/national.yaml", text))
    return parse_rules(load_yaml(path))
