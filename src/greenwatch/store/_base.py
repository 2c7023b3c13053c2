"""The store contract shared by every store (DESIGN.md, Contracts: Store)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

import pandas as pd

from greenwatch.model import SystemFailureError

Agg = Literal[
    "mean",
    "min",
    "max",
    "sum",
    "count",
    "first",
    "last",
    "increase",
    "integral",
    "coverage",
    "resets",
    "reset_start",
    "reset_end",
]
AGGS: tuple[str, ...] = get_args(Agg)
LabelFilter = Mapping[str, str | Sequence[str]]

DEFAULT_MAX_GAP = pd.Timedelta(minutes=15)
COUNTER_LOOKBACK = pd.Timedelta(hours=6)


class StoreError(SystemFailureError):
    """A store could not do what was asked (bad query, engine unreachable)."""


@dataclass(frozen=True)
class Gaps:
    """How intervals between samples are treated by ``increase``/``integral``/``coverage``.

    A pair of consecutive samples at most ``max_gap`` apart is *covered*: its counter increase
    and trapezoid integral are split across buckets in proportion to time. A longer pair is a
    gap: it adds nothing to the integral or coverage; a counter's increase across it is spread
    over the buckets the gap spans in proportion to time when the gap is at most
    ``counter_lookback`` (the meter kept counting), else dropped. ``resets`` counts counter
    drops (pairs whose later value is lower) ending in a bucket; ``reset_start`` and
    ``reset_end`` (ns since the epoch) bound the reset pairs touching it.
    """

    max_gap: pd.Timedelta = DEFAULT_MAX_GAP
    counter_lookback: pd.Timedelta = COUNTER_LOOKBACK


@runtime_checkable
class Store(Protocol):
    """Where samples live. Every implementation passes ``tests/store/contract.py``."""

    def write(self, batch: pd.DataFrame) -> int:
        """Store a batch; a sample with the same metric, labels and ts is stored once.

        Returns the number of samples newly stored, or of samples sent where the engine
        de-duplicates on its own and does not say (a store whose ``counts_new`` is False).
        """
        ...

    def query(
        self,
        metric: str,
        start: pd.Timestamp,
        end: pd.Timestamp,
        labels: LabelFilter | None = None,
        step: pd.Timedelta | None = None,
        agg: str | Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Samples of ``metric`` in ``[start, end)``.

        Without ``agg``: raw samples (columns ts, value, labels). With ``agg``: one row per series
        and bucket of width ``step`` (whole range when ``step`` is None) starting at ``start``;
        column ``value`` for one aggregation, or one column per name for several.
        """
        ...

    def series(self, metric: str | None = None, labels: LabelFilter | None = None) -> pd.DataFrame:
        """Known series: columns metric and one per label."""
        ...

    def close(self) -> None: ...


def check_range(start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta | None) -> None:
    """Reject naive timestamps, empty ranges and non-positive steps."""
    for name, ts in (("start", start), ("end", end)):
        if not isinstance(ts, pd.Timestamp) or ts.tzinfo is None:
            raise StoreError(f"{name} must be a tz-aware pandas Timestamp, got {ts!r}")
    if end <= start:
        raise StoreError(f"empty range: end {end} is not after start {start}")
    if step is not None and step <= pd.Timedelta(0):
        raise StoreError(f"step must be positive, got {step}")


def normalise_aggs(agg: str | Sequence[str] | None) -> list[str]:
    """The aggregation names asked for, validated."""
    if agg is None:
        return []
    names = [agg] if isinstance(agg, str) else list(agg)
    unknown = [a for a in names if a not in AGGS]
    if unknown or not names:
        raise StoreError(f"unknown aggregation {unknown or names} (one of {', '.join(AGGS)})")
    return names


def match_labels(series: pd.DataFrame, labels: LabelFilter | None) -> pd.DataFrame:
    """Rows of a series table whose labels match (a value, or any of a list of values)."""
    if not labels:
        return series
    mask = pd.Series(True, index=series.index)
    for name, wanted in labels.items():
        if name not in series.columns:
            return series.iloc[0:0]
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        mask &= series[name].isin(values)
    return series[mask]
