"""Report periods: calendar days, ISO weeks, months and years in Asia/Shanghai local time.

A period is half-open, ``[start, end)``; ``2026-10`` is ``[2026-10-01T00:00+08:00,
2026-11-01T00:00+08:00)``. China has kept UTC+08:00 without daylight saving since 1991, but the
bounds are still computed with the zone database rather than a fixed offset.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import pandas as pd

from greenwatch.model import GreenwatchError
from greenwatch.reports._names import TIMEZONE, PeriodKind

PERIOD_FORMS = "YYYY, YYYY-MM, YYYY-Www (ISO week) or YYYY-MM-DD"

_PATTERNS: tuple[tuple[PeriodKind, re.Pattern[str]], ...] = (
    ("year", re.compile(r"(\d{4})")),
    ("month", re.compile(r"(\d{4})-(\d{2})")),
    ("week", re.compile(r"(\d{4})-W(\d{2})")),
    ("day", re.compile(r"(\d{4})-(\d{2})-(\d{2})")),
)


class PeriodError(GreenwatchError):
    """A period string that names no calendar period."""


def _local(day: dt.date) -> pd.Timestamp:
    return pd.Timestamp(day.year, day.month, day.day).tz_localize(TIMEZONE)


def _first_day(kind: PeriodKind, day: dt.date) -> dt.date:
    if kind == "day":
        return day
    if kind == "week":
        return day - dt.timedelta(days=day.weekday())
    if kind == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _next_first_day(kind: PeriodKind, first: dt.date) -> dt.date:
    if kind == "day":
        return first + dt.timedelta(days=1)
    if kind == "week":
        return first + dt.timedelta(days=7)
    if kind == "month":
        return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.replace(year=first.year + 1)


def _label(kind: PeriodKind, first: dt.date) -> str:
    if kind == "day":
        return first.isoformat()
    if kind == "week":
        year, week, _ = first.isocalendar()
        return f"{year}-W{week:02d}"
    if kind == "month":
        return f"{first.year}-{first.month:02d}"
    return str(first.year)


@dataclass(frozen=True)
class Period:
    """One calendar period in Asia/Shanghai local time; ``start``/``end`` are local timestamps."""

    kind: PeriodKind
    label: str
    start: pd.Timestamp
    end: pd.Timestamp

    @classmethod
    def of(cls, kind: PeriodKind, first: dt.date) -> Period:
        """The period of ``kind`` that contains the local calendar date ``first``."""
        first = _first_day(kind, first)
        return cls(kind, _label(kind, first), _local(first), _local(_next_first_day(kind, first)))

    @classmethod
    def containing(cls, kind: PeriodKind, ts: pd.Timestamp) -> Period:
        """The period of ``kind`` that contains the instant ``ts`` (tz-aware)."""
        return cls.of(kind, ts.tz_convert(TIMEZONE).date())

    @classmethod
    def last_complete(cls, kind: PeriodKind, at: pd.Timestamp) -> Period:
        """The latest period of ``kind`` that ended at or before the instant ``at``."""
        return cls.containing(kind, at).previous()

    @property
    def start_utc(self) -> pd.Timestamp:
        return self.start.tz_convert("UTC")

    @property
    def end_utc(self) -> pd.Timestamp:
        return self.end.tz_convert("UTC")

    def previous(self) -> Period:
        """The period of the same kind just before this one."""
        return Period.of(self.kind, self.start.date() - dt.timedelta(days=1))

    def interval(self) -> str:
        """The exact interval, e.g. ``[2026-10-01T00:00+08:00, 2026-11-01T00:00+08:00)``."""
        return f"[{_iso_minutes(self.start)}, {_iso_minutes(self.end)})"

    def interval_utc(self) -> str:
        return f"[{_iso_minutes(self.start_utc)}, {_iso_minutes(self.end_utc)})"


def _iso_minutes(ts: pd.Timestamp) -> str:
    text = ts.strftime("%Y-%m-%dT%H:%M%z")
    return text[:-2] + ":" + text[-2:] if text[-5] in "+-" else text


def parse_period(text: str) -> Period:
    """A period from ``2026``, ``2026-10``, ``2026-W43`` or ``2026-10-05`` (Asia/Shanghai).

    Raises :class:`PeriodError` naming the accepted forms for anything else.
    """
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(text.strip())
        if match is None:
            continue
        numbers = [int(g) for g in match.groups()]
        try:
            if kind == "week":
                first = dt.date.fromisocalendar(numbers[0], numbers[1], 1)
            else:
                month, day = [*numbers[1:], 1, 1][:2]
                first = dt.date(numbers[0], month, day)
            if numbers[0] < 1970:
                raise ValueError("year before 1970")
        except ValueError as exc:
            raise PeriodError(f"bad period {text!r}: {exc}") from None
        return Period.of(kind, first)
    raise PeriodError(
        f"bad period {text!r}: use {PERIOD_FORMS} (calendar periods in {TIMEZONE} local time)"
    )
