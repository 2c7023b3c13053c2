"""What the dashboard shows, as encoded in its URL: page, site, period, link, edge colouring.

``/site/guian-1?period=7d`` is a shareable view; ``&end=2026-07-01T00:00Z`` pins the period to
a past end instead of following the clock. Parsing never raises: a bad parameter falls back to
the default and the view says so in ``problems``.

A live period ends at the last whole hour: its totals are read from the store's hourly
roll-ups alone (no raw samples), and a figure does not count the running hour as missing
data. Trends and link health run on to the current time (their last bucket is the running
hour, also answered from roll-ups, which the store keeps current as data arrives).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

import pandas as pd

from greenwatch.dashboard._spec import Dashboards, Page

HOUR = pd.Timedelta(hours=1)


def period_span(text: str) -> pd.Timedelta:
    """``6h`` / ``7d`` as a timedelta."""
    return pd.Timedelta(hours=int(text[:-1])) * (24 if text.endswith("d") else 1)


def trend_step(span: pd.Timedelta) -> pd.Timedelta:
    """Step of trend charts: hourly (read from roll-ups) unless the period is short."""
    if span <= pd.Timedelta(hours=12):
        return pd.Timedelta(minutes=15)
    if span > pd.Timedelta(days=62):
        return pd.Timedelta(days=1)
    return HOUR


@dataclass(frozen=True)
class View:
    """One view of the dashboard; ``start``/``end`` are the half-open period, UTC."""

    page: Page
    site: str | None
    period: str
    start: pd.Timestamp
    end: pd.Timestamp
    live: bool
    now: pd.Timestamp
    params: tuple[tuple[str, str], ...] = ()
    problems: tuple[str, ...] = field(default=(), compare=False)

    @property
    def span(self) -> pd.Timedelta:
        return self.end - self.start

    @property
    def step(self) -> pd.Timedelta:
        return trend_step(self.span)

    def trend_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The period in whole steps, up to the running one when live (roll-ups only)."""
        step = self.step
        end = (self.now if self.live else self.end).ceil(step)
        return self.start.floor(step), max(end, self.end.ceil(step))

    @property
    def running_step(self) -> pd.Timestamp | None:
        """The start of the step the clock is in, in a live view that has begun it."""
        start = self.now.floor(self.step)
        return start if self.live and self.now > start else None

    @property
    def clock_key(self) -> tuple[object, ...]:
        """What of the clock a panel's output depends on: the trend's steps and the running
        step (drawn apart). Within a step a drawn panel is kept as long as the data it was
        drawn from (the dashboard cache's TTL)."""
        return (*self.trend_range(), self.running_step)

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)

    @property
    def key(self) -> tuple[object, ...]:
        """What a panel's output depends on (beyond its own definition)."""
        return (self.page.id, self.site, self.start, self.end, self.params)


def parse_search(search: str | None) -> dict[str, str]:
    return dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=False))


def with_params(search: str | None, **changes: str | None) -> str:
    """``search`` with parameters set (or removed when None), as ``?a=b`` or ``""``."""
    params = parse_search(search)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return f"?{urlencode(params)}" if params else ""


def _utc(text: str) -> pd.Timestamp:
    ts = pd.Timestamp(text)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_view(
    pathname: str | None,
    search: str | None,
    dashboards: Dashboards,
    now: pd.Timestamp,
    quantum: pd.Timedelta,
) -> View:
    """The view a URL names; ``now`` is floored to ``quantum`` so caches see one key per step."""
    now = now.floor(quantum)
    page, site = dashboards.page_for(pathname or "/")
    settings = dashboards.settings
    params = parse_search(search)
    problems: list[str] = []
    period = params.pop("period", settings.default_period)
    if period not in settings.periods:
        problems.append(f"unknown period {period!r}; showing {settings.default_period}")
        period = settings.default_period
    live = True
    end = now.floor(HOUR)
    raw_end = params.pop("end", None)
    if raw_end:
        try:
            end, live = _utc(raw_end), False
        except ValueError:
            problems.append(f"bad end {raw_end!r}; showing the latest data")
    start = end - period_span(period)
    raw_start = params.pop("start", None)
    if raw_start and not live:
        try:
            candidate = _utc(raw_start)
            if candidate < end:
                start, period = candidate, "custom"
        except ValueError:
            problems.append(f"bad start {raw_start!r}")
    return View(
        page=page,
        site=site,
        period=period,
        start=start,
        end=end,
        live=live,
        now=now,
        params=tuple(sorted(params.items())),
        problems=tuple(problems),
    )
