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
from typing import ClassVar, Literal

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field, field_validator

from greenwatch.collect._base import Clock, Collector, utc_now
from greenwatch.collect._errors import MALFORMED, CollectorError, status_reason
from greenwatch.collect._http import make_client, request_auth
from greenwatch.collect._profile import ProfileBase, Rule
from greenwatch.collect._rows import BatchBuilder
from greenwatch.collect._target import Target

ACCEPT = "text/plain;version=0.0.4;q=1.0,*/*;q=0.1"


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
    return pattern


class PromRule(Rule):
    """``match``: full-match regex on the sample name; ``where``/``exclude``: label regexes."""

    match: str
    where: dict[str, str] = Field(default_factory=dict)
    exclude: dict[str, str] = Field(default_factory=dict)

    @field_validator("match")
    @classmethod
    def _match(cls, pattern: str) -> str:
        return _regex(pattern)

    @field_validator("where", "exclude")
    @classmethod
    def _filters(cls, filters: dict[str, str]) -> dict[str, str]:
        for pattern in filters.values():
            _regex(pattern)
        return filters


class PrometheusProfile(ProfileBase):
    family: Literal["prometheus"]
    path: str = Field(default="/metrics", pattern=r"^/")
    rules: tuple[PromRule, ...] = Field(min_length=1)

    def all_rules(self) -> tuple[PromRule, ...]:
        return self.rules


class PrometheusCollector(Collector):
    """Scrapes one exporter over HTTP(S); ``client`` may be injected (else one is made)."""

    family: ClassVar[str] = "prometheus"
    profile_model: ClassVar[type[ProfileBase]] = PrometheusProfile

    def __init__(
        self,
        profile: ProfileBase,
        target: Target,
        clock: Clock = utc_now,
        *,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(profile, target, clock)
        assert isinstance(profile, PrometheusProfile)
        self.prom = profile
        self._client = client
        self._own_client = client is None
        self._base = target.require_url()
        self._compiled = [
            (
                rule,
                re.compile(rule.match),
                {k: re.compile(v) for k, v in rule.where.items()},
                {k: re.compile(v) for k, v in rule.exclude.items()},
            )
            for rule in profile.rules
        ]

    def _url(self) -> str:
        base = self._base
        return base if httpx.URL(base).path not in ("", "/") else base + self.prom.path

    def _poll(self, out: BatchBuilder) -> None:
        if self._client is None:
            self._client = make_client(self.target)
        response = self._client.get(
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
        for rule, match, where, exclude in self._compiled:
            found = next((m for m in map(match.fullmatch, names) if m is not None), None)
            if found is None:
                continue
            if any(not p.fullmatch(labels.get(k, "")) for k, p in where.items()):
                continue
            if any(p.fullmatch(labels.get(k, "")) for k, p in exclude.items()):
                continue
            groups = {k: v for k, v in found.groupdict().items() if v is not None}
            out.add(rule, value, {**labels, **groups})

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None
