"""Push profiles: how pushed data (line protocol, OTLP, remote write) becomes canonical samples.

A push profile is YAML in the format of a collector profile's rules (``greenwatch.collect.Rule``:
``metric``, ``unit``, ``scale``, label templates, plausible range) plus what selects the data:

.. code-block:: yaml

    description: Telegraf inputs.nvidia_smi
    protocols: [influx]            # influx, otlp, remote_write (default: all)
    site_tag: datacenter           # tag holding the site when there is no ``site`` tag
    rules:
      - match: nvidia_smi          # full-match regex on the measurement / metric name
        field: power_draw          # full-match regex on the field key (influx only)
        where: {unit: watts}       # tag regexes that must match (exclude: must not)
        metric: device_power_watts
        unit: watts
        labels: {device: "{host}/gpu{index}", device_kind: gpu}

Templates see the tags (dots and other signs as ``_``: ``{hw_id}``), the regex's named
groups, ``measurement``, ``field`` and ``target`` (the first of the tags instance, host,
server, agent_host, source). The shipped Prometheus collector profiles (``collectors/*.yaml``
with ``family: prometheus``) also map remote write,
so a dcgm-exporter scraped by Prometheus lands exactly as if greenwatch had scraped it.

What a rule does not map is kept, never dropped: a canonical name with field ``value`` is
stored as it is; anything else under ``ext_<measurement>_<field>`` (line protocol) or
``ext_<name>`` (OTLP, remote write) with its tags as labels. Mapped readings outside the rule's
plausible range are dropped and counted, as collectors do; a canonical name written as is
with a value outside the registry's range is an error of that line.

A tag key or value (or the name, or the default site) holding a control character — the
store's separators among them — is an error of that line. OTLP attributes a canonical metric
does not take (``service.name``, ``host.name``, …: every SDK sends some) are dropped for it and
counted (``dropped_attributes``). Line protocol and remote write drop (and count) only the
agents' own identity labels (``AGENT_LABELS``: Telegraf's ``host``, Prometheus' ``job`` and
``instance``), which every agent adds by default; any other label a canonical metric does not
take is an error of that line, so a mistyped label is never silently lost.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from greenwatch.collect import PrometheusProfile, Rule, load_profile, shipped_profiles
from greenwatch.model import (
    COMMON_LABELS,
    REGISTRY,
    LabelFilters,
    Regex,
    StrictModel,
    label_problem,
    load_yaml,
    metric_spec,
    parse_model,
)

Protocol = Literal["influx", "otlp", "remote_write"]
PROTOCOLS: tuple[Protocol, ...] = ("influx", "otlp", "remote_write")
TARGET_TAGS = ("instance", "host", "server", "agent_host", "source")
AGENT_LABELS = frozenset({"host", "instance", "job", "agent_host"})
RESERVED = {"ts", "metric", "value"}
PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_EMPTY_PARTS = re.compile(r"/{2,}")


class PushRule(Rule):
    """A collector rule plus what it selects: name, field and tag filters (regexes)."""

    match: Regex
    field: Regex = "value"
    where: LabelFilters = Field(default_factory=dict)
    exclude: LabelFilters = Field(default_factory=dict)


class PushProfile(StrictModel):
    """A push profile file (see the module docstring)."""

    name: str = ""
    description: str = ""
    protocols: tuple[Protocol, ...] = PROTOCOLS
    site_tag: str | None = None
    rules: tuple[PushRule, ...] = Field(min_length=1)


def load_push_profile(path: str | Path) -> PushProfile:
    """A validated push profile; problems raise ``ConfigError`` naming file, line and key."""
    doc = load_yaml(path)
    profile = parse_model(doc, PushProfile)
    return profile.model_copy(update={"name": profile.name or Path(path).stem})


def _from_prometheus(profile: PrometheusProfile) -> PushProfile:
    rules = tuple(
        PushRule(**rule.model_dump(exclude={"group"}), field="value") for rule in profile.rules
    )
    return PushProfile(
        name=profile.name or "",
        description=profile.description,
        rules=rules,
        protocols=("remote_write",),
    )


def default_profiles(extra_dirs: Iterable[Path] = ()) -> list[PushProfile]:
    """Shipped push profiles, the shipped Prometheus collector profiles, then ``extra_dirs``."""
    out = [load_push_profile(p) for p in sorted(PROFILE_DIR.glob("*.yaml"))]
    for name in shipped_profiles():
        profile = load_profile(name)
        if isinstance(profile, PrometheusProfile):
            out.append(_from_prometheus(profile))
    for directory in extra_dirs:
        out += [load_push_profile(p) for p in sorted(Path(directory).glob("*.y*ml"))]
    return out


@dataclass(frozen=True)
class Mapped:
    """Where one (name, field, tags) goes: metric, labels (with site), scale and checks."""

    metric: str
    labels: tuple[tuple[str, str], ...]
    scale: float = 1.0
    bounds: tuple[float, float] | None = None  # mapped: drop outside; None: registry check
    error: str | None = None
    dropped: int = 0  # attributes left out (OTLP attributes a canonical metric does not take)


def ext_name(name: str, field_key: str | None) -> str:
    """``ext_<name>[_<field>]`` with every character outside ``[A-Za-z0-9_]`` as ``_``."""
    base = _NOT_NAME.sub("_", name if field_key is None else f"{name}_{field_key}")
    return f"ext_{base}"


def _path(value: str) -> str:
    """A label built from a template, without the empty parts a missing tag leaves
    (``"{target}/{name}"`` without a target is ``power_supply_1``, not ``/power_supply_1``)."""
    return _EMPTY_PARTS.sub("/", value.strip()).strip("/")


def _label_name(tag: str) -> str:
    """A tag as a label name: ``[A-Za-z0-9_]`` only, never a batch column name."""
    name = _NOT_NAME.sub("_", tag)
    return f"tag_{name}" if name in RESERVED or name[:1].isdigit() else name


@dataclass(frozen=True)
class _Compiled:
    profile: PushProfile
    rule: PushRule
    match: re.Pattern[str]
    field: re.Pattern[str]
    where: dict[str, re.Pattern[str]]
    exclude: dict[str, re.Pattern[str]]


def _compile(profile: PushProfile, rule: PushRule) -> _Compiled:
    return _Compiled(
        profile,
        rule,
        re.compile(rule.match),
        re.compile(rule.field),
        {k: re.compile(v) for k, v in rule.where.items()},
        {k: re.compile(v) for k, v in rule.exclude.items()},
    )


class Mapper:
    """Maps pushed series onto canonical metrics with push profiles (first matching rule)."""

    def __init__(self, profiles: Sequence[PushProfile]) -> None:
        self.profiles = list(profiles)
        self._rules: dict[str, list[_Compiled]] = {
            protocol: [
                _compile(profile, rule)
                for profile in self.profiles
                if protocol in profile.protocols
                for rule in profile.rules
            ]
            for protocol in PROTOCOLS
        }
        self._matching: dict[tuple[str, str, str | None], list[tuple[_Compiled, re.Match[str]]]]
        self._matching = {}

    def map(
        self,
        protocol: Protocol,
        name: str,
        field_key: str | None,
        tags: dict[str, str],
        default_site: str | None,
    ) -> Mapped:
        """The mapping of one series (``field_key`` None: OTLP/remote write, one value)."""
        unclean = _control_problem(name, field_key, tags, default_site)
        if unclean is not None:
            return Mapped(ext_name(name, field_key), (), error=unclean)
        for entry, found in self._candidates(protocol, name, field_key):
            profile, rule = entry.profile, entry.rule
            if any(not p.fullmatch(tags.get(k, "")) for k, p in entry.where.items()):
                continue
            if any(p.fullmatch(tags.get(k, "")) for k, p in entry.exclude.items()):
                continue
            site = _site(tags, profile.site_tag, default_site)
            variables = {
                "measurement": name,
                "field": field_key or "value",
                "target": next((tags[t] for t in TARGET_TAGS if t in tags), ""),
                **{_NOT_NAME.sub("_", k): v for k, v in tags.items()},
                **{k: v for k, v in found.groupdict().items() if v is not None},
            }
            try:
                labels = {k: _path(t.format_map(variables)) for k, t in rule.labels.items()}
            except KeyError:
                continue  # the rule needs a tag this series lacks: try the next rule
            if site is None:
                return Mapped(rule.metric, (), error=_NO_SITE)
            pairs = (("site", site), *sorted(labels.items()))
            return Mapped(rule.metric, pairs, rule.scale, rule.bounds())
        droppable = None if protocol == "otlp" else AGENT_LABELS
        site = _site(tags, None, default_site)
        metric, kept, dropped, problem = _unmapped(name, field_key, tuple(tags), droppable)
        if site is None:
            return Mapped(metric, (), error=_NO_SITE)
        pairs = (("site", site), *((label, tags[key]) for label, key in kept))
        return Mapped(metric, pairs, error=problem, dropped=0 if problem else dropped)

    def _candidates(
        self, protocol: Protocol, name: str, field_key: str | None
    ) -> list[tuple[_Compiled, re.Match[str]]]:
        """The rules whose name and field patterns match, in order, with the name's match:
        the same for every series of a name and field, so asked once for each."""
        key = (protocol, name, field_key)
        found = self._matching.get(key)
        if found is None:
            found = [
                (entry, hit)
                for entry in self._rules[protocol]
                if (hit := entry.match.fullmatch(name)) is not None
                and entry.field.fullmatch(field_key or "value")
            ]
            if len(self._matching) >= MAX_NAMES:
                self._matching.clear()
            self._matching[key] = found
        return found


MAX_NAMES = 4096  # (protocol, name, field) whose matching rules a mapper remembers


@lru_cache(maxsize=4096)
def _unmapped(
    name: str, field_key: str | None, keys: tuple[str, ...], droppable: frozenset[str] | None
) -> tuple[str, tuple[tuple[str, str], ...], int, str | None]:
    """A series no rule maps, by its name, field and tag keys: canonical as it is, else
    ``ext_``. Of the labels a canonical metric does not take, those in ``droppable`` (None: all
    of them) are left out and counted. Returns the metric, the (label, tag key) pairs kept in
    label order, how many were left out, and why the labels do not fit (None: they do)."""
    rest = {_label_name(k): k for k in keys if k != "site"}
    canonical = name in REGISTRY and field_key in (None, "value")
    metric = name if canonical else ext_name(name, field_key)
    dropped = 0
    if canonical:
        allowed = {*REGISTRY[name].labels, *COMMON_LABELS}
        extra = {k for k in rest if k not in allowed and (droppable is None or k in droppable)}
        dropped = len(extra)
        rest = {k: v for k, v in rest.items() if k not in extra}
    problem = label_problem(metric, tuple(sorted(rest))) if canonical else None
    return metric, tuple(sorted(rest.items())), dropped, problem


_NO_SITE = (
    "no site: add a 'site' tag (Telegraf [global_tags], Prometheus external_labels, OTel "
    "resource attribute greenwatch.site), or use a token created with --site"
)


def _control_problem(
    name: str, field_key: str | None, tags: dict[str, str], default_site: str | None
) -> str | None:
    """Which label (or name) holds a control character, or None (one regex search when clean)."""
    parts = [name, field_key or "", default_site or "", *tags.keys(), *tags.values()]
    if _CONTROL.search("".join(parts)) is None:
        return None
    if _CONTROL.search(name) or _CONTROL.search(field_key or ""):
        return f"name {name!r} contains a control character"
    for key, value in tags.items():
        if _CONTROL.search(key) or _CONTROL.search(value):
            return f"label {key!r}={value!r} contains a control character"
    return f"site {default_site!r} contains a control character"


def _site(tags: dict[str, str], site_tag: str | None, default: str | None) -> str | None:
    if "site" in tags:
        return tags["site"]
    if site_tag is not None and site_tag in tags:
        return tags[site_tag]
    return default


@dataclass
class PushResult:
    """What a push turned into: a canonical batch, errors by reference, and counts."""

    batch: pd.DataFrame
    errors: list[tuple[int, str]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    refs: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="int64"))  # per row


@lru_cache(maxsize=64)
def _spec_bounds(metric: str) -> tuple[float, float]:
    spec = metric_spec(metric)
    lo = spec.minimum if spec is not None and spec.minimum is not None else -np.inf
    hi = spec.maximum if spec is not None and spec.maximum is not None else np.inf
    return lo, hi


def _combinations(rows: pd.DataFrame) -> tuple[np.ndarray, list[tuple[int, str | None]]]:
    """Per row, the code of its (series, field); per code, the series index and field key
    (None: OTLP and remote write, one value per series)."""
    series_codes = rows["series"].to_numpy("int64")
    if "field" not in rows:
        codes, uniques = pd.factorize(series_codes)
        return codes, [(s, None) for s in uniques.tolist()]
    # One integer per (series, field): factorising ints is fast, tuples are not.
    field_codes, field_names = pd.factorize(rows["field"].to_numpy(dtype=object))
    width = max(len(field_names), 1)
    codes, uniques = pd.factorize(series_codes * width + field_codes)
    keys = np.asarray(field_names, dtype=object)[uniques % width].tolist()
    return codes, list(zip((uniques // width).tolist(), keys, strict=True))


def _rows_of(per_combo: Sequence[str | None], codes: np.ndarray) -> pd.Categorical:
    """A column given per (series, field) combination, as rows: a categorical over its
    distinct values (None: no value), so a batch's text is held once per distinct value."""
    value_codes, values = pd.factorize(np.array(per_combo, dtype=object))
    return pd.Categorical.from_codes(value_codes[codes], pd.Index(values, dtype=object))


