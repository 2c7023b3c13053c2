"""Time as every stage takes it: the clock, durations, and times and ranges given as text.

Time is UTC and tz-aware; ranges are half-open ``[start, end)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

import pandas as pd
from pydantic import BeforeValidator, PlainSerializer

from greenwatch.model._errors import GreenwatchError

Clock = Callable[[], pd.Timestamp]
"""The wall clock as a parameter: components take one so tests can pass a fake."""


def utc_now() -> pd.Timestamp:
    """The wall clock, tz-aware UTC."""
    return pd.Timestamp.now(tz="UTC")


_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)(ms|w|d|h|m|s)")


def parse_duration(raw: object) -> timedelta:
    """``5m`` -> 5 minutes; a number is seconds; ``0`` is zero. Raises ValueError otherwise."""
    if isinstance(raw, timedelta):
        return raw
    if isinstance(raw, bool):
        raise ValueError(f"a duration like 5m or 1h, not {raw!r}")
    if isinstance(raw, int | float):
        if raw < 0:
            raise ValueError(f"a duration must not be negative, got {raw}")
        return timedelta(seconds=raw)
    text = str(raw).strip()
    if text == "0":
        return timedelta(0)
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"a duration like 30s, 5m, 1h30m or 2d, not {raw!r}")
    seconds = sum(int(n) * (0.001 if u == "ms" else _UNITS[u]) for n, u in parts)
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest Prometheus spelling of a whole-second duration (``0s`` for zero)."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = ""
    for unit in ("d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNITS[unit])
        if count:
            out += f"{count}{unit}"
    return out


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
"""A duration as Prometheus writes it (``90s``, ``5m``, ``1h30m``, ``2d``), validated on load."""

_RELATIVE = re.compile(r"now|(?:now)?-([0-9][0-9a-z]*)")


def parse_time(text: str, now: pd.Timestamp) -> pd.Timestamp:
    """An ISO time (UTC when it has no offset), or a time relative to ``now`` floored to the
    minute: ``now``, ``-1d``, ``now-7d``, ``now-1h30m`` (Prometheus durations)."""
    text = text.strip()
    base = now.floor("min")
    relative = _RELATIVE.fullmatch(text)
    if relative is not None:
        ago = relative.group(1)
        try:
            return base - pd.Timedelta(parse_duration(ago)) if ago else base
        except ValueError as exc:
            raise GreenwatchError(f"bad time {text!r}: {exc}") from None
    try:
        when = pd.Timestamp(text)
    except ValueError as exc:
        raise GreenwatchError(f"bad time {text!r}: {exc}; or relative: -1d, now-7d") from None
    return when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")


def parse_time_range(
    start: str | None, end: str | None, now: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``[start, end)`` from ISO or relative times (:func:`parse_time`); default: the last 24
    hours."""
    stop = parse_time(end, now) if end else now.floor("min")
    begin = parse_time(start, now) if start else stop - pd.Timedelta(days=1)
    if stop <= begin:
        raise GreenwatchError(f"empty period: end {stop} is not after start {begin}")
    return begin, stop
