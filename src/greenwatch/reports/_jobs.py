"""Making a report end to end: compute, render, archive, mail, apply retention."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from greenwatch.inventory import Inventory
from greenwatch.model import Clock
from greenwatch.query import ComputeSource, Scope
from greenwatch.reports._archive import ArchivedReport, apply_retention, archive_report
from greenwatch.reports._build import build_report, parse_scope
from greenwatch.reports._config import (
    ReportConfig,
    ReportError,
    ReportSettings,
    Retention,
    ScheduleSpec,
    SmtpSettings,
)
from greenwatch.reports._mail import send_report
from greenwatch.reports._names import TIMEZONE
from greenwatch.reports._pdf import render_pdf
from greenwatch.reports._period import Period
from greenwatch.reports._render import render_csv, render_html
from greenwatch.store import Store

if TYPE_CHECKING:
    from greenwatch.reports._schedule import ReportScheduler

log = logging.getLogger("greenwatch.reports")
STATE_FILE = ".schedule-state.json"


def make_report(
    store: Store,
    inventory: Inventory,
    period: Period,
    scope: Scope,
    *,
    formats: Sequence[str],
    archive_dir: Path,
    generated_at: pd.Timestamp,
    config: ReportConfig | None = None,
    email: Sequence[str] = (),
    smtp: SmtpSettings | None = None,
    retention: Retention | None = None,
    compute: ComputeSource | None = None,
    pdf_renderer: Callable[[str], bytes] | None = None,
) -> ArchivedReport:
    """Build the report, write the asked formats to ``archive_dir/<name>/``, mail the PDF with
    the summary inline to ``email`` (if any), then apply ``retention`` to the archive.
    ``compute`` lists the compute pools and verification records (default: the inventory's).

    ``pdf_renderer`` renders the PDF instead of :func:`render_pdf` in this process: a
    :class:`~greenwatch.reports.PdfWorker`'s, as ``greenwatch serve`` and ``greenwatch report``
    pass (the latter starts it before it loads pandas and the store)."""
    if email and smtp is None:
        raise ReportError("e-mail delivery needs SMTP settings (--smtp HOST:PORT)")
    report = build_report(store, inventory, period, scope, config, compute=compute)
    files: dict[str, bytes] = {}
    html = render_html(report, generated_at)
    pdf = (pdf_renderer or render_pdf)(html) if "pdf" in formats or email else b""
    if "html" in formats:
        files[f"{report.name}.html"] = html.encode("utf-8")
    if "pdf" in formats:
        files[f"{report.name}.pdf"] = pdf
    if "csv" in formats:
        files.update(render_csv(report))
    archived = archive_report(report, files, archive_dir, generated_at)
    if email and smtp is not None:
        generated = generated_at.tz_convert(TIMEZONE).strftime("%Y-%m-%d %H:%M %z")
        send_report(smtp, email, report, pdf, generated)
    if retention is not None:
        removed = apply_retention(archive_dir, retention, generated_at)
        if removed:
            log.info("report retention removed %s", ", ".join(removed))
    return archived


def report_scheduler(
    store: Store,
    inventory: Inventory,
    settings: ReportSettings,
    archive_dir: Path,
    clock: Clock,
    compute: ComputeSource | None = None,
    pdf_renderer: Callable[[str], bytes] | None = None,
) -> ReportScheduler:
    """The scheduler of ``settings.schedules``, writing into ``archive_dir`` (its run state is
    kept there too, in ``.schedule-state.json``); ``compute`` and ``pdf_renderer`` as for
    :func:`make_report`."""
    # Imported here: APScheduler (and asyncio) is ~20 ms that make_report's callers, e.g. a
    # ``greenwatch report`` process, need not pay.
    from greenwatch.reports._schedule import ReportScheduler  # noqa: PLC0415

    config = settings.config()
    for spec in settings.schedules:
        parse_scope(spec.scope, inventory)  # fail at start, not at 2 a.m.

    def run(spec: ScheduleSpec, period: Period) -> None:
        archived = make_report(
            store,
            inventory,
            period,
            parse_scope(spec.scope, inventory),
            formats=spec.formats,
            archive_dir=archive_dir,
            generated_at=clock(),
            config=config,
            email=spec.email,
            smtp=settings.smtp,
            retention=settings.retention,
            compute=compute,
            pdf_renderer=pdf_renderer,
        )
        log.info("scheduled report %s written to %s", archived.name, archived.path)

    return ReportScheduler(settings.schedules, run, archive_dir / STATE_FILE, clock)
