"""Efficiency reports: executive summary, hub and site tables, rankings, changes, charts,
computing power, data quality and methodology for a scope and calendar period, as HTML, PDF (A4)
and CSV; archived on disk with retention, mailed over SMTP, and made on a schedule.

Figures are those of the KPI API (:func:`greenwatch.query.kpi_answer`) for the same period;
computing power those of :func:`greenwatch.query.compute_figures`.
Periods are calendar periods in Asia/Shanghai local time (see :func:`parse_period`).
"""

from greenwatch.reports._archive import (
    MEDIA_TYPES,
    ArchivedFile,
    ArchivedReport,
    apply_retention,
    archive_report,
    find_report,
    list_reports,
)
from greenwatch.reports._build import Report, build_report, parse_scope, report_name
from greenwatch.reports._config import (
    FORMATS,
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
from greenwatch.reports._mail import DeliveryError, report_message, send_report
from greenwatch.reports._period import (
    PERIOD_KINDS,
    TIMEZONE,
    Period,
    PeriodError,
    parse_period,
)
from greenwatch.reports._render import (
    render_csv,
    render_html,
    render_pdf,
    summary_text,
    table_csv,
)
from greenwatch.reports._schedule import ReportScheduler, ScheduleState, cron_trigger

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "PERIOD_KINDS",
    "TIMEZONE",
    "ArchivedFile",
    "ArchivedReport",
    "DeliveryError",
    "GradeTable",
    "Period",
    "PeriodError",
    "Report",
    "ReportConfig",
    "ReportError",
    "ReportScheduler",
    "ReportSettings",
    "Retention",
    "ScheduleSpec",
    "ScheduleState",
    "SmtpSettings",
    "apply_retention",
    "archive_report",
    "build_report",
    "cron_trigger",
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
    "report_message",
    "report_name",
    "report_scheduler",
    "send_report",
    "summary_text",
    "table_csv",
]
