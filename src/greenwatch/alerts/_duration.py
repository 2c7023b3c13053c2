"""Durations as Prometheus writes them (``90s``, ``5m``, ``1h30m``, ``2d``), validated on load."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

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
