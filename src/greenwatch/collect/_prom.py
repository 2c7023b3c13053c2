"""Prometheus scrape collector: a ``/metrics`` page mapped onto canonical metrics by rules.

Each rule matches sample names with a regular expression (named groups become template
variables, as do the sample's labels) and may filter on label values. Exporter quirks live in
the profile, not here: DCGM's energy counter is in millijoules and lacks ``_total``; node
exporter's RAPL zones overlap; Kepler's ``zone`` label must be filtered to one zone.

The exposition parser appends ``_total`` to counter samples that lack it, so a rule for a
counter may name the series either as exposed (``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION``) or
with the suffix. Pages are read as prometheus_client's parser reads them; pages of plain lines
(what exporters write) by a line reader here, six times faster, the rest by prometheus_client.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field

from greenwatch.collect._errors import MALFORMED, CollectorError, status_reason
from greenwatch.collect._http import HttpCollector, request_auth
from greenwatch.collect._profile import ProfileBase, Rule
from greenwatch.collect._rows import BatchBuilder
from greenwatch.model import LabelFilters, Regex

ACCEPT = "text/plain;version=0.0.4;q=1.0,*/*;q=0.1"
_Filters = dict[str, re.Pattern[str]]
# A rule that takes a sample's name: (rule, where, exclude, the name's groups).
_Match = tuple["PromRule", _Filters, _Filters, dict[str, str]]
NAMES_KEPT = 4096  # sample names whose matching rules a collector remembers


class PromRule(Rule):
    """``match``: full-match regex on the sample name; ``where``/``exclude``: label regexes."""

    match: Regex
    where: LabelFilters = Field(default_factory=dict)
    exclude: LabelFilters = Field(default_factory=dict)


class PrometheusProfile(ProfileBase):
    family: Literal["prometheus"]
    path: str = Field(default="/metrics", pattern=r"^/")
    rules: tuple[PromRule, ...] = Field(min_length=1)

    def all_rules(self) -> tuple[PromRule, ...]:
        return self.rules


class PrometheusCollector(HttpCollector):
    """Scrapes one exporter over HTTP(S); ``client`` may be injected (else one is made)."""

    family: ClassVar[str] = "prometheus"
    profile_model: ClassVar[type[ProfileBase]] = PrometheusProfile

    @property
    def prom(self) -> PrometheusProfile:
        assert isinstance(self.profile, PrometheusProfile)
        return self.profile

    @cached_property
    def _compiled(self) -> list[tuple[PromRule, re.Pattern[str], _Filters, _Filters]]:
        return [
            (
                rule,
                re.compile(rule.match),
                {k: re.compile(v) for k, v in rule.where.items()},
                {k: re.compile(v) for k, v in rule.exclude.items()},
            )
            for rule in self.prom.rules
        ]

    def _url(self) -> str:
        base = self._base
        return base if urlsplit(base).path not in ("", "/") else base + self.prom.path

    def _poll(self, out: BatchBuilder) -> None:
        response = self._http().get(self._url(), {"Accept": ACCEPT, **request_auth(self.target)})
        if response.status_code != 200:
            reason = status_reason(response.status_code)
            raise CollectorError(self.target.name, f"HTTP {response.status_code}", reason)
        try:
            samples = exposition_samples(response.text)
        except (ValueError, TypeError, IndexError) as exc:
            raise CollectorError(self.target.name, f"bad exposition: {exc}", MALFORMED) from exc
        for names, labels, value in samples:
            self._map(out, names, labels, value)

    def _map(
        self, out: BatchBuilder, names: list[str], labels: dict[str, str], value: float
    ) -> None:
        for rule, where, exclude, groups in self._rules_of(tuple(names)):
            if any(not p.fullmatch(labels.get(k, "")) for k, p in where.items()):
                continue
            if any(p.fullmatch(labels.get(k, "")) for k, p in exclude.items()):
                continue
            out.add(rule, value, {**labels, **groups})

    @cached_property
    def _by_name(self) -> dict[tuple[str, ...], list[_Match]]:
        return {}

    def _rules_of(self, names: tuple[str, ...]) -> list[_Match]:
        """The rules whose ``match`` takes one of a sample's names, in order, with the groups
        of the first name it takes; remembered per names (a page repeats them every poll)."""
        known = self._by_name.get(names)
        if known is not None:
            return known
        if len(self._by_name) >= NAMES_KEPT:
            self._by_name.clear()
        found = []
        for rule, match, where, exclude in self._compiled:
            first = next((m for m in map(match.fullmatch, names) if m is not None), None)
            if first is not None:
                groups = {k: v for k, v in first.groupdict().items() if v is not None}
                found.append((rule, where, exclude, groups))
        self._by_name[names] = found
        return found


# A sample of a page: its names (as parsed, then as exposed), labels and value.
_Sample = tuple[list[str], dict[str, str], float]
_PLAIN = re.compile(r"[\x20-\x7e\n]*")  # printable ASCII: no escapes, odd spaces, CRs
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"'
_LINE = re.compile(
    rf"({_NAME.pattern})(?:\{{((?:{_PAIR}(?:,{_PAIR})*,?)?)\}})? ([^ ]+)(?: -?[0-9]+)?"
)
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')
_TYPES = {"counter", "gauge", "summary", "histogram", "gaugehistogram", "unknown", "info"}
_TYPES |= {"stateset", "untyped"}  # the types prometheus_client's parser knows
_FAMILY_NAMES = {"summary": ["_count", "_sum", ""], "histogram": ["_count", "_sum", "_bucket"]}


def exposition_samples(text: str) -> list[_Sample]:
    """The samples of a text exposition page, as prometheus_client's parser reads them.

    A page of plain lines (what exporters write) is read line by line here, in a fraction of
    the time; any line this reader does not know for certain sends the whole page to
    prometheus_client, which also raises on a malformed page.
    """
    fast = _plain_samples(text) if _PLAIN.fullmatch(text) else None
    if fast is not None:
        return fast
    out: list[_Sample] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            names = [sample.name]
            if family.type == "counter" and sample.name == family.name + "_total":
                names.append(family.name)  # as exposed, before the parser added _total
            out.append((names, dict(sample.labels), sample.value))
    return out


class _Families:
    """prometheus_client's grouping of samples into families, for the names it gives them."""

    def __init__(self) -> None:
        self.out: list[_Sample] = []
        self.name, self.typ = "", "untyped"
        self.allowed: list[str] = []
        self.samples: list[tuple[str, dict[str, str], float]] = []

    def flush(self) -> None:
        for sample, labels, value in self.samples:
            self.out.append((self._names(sample), labels, value))

    def _names(self, sample: str) -> list[str]:
        if self.typ != "counter":
            return [sample]
        if self.name.endswith("_total"):
            return [sample, self.name[:-6]]
        return [sample + "_total", self.name]

    def start(self, name: str) -> None:
        if self.name != "":
            self.flush()
        self.name, self.samples = name, []

    def comment(self, parts: list[str]) -> bool:
        """A ``#`` line; False when this reader cannot be sure of it."""
        if len(parts) < 2 or (len(parts) > 2 and parts[1] not in ("HELP", "TYPE")):
            return True
        if len(parts) == 2:
            return parts[1] not in ("HELP", "TYPE")
        if '"' in parts[2] or not _NAME.fullmatch(parts[2]):
            return False
        if parts[1] == "HELP":
            if parts[2] != self.name:
                self.start(parts[2])
                self.typ, self.allowed = "untyped", [parts[2]]
            return True
        if len(parts) < 4 or parts[3] not in _TYPES or parts[2] == "_total":
            return False  # the full parser refuses these (a type it does not know, no name)
        if parts[2] != self.name:
            self.start(parts[2])
        self.typ = parts[3]
        self.allowed = [self.name + n for n in _FAMILY_NAMES.get(self.typ, [""])]
        return True

    def sample(self, name: str, labels: dict[str, str], value: float) -> None:
        if name in self.allowed:
            self.samples.append((name, labels, value))
            return
        if self.name != "":
            self.flush()
        self.name, self.typ, self.allowed, self.samples = "", "untyped", [], []
        self.out.append(([name], labels, value))


def _plain_samples(text: str) -> list[_Sample] | None:
    """:func:`exposition_samples` of a page of plain lines; None at a line it is unsure of."""
    families = _Families()
    for raw in text.split("\n"):
        line = raw.strip()
        if line.startswith("#"):
            if '"' in line or not families.comment(line.split(None, 3)):
                return None
        elif line:
            sample = _plain_sample(line)
            if sample is None:
                return None
            families.sample(*sample)
    if families.name != "":
        families.flush()
    return families.out


def _plain_sample(line: str) -> tuple[str, dict[str, str], float] | None:
    found = _LINE.fullmatch(line)
    if found is None:
        return None
    name, pairs, text = found.groups()
    labels = dict(_LABEL.findall(pairs or ""))
    if len(labels) != (pairs or "").count('="') or any(k.startswith("__") for k in labels):
        return None  # a repeated or reserved label name: the full parser says what is wrong
    value = _number(text)
    return None if value is None else (name, labels, value)


def _number(text: str) -> float | None:
    if "_" in text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return None
