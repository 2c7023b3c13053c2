"""Collector profiles: YAML that maps a device family's fields onto canonical metrics.

Every family's profile is a pydantic model with ``extra="forbid"`` deriving from
:class:`ProfileBase`; its mapping rules derive from :class:`Rule` (metric, unit, scale, label
templates, value map, plausible range). A profile is loaded with the shared YAML loader, so any
problem — an unknown key, an unknown metric, a unit that is not the metric's, a bad OID or
register — is a :class:`ConfigError` naming file, line and key.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from greenwatch.model import (
    ConfigError,
    MetricName,
    StrictModel,
    label_problem,
    load_yaml,
    metric_spec,
    parse_model,
    shipped_dir,
)


def template_fields(template: str) -> set[str]:
    """Names a ``{name}`` label template refers to (``ValueError`` if it is malformed)."""
    names: set[str] = set()
    for _, field, spec, conv in string.Formatter().parse(template):
        if field is None:
            continue
        if not field.isidentifier() or spec or conv:
            raise ValueError(f"label template {template!r}: use plain {{name}} fields")
        names.add(field)
    return names


class Rule(StrictModel):
    """One mapping from a source field to a canonical metric.

    ``value = raw × scale`` (after ``map``, which translates enumerations such as
    ``ifOperStatus`` 1 → 1, else ``map_default``). ``constant`` replaces the value of every
    reading that is present (not null), e.g. 1 to count devices. Values outside ``[min, max]``
    (default: the registry's range) are dropped as implausible. ``labels`` are templates over
    the variables the family binds (``{target}`` always).

    Rules are in order of preference: when two rules yield the same series (metric and
    labels), the earlier one's reading is kept. ``group`` (a template) widens that: of all
    rules whose rendered group is equal, only the earliest that yields a reading is used, so
    a legacy source is read only where the newer one is absent. With ``aggregate: sum`` the
    readings of one rule that land on the same series within a poll are added up instead of
    the first being kept (GPUs of one model, outlets of one rack).
    """

    metric: MetricName
    unit: str | None = None
    scale: float = 1.0
    labels: dict[str, str] = Field(default_factory=dict)
    group: str | None = None
    map: dict[str, float] | None = None
    map_default: float | None = None
    min: float | None = None
    max: float | None = None
    constant: float | None = None
    aggregate: Literal["sum"] | None = None

    @field_validator("map", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): v for k, v in value.items()}
        return value

    @field_validator("scale")
    @classmethod
    def _finite_scale(cls, scale: float) -> float:
        if not math.isfinite(scale) or scale == 0:
            raise ValueError("scale must be finite and non-zero")
        return scale

    @field_validator("constant")
    @classmethod
    def _finite_constant(cls, constant: float | None) -> float | None:
        if constant is not None and not math.isfinite(constant):
            raise ValueError("constant must be finite")
        return constant

    @field_validator("labels")
    @classmethod
    def _templates(cls, labels: dict[str, str]) -> dict[str, str]:
        for template in labels.values():
            template_fields(template)
        return labels

    @field_validator("group")
    @classmethod
    def _group(cls, group: str | None) -> str | None:
        if group is not None:
            template_fields(group)
        return group

    def variables(self) -> set[str]:
        """Template variables the rule's labels and group need."""
        names = {n for t in self.labels.values() for n in template_fields(t)}
        return names | (template_fields(self.group) if self.group else set())

    @model_validator(mode="after")
    def _unit_and_labels(self) -> Rule:
        spec = metric_spec(self.metric)
        if spec is not None and self.unit is not None and spec.unit and self.unit != spec.unit:
            raise ValueError(f"metric {self.metric} is in {spec.unit}, not {self.unit}")
        problem = label_problem(self.metric, tuple(sorted(self.labels)))
        if problem:
            raise ValueError(problem)
        if self.constant is not None:
            # The reading only says "present": there is nothing to map or scale.
            clash = [k for k in ("map", "map_default") if getattr(self, k) is not None]
            if self.scale != 1.0:
                clash.append("scale")
            if clash:
                raise ValueError(f"constant replaces the reading: drop {', '.join(clash)}")
        return self

    def bounds(self) -> tuple[float, float]:
        """The plausible range ``[lo, hi]`` of the scaled value."""
        spec = metric_spec(self.metric)
        lo = self.min if self.min is not None else (spec.minimum if spec else None)
        hi = self.max if self.max is not None else (spec.maximum if spec else None)
        return (-math.inf if lo is None else lo, math.inf if hi is None else hi)


class ProfileBase(StrictModel):
    """Keys every profile has; a family's profile adds its settings and ``rules``."""

    family: str
    name: str | None = Field(default=None, description="defaults to the file name")
    description: str = ""

    def all_rules(self) -> Sequence[Rule]:
        """Every mapping rule of the profile."""
        return ()


def profile_path(path_or_name: str | Path) -> Path:
    """A profile file: a path as given, else a shipped profile ``collectors/<name>.yaml``."""
    path = Path(path_or_name)
    if path.suffix in (".yaml", ".yml") or path.is_file() or len(path.parts) > 1:
        return path
    return shipped_dir("collectors") / f"{path_or_name}.yaml"


def shipped_profiles() -> list[str]:
    """Names of the profiles shipped in ``collectors/``."""
    return sorted(p.stem for p in shipped_dir("collectors").glob("*.yaml"))


def read_profile(
    path_or_name: str | Path, families: Mapping[str, type[ProfileBase]]
) -> ProfileBase:
    """Load and validate a profile of any registered family.

    Raises :class:`ConfigError` naming file, line and key for every problem.
    """
    path = profile_path(path_or_name)
    doc = load_yaml(path)
    data = doc.data
    if not isinstance(data, dict):
        raise ConfigError(doc.source, [(1, "", "a profile is a mapping with a family key")])
    family = data.get("family")
    model = families.get(family) if isinstance(family, str) else None
    if model is None:
        known = ", ".join(sorted(families))
        line = doc.line_of(("family",))
        raise ConfigError(doc.source, [(line, "family", f"unknown family {family!r} ({known})")])
    context = {"symbols": data.get("symbols") if isinstance(data.get("symbols"), dict) else {}}
    profile = parse_model(doc, model, context=context)
    if profile.name is None:
        profile = profile.model_copy(update={"name": path.stem})
    return profile


def rule_label_problems(
    rules: Iterable[Rule], extra_labels: Iterable[str]
) -> list[tuple[int, str, str]]:
    """``(rule index, metric, problem)`` where a rule cannot carry its labels plus ``extra``."""
    extra = set(extra_labels)
    out = []
    for i, rule in enumerate(rules):
        problem = label_problem(rule.metric, tuple(sorted(set(rule.labels) | extra)))
        if problem:
            out.append((i, rule.metric, problem))
    return out