def to_batch(
    mapper: Mapper,
    protocol: Protocol,
    series: Sequence[tuple[str, dict[str, str]]],
    rows: pd.DataFrame,
    default_site: str | None,
) -> PushResult:
    """Map rows (columns ``ref``, ``series``, ``field`` or None, ``value``, ``t``) to a batch.

    ``ref`` is what an error names (a line number, a series index). Mapping runs once per
    distinct (series, field); samples move as columns.
    """
    counts = {"received": len(rows)}
    errors: list[tuple[int, str]] = []
    codes, pairs = _combinations(rows)
    mapped = [
        mapper.map(protocol, series[i][0], field_key, series[i][1], default_site)
        for i, field_key in pairs
    ]
    refs = rows["ref"].to_numpy()
    values = rows["value"].to_numpy("float64").copy()
    scale = np.array([m.scale for m in mapped], dtype="float64")
    values *= scale[codes] if mapped else 1.0
    # Per-combination facts, then one vectorised pass over the rows.
    failed = np.array([m.error is not None for m in mapped], dtype=bool)
    soft = np.array([m.bounds is not None for m in mapped], dtype=bool)
    bounds = [m.bounds if m.bounds is not None else _spec_bounds(m.metric) for m in mapped]
    lo = np.array([b[0] for b in bounds], dtype="float64")[codes] if mapped else values
    hi = np.array([b[1] for b in bounds], dtype="float64")[codes] if mapped else values
    bad = failed[codes] if mapped else np.zeros(len(rows), dtype=bool)
    outside = ~bad & ~((values >= lo) & (values <= hi))
    dropped = outside & soft[codes] if mapped else outside
    refused = outside & ~dropped
    for j in np.unique(codes[bad]):
        errors += [(int(r), str(mapped[j].error)) for r in np.unique(refs[bad & (codes == j)])]
    for j in np.unique(codes[refused]):
        where = refused & (codes == j)
        why = f"{mapped[j].metric}: value outside [{lo[where][0]}, {hi[where][0]}]"
        errors += [(int(r), why) for r in np.unique(refs[where])]
    keep = ~(bad | outside)
    implausible = int(dropped.sum())
    counts["implausible"] = implausible
    codes, values, t = codes[keep], values[keep], rows["t"].to_numpy("int64")[keep]
    if mapped:
        dropped_attributes = np.array([m.dropped > 0 for m in mapped], dtype=bool)[codes]
        counts["dropped_attributes"] = int(dropped_attributes.sum())
    names = sorted({k for m in mapped for k, _ in m.labels} - {"site"})
    metric = [m.metric for m in mapped]
    columns: dict[str, object] = {}
    labelled = [dict(m.labels) for m in mapped]
    for label in ["site", *names]:
        columns[label] = _rows_of([d.get(label) for d in labelled], codes)
    batch = pd.DataFrame(
        {
            "ts": pd.DatetimeIndex(t.astype("datetime64[ns]")).tz_localize("UTC"),
            "metric": _rows_of(metric, codes),
            "value": values,
            **columns,
        }
    )  # validated by Ingest.submit, once
    ext = np.array([name.startswith("ext_") for name in metric], dtype=bool)
    counts["ext"] = int(ext[codes].sum()) if mapped else 0
    counts["accepted"] = len(batch)
    errors.sort()
    return PushResult(batch, errors, counts, refs[keep])
