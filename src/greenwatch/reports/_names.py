"""The reports' light names: what the command line offers before anything is loaded."""

from __future__ import annotations

from typing import Literal

PeriodKind = Literal["day", "week", "month", "year"]


PERIOD_KINDS: tuple[PeriodKind, ...] = ("day", "week", "month", "year")

TIMEZONE = "Asia/Shanghai"
