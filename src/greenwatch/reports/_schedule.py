"""Scheduled reports: APScheduler cron triggers and a persistent record of the next run.

Each schedule's next fire time is kept in a small JSON file (written atomically). When the
service starts after being down, a schedule whose recorded next run has passed fires once,
for the latest fire time it missed (missed runs are coalesced, never replayed one by one); then
its next run is the trigger's next fire time after now. A schedule seen for the first time, or
whose definition changed, starts from its next fire time (no back-fill of history).
``run_due`` takes the time from the injected clock, so tests drive it with a fake one;
:meth:`ReportScheduler.install` hangs it on an APScheduler scheduler with one cron job per
schedule plus one catch-up run at start.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from apscheduler.triggers.cron import CronTrigger

from greenwatch.model import Clock
from greenwatch.reports._config import ScheduleSpec
from greenwatch.reports._names import TIMEZONE
from greenwatch.reports._period import Period

log = logging.getLogger("greenwatch.reports")
Runner = Callable[[ScheduleSpec, Period], object]
STATE_VERSION = 1


def cron_trigger(spec: ScheduleSpec) -> CronTrigger:
    """The schedule's crontab line as an APScheduler trigger in Asia/Shanghai time."""
    return CronTrigger.from_crontab(spec.cron, timezone=ZoneInfo(TIMEZONE))


def _fingerprint(spec: ScheduleSpec) -> str:
    return json.dumps([spec.cron, spec.period, spec.scope], separators=(",", ":"))


def _ts(value: datetime | None) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value).tz_convert("UTC")


class ScheduleState:
    """Next run time per schedule name, persisted as JSON (atomic replace on every change)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, dict[str, str]] = {}
        if path.exists():
            raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            if raw.get("version") == STATE_VERSION:
                self._data = dict(raw.get("schedules", {}))

    def get(self, name: str, fingerprint: str) -> pd.Timestamp | None:
        entry = self._data.get(name)
        if entry is None or entry.get("fingerprint") != fingerprint:
            return None
        return pd.Timestamp(entry["next_run"])

    def set(self, name: str, fingerprint: str, next_run: pd.Timestamp) -> None:
        self._data[name] = {"fingerprint": fingerprint, "next_run": next_run.isoformat()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        body = {"version": STATE_VERSION, "schedules": self._data}
        tmp.write_text(json.dumps(body, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)


class ReportScheduler:
    """Runs each schedule's report once per fire time, catching up a missed run once."""

    def __init__(
        self,
        schedules: Sequence[ScheduleSpec],
        run: Runner,
        state_path: Path,
        clock: Clock,
    ) -> None:
        self.schedules = tuple(schedules)
        self._run = run
        self._clock = clock
        self._state = ScheduleState(state_path)
        self._triggers = {s.name: cron_trigger(s) for s in self.schedules}
        self._lock = threading.Lock()

    def next_run(self, name: str) -> pd.Timestamp | None:
        spec = next(s for s in self.schedules if s.name == name)
        return self._state.get(name, _fingerprint(spec))

    def _due(self, spec: ScheduleSpec, now: pd.Timestamp) -> pd.Timestamp | None:
        """The latest fire time at or before ``now`` not yet run, else None; advances the state."""
        trigger = self._triggers[spec.name]
        fingerprint = _fingerprint(spec)
        now_dt = now.to_pydatetime()
        pending = self._state.get(spec.name, fingerprint)
        if pending is None:
            first = _ts(trigger.get_next_fire_time(None, now_dt))
            if first is None:
                return None
            self._state.set(spec.name, fingerprint, first)
            pending = first
        if pending > now:
            return None
        last = pending.to_pydatetime()
        while (later := trigger.get_next_fire_time(last, now_dt)) is not None and later <= now_dt:
            last = later
        return _ts(last)

    def run_due(self) -> list[tuple[str, Period]]:
        """Run every schedule that is due now (once each); returns (name, period) run."""
        done = []
        with self._lock:
            now = self._clock()
            for spec in self.schedules:
                fired = self._due(spec, now)
                if fired is None:
                    continue
                period = Period.last_complete(spec.period, fired)
                try:
                    self._run(spec, period)
                except Exception:  # a failing report never stops the scheduler
                    log.exception("scheduled report %s for %s failed", spec.name, period.label)
                following = _ts(
                    self._triggers[spec.name].get_next_fire_time(
                        fired.to_pydatetime(), now.to_pydatetime()
                    )
                )
                if following is not None:
                    self._state.set(spec.name, _fingerprint(spec), following)
                done.append((spec.name, period))
        return done

    def install(self, scheduler: Any) -> None:
        """Add one cron job per schedule and one catch-up run at start to an APScheduler
        scheduler (a ``BaseScheduler``)."""
        for spec in self.schedules:
            scheduler.add_job(
                self.run_due,
                self._triggers[spec.name],
                id=f"report-{spec.name}",
                name=f"report {spec.name}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=None,
                replace_existing=True,
            )
        scheduler.add_job(self.run_due, id="report-catch-up", name="report catch-up")
