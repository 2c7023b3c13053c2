"""Report periods: calendar periods in Asia/Shanghai local time, half-open."""

from __future__ import annotations

import pandas as pd
import pytest

from greenwatch.reports import Period, PeriodError, parse_period


@pytest.mark.parametrize(
    ("text", "kind", "interval", "previous"),
    [
        ("2026-10", "month", "[2026-10-01T00:00+08:00, 2026-11-01T00:00+08:00)", "2026-09"),
        ("2026-12", "month", "[2026-12-01T00:00+08:00, 2027-01-01T00:00+08:00)", "2026-11"),
        ("2026-W43", "week", "[2026-10-19T00:00+08:00, 2026-10-26T00:00+08:00)", "2026-W42"),
        ("2026-W01", "week", "[2025-12-29T00:00+08:00, 2026-01-05T00:00+08:00)", "2025-W52"),
        ("2020-W53", "week", "[2020-12-28T00:00+08:00, 2021-01-04T00:00+08:00)", "2020-W52"),
        ("2026-10-05", "day", "[2026-10-05T00:00+08:00, 2026-10-06T00:00+08:00)", "2026-10-04"),
        ("2028-03-01", "day", "[2028-03-01T00:00+08:00, 2028-03-02T00:00+08:00)", "2028-02-29"),
        ("2026", "year", "[2026-01-01T00:00+08:00, 2027-01-01T00:00+08:00)", "2025"),
    ],
)
def test_period_forms(text: str, kind: str, interval: str, previous: str) -> None:
    period = parse_period(text)
    assert (period.kind, period.label, period.interval()) == (kind, text, interval)
    assert period.previous().label == previous
    assert period.previous().end == period.start


def test_period_bounds_are_utc_instants_of_local_midnight() -> None:
    period = parse_period("2026-10")
    assert period.start_utc == pd.Timestamp("2026-09-30T16:00Z")
    assert period.end_utc == pd.Timestamp("2026-10-31T16:00Z")
    assert period.interval_utc() == "[2026-09-30T16:00+00:00, 2026-10-31T16:00+00:00)"


def test_last_complete_period() -> None:
    at = pd.Timestamp("2026-11-01T02:00+08:00")  # = 2026-10-31T18:00Z, already November locally
    assert Period.last_complete("month", at).label == "2026-10"
    assert Period.last_complete("day", at).label == "2026-10-31"
    assert Period.last_complete("week", at).label == "2026-W43"
    assert Period.last_complete("year", at).label == "2025"


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-00", "2026-W00", "2026-W54", "2026-02-29", "1969", "26-10", "", "x"]
)
def test_bad_periods(text: str) -> None:
    with pytest.raises(PeriodError, match="bad period"):
        parse_period(text)
