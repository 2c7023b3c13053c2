"""Label matchers in Alertmanager/PromQL syntax: ``name="v"``, ``name!="v"``, ``name=~"re"``,
``name!~"re"`` (quotes optional). Used by rule selectors, routes, inhibitions, silences and
maintenance windows alike, so one syntax covers every place a user selects alerts or series.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BeforeValidator, PlainSerializer

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
OPS = ("=", "!=", "=~", "!~")


@dataclass(frozen=True)
class Matcher:
    """One label matcher; a missing label matches as the empty string (Alertmanager rule)."""

    name: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """Parse ``name<op>value``; raises ValueError on bad syntax or a bad regex."""
        found = _MATCHER.match(text)
        if not found:
            raise ValueError(f'bad matcher {text!r}: use name="value", !=, =~ or !~')
        name, op, raw = found.groups()
        value = raw
        if raw.startswith('"'):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ValueError(f"bad matcher {text!r}: unterminated quote") from exc
            if not isinstance(value, str):
                raise ValueError(f"bad matcher {text!r}: value must be a string")
        matcher = cls(name, op, value)
        if matcher.is_regex:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regex in matcher {text!r}: {exc}") from exc
        return matcher

    @classmethod
    def coerce(cls, raw: object) -> Matcher:
        """A matcher from a string or an Alertmanager API object (name, value, isRegex, isEqual)."""
        if isinstance(raw, Matcher):
            return raw
        if isinstance(raw, str):
            return cls.parse(raw)
        if isinstance(raw, Mapping) and {"name", "value"} <= set(raw):
            regex, equal = bool(raw.get("isRegex", False)), bool(raw.get("isEqual", True))
            op = {(False, True): "=", (False, False): "!=", (True, True): "=~"}.get(
                (regex, equal), "!~"
            )
            return cls.parse(f"{raw['name']}{op}{json.dumps(str(raw['value']))}")
        raise ValueError(f"a matcher is a string like 'site=\"guian-1\"', got {raw!r}")

    @property
    def is_regex(self) -> bool:
        return self.op in ("=~", "!~")

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        hit = re.fullmatch(self.value, value) is not None
        return hit if self.op == "=~" else not hit

    def mask(self, values: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`matches` over one label's values (strings, ``""`` when missing).

        A regex runs once per distinct value, not once per series.
        """
        if self.op in ("=", "!="):
            hit = np.asarray(values == self.value, dtype=bool)
            return hit if self.op == "=" else ~hit
        codes, uniques = pd.factorize(values)
        pattern = re.compile(self.value)
        found = np.fromiter(
            (pattern.fullmatch(str(u)) is not None for u in uniques), dtype=bool, count=len(uniques)
        )
        hit = found[codes] if len(codes) else np.zeros(0, dtype=bool)
        return hit if self.op == "=~" else ~hit

    def promql(self) -> str:
        """The matcher as PromQL/Alertmanager text (always quoted)."""
        return f"{self.name}{self.op}{json.dumps(self.value)}"

    def to_api(self) -> dict[str, Any]:
        """The Alertmanager v2 API form."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.is_regex,
            "isEqual": self.op in ("=", "=~"),
        }

    def __str__(self) -> str:
        return self.promql()


def _to_matchers(raw: object) -> tuple[Matcher, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, Mapping):
        raise ValueError('matchers are a list of strings like ["site=\\"guian-1\\""]')
    if not isinstance(raw, Sequence):
        raise ValueError(f"matchers must be a list of strings, got {raw!r}")
    return tuple(Matcher.coerce(item) for item in raw)


Matchers = Annotated[
    tuple[Matcher, ...],
    BeforeValidator(_to_matchers),
    PlainSerializer(lambda ms: [m.promql() for m in ms], return_type=list),
]


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def selector(metric: str, matchers: Sequence[Matcher]) -> str:
    """A PromQL series selector ``metric{m1,m2}``."""
    inner = ",".join(m.promql() for m in matchers)
    return f"{metric}{{{inner}}}" if inner else metric
