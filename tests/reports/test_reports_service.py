"""``greenwatch serve`` with scheduled reports: a run missed while down is made once at start
(its PDF by the service's PDF worker) and served by ``GET /api/v1/reports``."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pandas as pd

from greenwatch.reports import ReportSettings, ScheduleSpec, list_reports
from greenwatch.service import Service
from greenwatch.service._tokens import TokenStore
from greenwatch.store import DuckDBStore
from tests.conftest import free_port
from tests.reports._golden import golden_inventory

SETTINGS = ReportSettings(
    schedules=(ScheduleSpec(name="daily", cron="0 2 * * *", period="day", formats=("html", "pdf")),)
)


def _serve(data_dir: Path, now: str) -> Service:
    service = Service(
        DuckDBStore(data_dir / "greenwatch.duckdb"),
        golden_inventory(),
        port=free_port(),
        clock=lambda: pd.Timestamp(now),
        data_dir=data_dir,
        reports=SETTINGS,
    )
    service.start()
    deadline = time.monotonic() + 30  # the catch-up job runs once, at start, then is gone
    while service.scheduler.get_job("report-catch-up") and time.monotonic() < deadline:
        time.sleep(0.02)
    return service


def _wait_for_reports(archive: Path, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(list_reports(archive)) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def test_service_catches_up_a_missed_report_once(golden_data_dir: Path) -> None:
    token = TokenStore.for_data_dir(golden_data_dir).create(["read"], "reader")
    archive = golden_data_dir / "reports"
    _serve(golden_data_dir, "2026-10-06T01:00+08:00").stop()  # next run: 02:00 today
    assert list_reports(archive) == []
    again = _serve(golden_data_dir, "2026-10-06T09:30+08:00")  # was down at 02:00
    try:
        _wait_for_reports(archive, 1)
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(base_url=again.url, headers=headers, timeout=10) as client:
            listing = client.get("/api/v1/reports").json()["data"]
            assert [r["name"] for r in listing] == ["greenwatch-national-2026-10-05"]
            pdf = client.get(listing[0]["url"])
            assert pdf.headers["content-type"] == "application/pdf"
            assert pdf.content.startswith(b"%PDF")
            assert client.get("/api/v1/reports", headers={"Authorization": ""}).status_code == 401
        worker = again.pdf._child  # the PDF came from the service's worker process
        assert worker is not None
        assert worker.poll() is None
    finally:
        again.stop()
    assert worker.returncode is not None  # ended with the service
    _serve(golden_data_dir, "2026-10-06T10:00+08:00").stop()  # restart: nothing more to do
    assert [r.name for r in list_reports(archive)] == ["greenwatch-national-2026-10-05"]
    assert list_reports(archive)[0].generated_at == "2026-10-06T01:30:00+00:00"
