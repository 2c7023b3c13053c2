"""Efficiency reports: executive summary, hub and site tables, rankings, changes, charts,
computing power, data quality and methodology for a scope and calendar period, as HTML, PDF (A4)
and CSV; archived on disk with retention, mailed over SMTP, and made on a schedule.

Figures are those of the KPI API (:func:`greenwatch.query.kpi_answer`) for the same period;
computing power those of :func:`greenwatch.query.compute_figures`.
Periods are calendar periods in Asia/Shanghai local time (see :func:`parse_period`).
"""

from typing import TYPE_CHECKING

from greenwatch._lazy import lazy_face
from greenwatch.reports._names import PERIOD_KINDS, TIMEZONE

if TYPE_CHECKING:
    from greenwatch.reports._archive import (
        MEDIA_TYPES,
        ArchivedReport,
        apply_retention,
        find_report,
        list_reports,
    )
    from greenwatch.reports._build import Report, build_report, parse_scope
    from greenwatch.reports._config import (
        GradeTable,
        ReportConfig,
        ReportError,
        ReportSettings,
        Retention,
        ScheduleSpec,
        SmtpSettings,
        load_report_settings,
        parse_formats,
    )
    from greenwatch.reports._jobs import make_report, report_scheduler
    from greenwatch.reports._mail import DeliveryError
    from greenwatch.reports._pdf import render_pdf
    from greenwatch.reports._pdf_worker import PdfWorker
    from greenwatch.reports._period import (
        Period,
        PeriodError,
        parse_period,
    )
    from greenwatch.reports._render import render_csv, render_html
    from greenwatch.reports._schedule import ReportScheduler


__all__ = [
    "MEDIA_TYPES",
    "PERIOD_KINDS",
    "TIMEZONE",
    "ArchivedReport",
    "DeliveryError",
    "GradeTable",
    "PdfWorker",
    "Period",
    "PeriodError",
    "Report",
    "ReportConfig",
    "ReportError",
    "ReportScheduler",
    "ReportSettings",
    "Retention",
    "ScheduleSpec",
    "SmtpSettings",
    "apply_retention",
    "build_report",
    "find_report",
    "list_reports",
    "load_report_settings",
    "make_report",
    "parse_formats",
    "parse_period",
    "parse_scope",
    "render_csv",
    "render_html",
    "render_pdf",
    "report_scheduler",
]

__getattr__ = lazy_face(
    __name__,
    "_pdf",  # first: render_pdf and PdfWorker without pandas, for greenwatch report
    "_pdf_worker",
    "_archive",
    "_build",
    "_config",
    "_jobs",
    "_mail",
    "_period",
    "_render",
    "_schedule",
)
