"""Turning raw readings into one canonical batch per poll.

A collector feeds ``(rule, raw value, variables)`` triples to a :class:`BatchBuilder`, which
applies the rule (value map, scale, plausible range, label templates plus the target's labels),
keeps the first reading of each series (profiles list sources in order of preference) and
builds the batch with :func:`greenwatch.model.make_batch`. Nulls and implausible readings are
skipped and noted, never fatal: a BMC that reports one broken sensor still reports the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd

from greenwatch.collect._profile import Rule
from greenwatch.collect._target import Target
from greenwatch.model import make_batch


def to_number(raw: object) -> float | None:
    """A float from a reading (number, numeric text with stray spaces); None if absent."""
    if raw is None or isinstance(raw, bool):
        return None if raw is None else float(raw)
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if isinstance(raw, str):
        text = raw.strip().strip("\x00").strip()
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            return None
    try:
        return float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class BatchBuilder:
    """Collects mapped readings of one poll of one target; ``build`` makes the batch.

    ``rules`` fixes each rule's preference (its position); readings may arrive in any order.
    """

    def __init__(self, target: Target, rules: Sequence[Rule]) -> None:
        self.target = target
        self.problems: list[str] = []
        self._priority = {id(rule): i for i, rule in enumerate(rules)}
        self._rows: list[tuple[int, str, float, dict[str, str], str | None]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, rule: Rule, raw: object, variables: Mapping[str, str] | None = None) -> bool:
        """Map one reading; False when it was null, implausible or unlabelled (noted)."""
        value = self._value_of(rule, raw)
        if value is None:
            return False
        labels = dict(self.target.labels)
        env = {"target": self.target.name, **(variables or {})}
        try:
            for name, template in rule.labels.items():
                labels[name] = template.format_map(env).strip()
            group = rule.group.format_map(env) if rule.group else None
        except KeyError as exc:
            self.problems.append(f"{rule.metric}: template needs variable {exc}")
            return False
        priority = self._priority.get(id(rule), len(self._priority))
        self._rows.append((priority, rule.metric, value, labels, group))
        return True

    def _value_of(self, rule: Rule, raw: object) -> float | None:
        if rule.map is not None:
            text = _map_key(raw)
            mapped = rule.map.get(text) if text is not None else None
            number = mapped if mapped is not None else rule.map_default
        else:
            number = to_number(raw)
        if number is None:
            return None
        value = number * rule.scale
        lo, hi = rule.bounds()
        if not math.isfinite(value) or value < lo or value > hi:
            self.problems.append(f"{rule.metric}: implausible value {value!r} dropped")
            return None
        return value

    def _kept(self) -> list[tuple[str, float, dict[str, str]]]:
        winner: dict[str, int] = {}
        for priority, _, _, _, group in self._rows:
            if group is not None:
                winner[group] = min(priority, winner.get(group, priority))
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        kept = []
        for priority, metric, value, labels, group in sorted(self._rows, key=lambda r: r[0]):
            if group is not None and winner[group] != priority:
                continue
            key = (metric, tuple(sorted(labels.items())))
            if key not in seen:
                seen.add(key)
                kept.append((metric, value, labels))
        return kept

    def build(self, ts: datetime) -> pd.DataFrame:
        """The batch: one timestamp (the poll's), ``site`` from the target, labels as mapped."""
        kept = self._kept()
        names = sorted({name for _, _, labels in kept for name in labels})
        columns = {name: [labels.get(name) for _, _, labels in kept] for name in names}
        return make_batch(
            pd.Series([pd.Timestamp(ts)] * len(kept), dtype="datetime64[ns, UTC]"),
            pd.Series([m for m, _, _ in kept], dtype=object),
            pd.Series([v for _, v, _ in kept], dtype="float64"),
            {"site": self.target.site, **columns},
        )


def _map_key(raw: object) -> str | None:
    if raw is None:
        return None
    number = to_number(raw)
    if number is not None and number.is_integer():
        return str(int(number))
    return str(raw).strip()
