"""The report archive: listing, retention, and the HTTP API over it."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from greenwatch.ingest import Ingest
from greenwatch.inventory import Inventory
from greenwatch.reports import (
    Retention,
    apply_retention,
    list_reports,
    make_report,
    parse_period,
    parse_scope,
)
from greenwatch.service import ApiContext, _api_reports
from greenwatch.service._http import create_flask
from greenwatch.store import DuckDBStore

NOW = pd.Timestamp("2026-10-06T02:00+08:00")


def _make(
    golden: tuple[DuckDBStore, Inventory], archive: Path, period: str, scope: str = "national"
) -> None:
    store, inventory = golden
    make_report(
        store,
        inventory,
        parse_period(period),
        parse_scope(scope, inventory),
        formats=("html", "csv"),
        archive_dir=archive,
        generated_at=NOW,
    )


def test_list_reports_newest_period_first(
    golden: tuple[DuckDBStore, Inventory], tmp_path: Path
) -> None:
    archive = tmp_path / "reports"
    assert list_reports(archive) == []
    for period in ("2026-10-04", "2026-10-05", "2026-W40"):
        _make(golden, archive, period)
    _make(golden, archive, "2026-10-05", "site:east-a")
    (archive / "stray-folder").mkdir()
    reports = list_reports(archive)
    assert [r.name for r in reports] == [
        "greenwatch-national-2026-10-05",
        "greenwatch-site-east-a-2026-10-05",
        "greenwatch-national-2026-10-04",
        "greenwatch-national-2026-W40",
    ]
    first = reports[0]
    assert first.period == "2026-10-05"
    assert first.start == "2026-10-05T00:00:00+08:00"
    assert first.timezone == "Asia/Shanghai"
    assert [f.format for f in first.files] == ["html"] + ["csv"] * 12
    assert first.main_file() is not None
    assert first.main_file().name == "greenwatch-national-2026-10-05.html"  # type: ignore[union-attr]
    manifest = json.loads((first.path / "manifest.json").read_text())
    assert manifest["generated_at"] == "2026-10-05T18:00:00+00:00"


def test_retention_keeps_newest_n_per_scope_and_kind(
    golden: tuple[DuckDBStore, Inventory], tmp_path: Path
) -> None:
    archive = tmp_path / "reports"
    for day in ("2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04"):
        _make(golden, archive, day)
    _make(golden, archive, "2026-10", "site:east-a")
    removed = apply_retention(archive, Retention(keep=2), NOW)
    assert removed == ["greenwatch-national-2026-10-02", "greenwatch-national-2026-10-01"]
    assert [r.name for r in list_reports(archive)] == [
        "greenwatch-national-2026-10-04",
        "greenwatch-national-2026-10-03",
        "greenwatch-site-east-a-2026-10",
    ]
    removed = apply_retention(archive, Retention(days=2), NOW)
    assert removed == ["greenwatch-national-2026-10-03"]  # ended 2026-10-04T00:00+08:00
    assert apply_retention(archive, Retention(), NOW) == []


def test_rewriting_a_report_replaces_it(
    golden: tuple[DuckDBStore, Inventory], tmp_path: Path
) -> None:
    archive = tmp_path / "reports"
    _make(golden, archive, "2026-10-05")
    _make(golden, archive, "2026-10-05")
    assert [p.name for p in archive.iterdir()] == ["greenwatch-national-2026-10-05"]


def test_http_api_lists_and_serves_archived_reports(
    golden: tuple[DuckDBStore, Inventory], tmp_path: Path
) -> None:
    store, inventory = golden
    _make(golden, tmp_path / "reports", "2026-10-05")
    app = create_flask(lambda: True)
    ctx = ApiContext(store, inventory, Ingest(store.write), lambda: NOW, tmp_path)
    _api_reports.register(app, ctx)
    client = app.test_client()
    listing = client.get("/api/v1/reports").get_json()["data"]
    assert [r["name"] for r in listing] == ["greenwatch-national-2026-10-05"]
    assert "path" not in listing[0]
    files = {f["name"]: f for f in listing[0]["files"]}
    csv = files["greenwatch-national-2026-10-05--summary.csv"]
    with client.get(csv["url"]) as got:
        assert got.status_code == 200
        assert got.mimetype == "text/csv"
        assert len(got.data) == csv["bytes"]
        assert got.data.startswith(b"figure,value,unit")
    with client.get(listing[0]["url"]) as main:
        assert main.mimetype == "text/html"
        assert b"Executive summary" in main.data
    for bad in (
        "/api/v1/reports/nope",
        "/api/v1/reports/greenwatch-national-2026-10-05/manifest.json",
        "/api/v1/reports/greenwatch-national-2026-10-05/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/reports/..%2Freports",
    ):
        with client.get(bad) as response:
            assert response.status_code == 404, bad
    bare = create_flask(lambda: True)
    _api_reports.register(bare, ApiContext(store, inventory, Ingest(store.write), lambda: NOW))
    assert bare.test_client().get("/api/v1/reports").get_json() == {"data": []}
