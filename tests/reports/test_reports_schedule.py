"""Scheduled reports with a fake clock: once per fire time, a missed run caught up once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from greenwatch.model import ConfigError
from greenwatch.reports import Period, ReportScheduler, ScheduleSpec, load_report_settings

DAILY = ScheduleSpec(name="daily", cron="0 2 * * *", period="day")


class FakeClock:
    def __init__(self, start: str) -> None:
        self.now = pd.Timestamp(start)

    def __call__(self) -> pd.Timestamp:
        return self.now

    def advance(self, **step: float) -> None:
        self.now = self.now + pd.Timedelta(**step)


class Recorder:
    def __init__(self) -> None:
        self.runs: list[tuple[str, str]] = []

    def __call__(self, spec: ScheduleSpec, period: Period) -> None:
        self.runs.append((spec.name, period.label))


def _scheduler(
    tmp_path: Path, clock: FakeClock, runs: Recorder, *specs: ScheduleSpec
) -> ReportScheduler:
    return ReportScheduler(specs or (DAILY,), runs, tmp_path / "state.json", clock)


def _tick_until(scheduler: ReportScheduler, clock: FakeClock, end: str, minutes: int = 10) -> None:
    while clock.now < pd.Timestamp(end):
        scheduler.run_due()
        clock.advance(minutes=minutes)


def test_daily_job_fires_once_per_day(tmp_path: Path) -> None:
    clock, runs = FakeClock("2026-10-05T00:30+08:00"), Recorder()
    scheduler = _scheduler(tmp_path, clock, runs)
    _tick_until(scheduler, clock, "2026-10-08T00:30+08:00")
    # Fires at 02:00 Asia/Shanghai on the 5th, 6th and 7th, each for the day before.
    assert runs.runs == [("daily", "2026-10-04"), ("daily", "2026-10-05"), ("daily", "2026-10-06")]
    assert scheduler.next_run("daily") == pd.Timestamp("2026-10-08T02:00+08:00")


def test_missed_run_is_caught_up_once_after_a_restart(tmp_path: Path) -> None:
    clock, runs = FakeClock("2026-10-05T01:00+08:00"), Recorder()
    _tick_until(_scheduler(tmp_path, clock, runs), clock, "2026-10-05T03:00+08:00")
    assert runs.runs == [("daily", "2026-10-04")]
    # Down from 03:00 on the 5th until 09:00 on the 9th: 02:00 on the 6th, 7th, 8th, 9th missed.
    clock.now = pd.Timestamp("2026-10-09T09:00+08:00")
    restarted = _scheduler(tmp_path, clock, runs)
    assert restarted.run_due() == [("daily", Period.of("day", pd.Timestamp("2026-10-08").date()))]
    assert restarted.run_due() == []
    assert _scheduler(tmp_path, clock, runs).run_due() == []  # and not again after a restart
    assert runs.runs == [("daily", "2026-10-04"), ("daily", "2026-10-08")]
    _tick_until(restarted, clock, "2026-10-10T03:00+08:00")
    assert runs.runs[-1] == ("daily", "2026-10-09")
    assert len(runs.runs) == 3


def test_first_start_and_changed_schedule_do_not_backfill(tmp_path: Path) -> None:
    clock, runs = FakeClock("2026-10-05T09:00+08:00"), Recorder()
    scheduler = _scheduler(tmp_path, clock, runs)
    assert scheduler.run_due() == []  # 02:00 today passed before the schedule existed
    clock.now = pd.Timestamp("2026-10-07T09:00+08:00")
    moved = ScheduleSpec(name="daily", cron="0 3 * * *", period="day")
    changed = _scheduler(tmp_path, clock, runs, moved)
    assert changed.run_due() == []  # a new definition starts afresh
    assert changed.next_run("daily") == pd.Timestamp("2026-10-08T03:00+08:00")
    assert runs.runs == []


def test_monthly_schedule_reports_the_previous_month(tmp_path: Path) -> None:
    clock, runs = FakeClock("2026-10-20T00:00+08:00"), Recorder()
    monthly = ScheduleSpec(name="monthly", cron="0 6 1 * *", period="month", scope="hub:guizhou")
    scheduler = _scheduler(tmp_path, clock, runs, monthly)
    _tick_until(scheduler, clock, "2026-12-02T00:00+08:00", minutes=60)
    assert runs.runs == [("monthly", "2026-10"), ("monthly", "2026-11")]
    state = json.loads((tmp_path / "state.json").read_text())
    assert pd.Timestamp(state["schedules"]["monthly"]["next_run"]) == pd.Timestamp(
        "2027-01-01T06:00+08:00"
    )


def test_a_failing_report_does_not_stop_the_schedule(tmp_path: Path) -> None:
    clock = FakeClock("2026-10-05T01:50+08:00")
    calls: list[str] = []

    def boom(spec: ScheduleSpec, period: Period) -> None:
        calls.append(period.label)
        raise RuntimeError("disk full")

    scheduler = ReportScheduler([DAILY], boom, tmp_path / "state.json", clock)
    _tick_until(scheduler, clock, "2026-10-06T03:00+08:00")
    assert calls == ["2026-10-04", "2026-10-05"]


def test_install_on_apscheduler_catches_up_at_start(tmp_path: Path) -> None:
    clock, runs = FakeClock("2026-10-05T01:00+08:00"), Recorder()
    ReportScheduler([DAILY], runs, tmp_path / "state.json", clock).run_due()
    clock.now = pd.Timestamp("2026-10-07T12:00+08:00")  # down over two fire times
    scheduler = BackgroundScheduler(timezone="UTC")
    ReportScheduler([DAILY], runs, tmp_path / "state.json", clock).install(scheduler)
    job = scheduler.get_job("report-daily")
    assert str(job.trigger.timezone) == "Asia/Shanghai"
    assert (job.trigger.fields[5].name, str(job.trigger.fields[5])) == ("hour", "2")
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while not runs.runs and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
    finally:
        scheduler.shutdown(wait=True)
    assert runs.runs == [("daily", "2026-10-06")]


def test_settings_file_errors_name_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "reports.yaml"
    path.write_text(
        "schedules:\n"
        "  - name: monthly\n"
        "    cron: '0 6 1 * *'\n"
        "    period: month\n"
        "  - name: daily\n"
        "    cron: '0 2 * *'\n"
        "    period: fortnight\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_report_settings(path)
    text = err.value.render()
    assert "reports.yaml:6: schedules[1].cron" in text
    assert "reports.yaml:7: schedules[1].period" in text
    path.write_text(
        "schedules:\n  - {name: m, cron: '0 6 1 * *', period: month, email: [a@b.cn]}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"schedules\[0\].email: needs smtp"):
        load_report_settings(path)
