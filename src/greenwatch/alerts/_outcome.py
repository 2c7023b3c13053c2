"""What rules produce: active instances (hits), held instances, errors; shared helpers."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from greenwatch.alerts._window import F64, SeriesWindow

OPS: dict[str, Callable[[F64, float], np.ndarray]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclass(frozen=True)
class Hit:
    """One active instance of a rule: its series labels, value and template figures."""

    labels: dict[str, str]
    value: float
    figures: dict[str, object] = field(default_factory=dict)


@dataclass
class Outcome:
    """What one rule said at one instant: active instances, instances it could not judge
    (their state is held as it is), and an error that holds every instance of the rule."""

    rule_id: str
    hits: list[Hit] = field(default_factory=list)
    held: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


@dataclass
class Table:
    labels: pd.DataFrame
    values: dict[str, F64]
    samples: SeriesWindow | None = None  # the raw samples, for windows reduced from them


def label_columns(labels: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each label column as an object array of strings, ``""`` where the label is missing."""
    return {
        str(c): labels[c].astype(object).where(labels[c].notna(), "").astype(str).to_numpy(object)
        for c in labels.columns
    }


def label_records(
    labels: pd.DataFrame,
    rows: Sequence[int] | np.ndarray,
    columns: dict[str, np.ndarray] | None = None,
) -> list[dict[str, str]]:
    """Label dicts of some rows, without missing labels."""
    if len(rows) == 0:
        return []
    cols = columns if columns is not None else label_columns(labels)
    return [{k: str(v[i]) for k, v in cols.items() if v[i] != ""} for i in rows]
