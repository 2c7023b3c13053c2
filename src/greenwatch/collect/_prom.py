"""Prometheus scrape collector: a ``/metrics`` page mapped onto canonical metrics by rules.

Each rule matches sample names with a regular expression (named groups become template
variables, as do the sample's labels) and may filter on label values. Exporter quirks live in
the profile, not here: DCGM's energy counter is in millijoules and lacks ``_total``; node
exporter's RAPL zones overlap; Kepler's ``zone`` label must be filtered to one zone.

The exposition parser appends ``_total`` to counter samples that lack it, so a rule for a
counter may name the series either as exposed (``DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION``) or
with the suffix.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import ClassVar, Literal

import httpx
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
        return base if httpx.URL(base).path not in ("", "/") else base + self.prom.path

    def _poll(self, out: BatchBuilder) -> None:
        response = self._http().get(
            self._url(), headers={"Accept": ACCEPT}, auth=request_auth(self.target)
        )
        if response.status_code != 200:
            reason = status_reason(response.status_code)
            raise CollectorError(self.target.name, f"HTTP {response.status_code}", reason)
        try:
            families = list(text_string_to_metric_families(response.text))
        except (ValueError, TypeError, IndexError) as exc:
            raise CollectorError(self.target.name, f"bad exposition: {exc}", MALFORMED) from exc
        for family in families:
            for sample in family.samples:
                names = [sample.name]
                if family.type == "counter" and sample.name == family.name + "_total":
                    names.append(family.name)  # as exposed, before the parser added _total
                self._map(out, names, dict(sample.labels), sample.value)

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
