"""The report archive on disk: one folder per report with a manifest, listing and retention.

Layout: ``<archive>/<report name>/`` holds the rendered files and ``manifest.json`` (name,
title, scope, period, interval, generated time, files with size and SHA-256). A report is
written to a temporary folder and renamed into place, so readers never see half a report, and
writing a report again replaces it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from greenwatch.reports._build import Report
from greenwatch.reports._config import ReportError, Retention
from greenwatch.reports._names import TIMEZONE

MANIFEST = "manifest.json"
MEDIA_TYPES = {"html": "text/html", "pdf": "application/pdf", "csv": "text/csv"}


@dataclass(frozen=True)
class ArchivedFile:
    name: str
    format: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class ArchivedReport:
    """A report in the archive, as ``list_reports`` returns it (newest period first)."""

    name: str
    title: str
    scope: str
    period: str
    kind: str
    start: str
    end: str
    timezone: str
    generated_at: str
    files: tuple[ArchivedFile, ...]
    path: Path

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        out["files"] = [asdict(f) for f in self.files]
        return out

    def file(self, name: str) -> Path | None:
        """Path of one of the report's files, ``None`` if it has no such file."""
        return self.path / name if any(f.name == name for f in self.files) else None

    def main_file(self) -> ArchivedFile | None:
        """The PDF, else the HTML, else the first file."""
        for fmt in ("pdf", "html"):
            for f in self.files:
                if f.format == fmt:
                    return f
        return self.files[0] if self.files else None


def archive_report(
    report: Report, files: Mapping[str, bytes], archive_dir: Path, generated_at: pd.Timestamp
) -> ArchivedReport:
    """Write ``files`` (name → bytes) and a manifest to ``archive_dir/<report.name>/``."""
    archive_dir.mkdir(parents=True, exist_ok=True)
    final = archive_dir / report.name
    tmp = archive_dir / f".tmp-{report.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    entries = []
    for name, data in files.items():
        (tmp / name).write_bytes(data)
        fmt = name.rsplit(".", 1)[-1]
        entries.append(ArchivedFile(name, fmt, len(data), hashlib.sha256(data).hexdigest()))
    archived = ArchivedReport(
        name=report.name,
        title=report.title,
        scope=str(report.scope),
        period=report.period.label,
        kind=report.period.kind,
        start=report.period.start.isoformat(),
        end=report.period.end.isoformat(),
        timezone=TIMEZONE,
        generated_at=generated_at.tz_convert("UTC").isoformat(),
        files=tuple(entries),
        path=final,
    )
    manifest = {k: v for k, v in archived.to_dict().items() if k != "path"}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    old = archive_dir / f".old-{report.name}-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return archived


def _read(folder: Path) -> ArchivedReport | None:
    try:
        raw = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = tuple(ArchivedFile(**f) for f in raw.pop("files"))
        return ArchivedReport(**raw, files=files, path=folder)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def list_reports(archive_dir: str | Path | None) -> list[ArchivedReport]:
    """Reports in the archive, newest period first (then by name); ``[]`` if there is none.

    Folders without a readable manifest (a report being written, foreign files) are skipped.
    """
    if archive_dir is None or not Path(archive_dir).is_dir():
        return []
    found = [
        r
        for folder in Path(archive_dir).iterdir()
        if folder.is_dir() and not folder.name.startswith(".")
        for r in [_read(folder)]
        if r is not None
    ]
    found.sort(key=lambda r: r.name)
    found.sort(key=lambda r: pd.Timestamp(r.start), reverse=True)
    return found


def find_report(archive_dir: str | Path | None, name: str) -> ArchivedReport | None:
    """The archived report called ``name``, if any (names are matched, never joined as paths)."""
    return next((r for r in list_reports(archive_dir) if r.name == name), None)


def apply_retention(archive_dir: str | Path, retention: Retention, now: pd.Timestamp) -> list[str]:
    """Delete reports beyond the retention rules; returns the names deleted.

    ``keep``: the newest ``keep`` reports (by period) of each scope and period kind stay;
    ``days``: reports whose period ended more than ``days`` days before ``now`` go.
    """
    if retention.keep is None and retention.days is None:
        return []
    doomed: list[ArchivedReport] = []
    seen: dict[tuple[str, str], int] = {}
    for report in list_reports(archive_dir):
        key = (report.scope, report.kind)
        seen[key] = seen.get(key, 0) + 1
        too_many = retention.keep is not None and seen[key] > retention.keep
        too_old = retention.days is not None and pd.Timestamp(report.end) < now - pd.Timedelta(
            days=retention.days
        )
        if too_many or too_old:
            doomed.append(report)
    for report in doomed:
        if report.path.parent != Path(archive_dir) or report.path.is_symlink():
            raise ReportError(f"refusing to delete {report.path}: not a report folder")
        shutil.rmtree(report.path)
    return [r.name for r in doomed]
