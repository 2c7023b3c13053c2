"""Silences (one-off, with creator, comment and expiry) and recurring maintenance windows.

A silence mutes the alerts its matchers select while ``starts_at <= now < ends_at``. A
maintenance window is a schedule (daily, weekly on some weekdays, monthly on some days) with a
local start time and a duration, in the time zone of the alert's site (the inventory's
``Site.timezone``) unless the window names its own. A muted alert is not notified; when the
mute ends and it still fires, it is notified again (see ``_dispatch``).
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

from greenwatch.alerts._matchers import Matcher, Matchers, matches_all
from greenwatch.model import Duration, GreenwatchError, StrictModel

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SilenceError(GreenwatchError, ValueError):
    """A silence request is invalid (no matchers, no creator, ends before it starts…)."""


@dataclass(frozen=True)
class Silence:
    """A one-off mute: matchers, ``[starts_at, ends_at)``, who made it and why."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: pd.Timestamp
    ends_at: pd.Timestamp
    created_by: str
    comment: str
    created_at: pd.Timestamp
    updated_at: pd.Timestamp

    @classmethod
    def create(
        cls,
        matchers: object,
        *,
        created_by: str,
        comment: str,
        now: pd.Timestamp,
        starts_at: pd.Timestamp | None = None,
        ends_at: pd.Timestamp | None = None,
        duration: timedelta | None = None,
        silence_id: str | None = None,
    ) -> Silence:
        """Validate and build a silence (``ends_at`` or ``duration`` is required)."""
        try:
            parsed = tuple(Matcher.coerce(m) for m in (matchers or []))  # type: ignore[attr-defined]
        except (TypeError, ValueError) as exc:
            raise SilenceError(f"bad matchers: {exc}") from None
        if not parsed:
            raise SilenceError("a silence needs at least one matcher")
        if all(m.op in ("=~", "!~") and m.value in (".*", ".+") for m in parsed):
            raise SilenceError("a silence must select something narrower than everything")
        if not created_by.strip():
            raise SilenceError("a silence needs its creator (createdBy)")
        if not comment.strip():
            raise SilenceError("a silence needs a comment saying why")
        start = starts_at if starts_at is not None else now
        if ends_at is None:
            if duration is None:
                raise SilenceError("a silence needs endsAt or a duration")
            ends_at = start + pd.Timedelta(duration)
        if ends_at <= start:
            raise SilenceError(f"endsAt {ends_at} is not after startsAt {start}")
        return cls(
            silence_id or str(uuid.uuid4()),
            parsed,
            start,
            ends_at,
            created_by.strip(),
            comment.strip(),
            now,
            now,
        )

    def status(self, now: pd.Timestamp) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def active(self, now: pd.Timestamp) -> bool:
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: pd.Timestamp) -> bool:
        return self.active(now) and matches_all(self.matchers, labels)

    def expire(self, now: pd.Timestamp) -> Silence:
        """This silence ended now (a pending one ends before it starts: never active)."""
        end = max(min(self.ends_at, now), self.starts_at)
        return replace(self, ends_at=end, updated_at=now)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [m.promql() for m in self.matchers],
            "startsAt": self.starts_at.isoformat(),
            "endsAt": self.ends_at.isoformat(),
            "createdBy": self.created_by,
            "comment": self.comment,
            "createdAt": self.created_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
        }

    def to_api(self, now: pd.Timestamp) -> dict[str, Any]:
        return {**self.to_json(), "status": {"state": self.status(now)}}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Silence:
        return cls(
            str(raw["id"]),
            tuple(Matcher.parse(m) for m in raw["matchers"]),
            pd.Timestamp(raw["startsAt"]).tz_convert("UTC"),
            pd.Timestamp(raw["endsAt"]).tz_convert("UTC"),
            str(raw["createdBy"]),
            str(raw["comment"]),
            pd.Timestamp(raw["createdAt"]).tz_convert("UTC"),
            pd.Timestamp(raw["updatedAt"]).tz_convert("UTC"),
        )


class MaintenanceWindow(StrictModel):
    """A recurring mute: ``schedule`` daily, weekly (``weekdays``) or monthly (``days``, -1 is
    the last day), from local ``start`` (HH:MM) for ``duration``."""

    name: str = Field(min_length=1, max_length=128)
    matchers: Matchers = Field(min_length=1)
    schedule: Literal["daily", "weekly", "monthly"]
    weekdays: tuple[Weekday, ...] = ()
    days: tuple[int, ...] = ()
    start: dt.time
    duration: Duration
    timezone: str | None = None
    comment: str = ""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, zone: str | None) -> str | None:
        if zone is not None:
            try:
                zoneinfo.ZoneInfo(zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {zone!r}") from exc
        return zone

    @model_validator(mode="after")
    def _schedule(self) -> MaintenanceWindow:
        if not timedelta(0) < self.duration <= timedelta(days=7):
            raise ValueError("duration must be positive and at most 7d")
        if self.schedule == "weekly" and not self.weekdays:
            raise ValueError("a weekly window needs weekdays (mon … sun)")
        if self.schedule == "monthly" and not self.days:
            raise ValueError("a monthly window needs days (1 … 31, or -1 for the last day)")
        if any(d == 0 or not -1 <= d <= 31 for d in self.days):
            raise ValueError("days are 1 … 31, or -1 for the last day of the month")
        return self

    def _on(self, day: dt.date) -> bool:
        if self.schedule == "daily":
            return True
        if self.schedule == "weekly":
            return WEEKDAYS[day.weekday()] in self.weekdays
        last = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        return day.day in self.days or (-1 in self.days and day == last)

    def active(self, now: pd.Timestamp, zone: str | None) -> bool:
        """Whether an occurrence covers ``now``, in this window's zone, else ``zone``, else UTC."""
        tz = zoneinfo.ZoneInfo(self.timezone or zone or "UTC")
        local = now.to_pydatetime().astimezone(tz)
        span = self.duration
        for back in range(span.days + 2):
            day = local.date() - timedelta(days=back)
            if not self._on(day):
                continue
            begin = dt.datetime.combine(day, self.start, tzinfo=tz)
            if begin <= local < begin + span:
                return True
        return False

    def mutes(self, labels: Mapping[str, str], now: pd.Timestamp, zone: str | None) -> bool:
        return matches_all(self.matchers, labels) and self.active(now, zone)
