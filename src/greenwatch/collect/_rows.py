"""Turning raw readings into one canonical batch per poll.

A collector feeds ``(rule, raw value, variables)`` triples to a :class:`BatchBuilder`, which
applies the rule (constant or value map, scale, plausible range, label templates plus the
target's labels), keeps the first reading of each series (profiles list sources in order of
preference) or, for ``aggregate: sum`` rules, adds up that rule's readings of the series, and
builds the batch with :func:`greenwatch.model.make_batch`. Nulls and implausible readings are
skipped and noted, never fatal: a BMC that reports one broken sensor still reports the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

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


# A row added to a poll's batch as given: (timestamp, metric, value, labels).
ExtraRow = tuple[pd.Timestamp, str, float, Mapping[str, str | None]]


class _Row(NamedTuple):
    priority: int
    metric: str
    value: float
    labels: dict[str, str]
    group: str | None
    rule: Rule


class BatchBuilder:
    """Collects mapped readings of one poll of one target; ``build`` makes the batch.

    ``rules`` fixes each rule's preference (its position); readings may arrive in any order.
    """

    def __init__(self, target: Target, rules: Sequence[Rule]) -> None:
        self.target = target
        self.problems: list[str] = []
        self._priority = {id(rule): i for i, rule in enumerate(rules)}
        self._rows: list[_Row] = []

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
        self._rows.append(_Row(priority, rule.metric, value, labels, group, rule))
        return True

    def _value_of(self, rule: Rule, raw: object) -> float | None:
        if rule.constant is not None:
            number = rule.constant if _present(raw) else None
        elif rule.map is not None:
            text = _map_key(raw)
            mapped = rule.map.get(text) if text is not None else None
            number = mapped if mapped is not None else rule.map_default
        else:
            number = to_number(raw)
        if number is None:
            return None
        return self._plausible(rule, number * rule.scale, "value")

    def _plausible(self, rule: Rule, value: float, what: str) -> float | None:
        lo, hi = rule.bounds()
        if not math.isfinite(value) or value < lo or value > hi:
            self.problems.append(f"{rule.metric}: implausible {what} {value!r} dropped")
            return None
        return value

    def _kept(self) -> list[tuple[str, float, dict[str, str]]]:
        winner: dict[str, int] = {}
        for row in self._rows:
            if row.group is not None:
                winner[row.group] = min(row.priority, winner.get(row.group, row.priority))
        kept: dict[tuple[str, tuple[tuple[str, str], ...]], _Row] = {}
        for row in sorted(self._rows, key=lambda r: r.priority):
            if row.group is not None and winner[row.group] != row.priority:
                continue
            key = (row.metric, tuple(sorted(row.labels.items())))
            first = kept.get(key)
            if first is None:
                kept[key] = row
            elif first.rule is row.rule and row.rule.aggregate == "sum":
                kept[key] = first._replace(value=first.value + row.value)
        out = []
        for row in kept.values():
            # Each reading was plausible; their sum must be too (the registry's range holds).
            value = self._plausible(row.rule, row.value, "sum") if row.rule.aggregate else row.value
            if value is not None:
                out.append((row.metric, value, row.labels))
        return out

    def build(self, ts: datetime, extra: Sequence[ExtraRow] = ()) -> pd.DataFrame:
        """The batch: the readings at one timestamp (the poll's), then the ``extra`` rows at
        theirs; ``site`` from the target, labels as mapped (a label a row lacks is None).

        One batch for a poll's data and its health rows costs a third of building both and
        concatenating them.
        """
        stamp = pd.Timestamp(ts)
        rows: list[ExtraRow] = [(stamp, m, v, labels) for m, v, labels in self._kept()]
        rows += extra
        names = sorted({name for *_, labels in rows for name in labels})
        columns = {name: [labels.get(name) for *_, labels in rows] for name in names}
        return make_batch(
            [t for t, *_ in rows] if extra else stamp,
            [m for _, m, _, _ in rows],
            [v for _, _, v, _ in rows],
            {"site": self.target.site, **columns},
        )


def _present(raw: object) -> bool:
    """Whether a reading is there at all (for ``constant`` rules): not null, NaN or blank."""
    if isinstance(raw, float):
        return not math.isnan(raw)
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if isinstance(raw, str):
        return bool(raw.strip().strip("\x00").strip())
    return raw is not None


def _map_key(raw: object) -> str | None:
    if raw is None:
        return None
    number = to_number(raw)
    if number is not None and number.is_integer():
        return str(int(number))
    return str(raw).strip()
