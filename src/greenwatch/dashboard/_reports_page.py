"""The reports page: generated reports in the archive, to open or download.

The archive is read only through :func:`greenwatch.reports.list_reports` and
:func:`~greenwatch.reports.find_report`; a file is served by name from a report's manifest,
never by joining a user's path. Downloads sit behind the dashboard's login, not the API tokens,
so an operator in a browser can fetch them.
"""

from __future__ import annotations

from typing import Any

import flask
from dash import html

from greenwatch.dashboard._env import Env
from greenwatch.dashboard._view import View
from greenwatch.reports import MEDIA_TYPES, ArchivedReport, find_report, list_reports

DOWNLOAD = "/reports/download"


def install(server: flask.Flask, env: Env) -> None:
    """``GET /reports/download/<report>/<file>``: one file of an archived report."""

    @server.get(f"{DOWNLOAD}/<name>/<file>")
    def gw_report_file(name: str, file: str) -> flask.Response | tuple[str, int]:
        found = find_report(env.reports_dir, name)
        path = found.file(file) if found is not None else None
        if path is None:
            return f"no file {file!r} in report {name!r}", 404
        fmt = file.rsplit(".", 1)[-1]
        return flask.send_file(
            path,
            mimetype=MEDIA_TYPES.get(fmt, "application/octet-stream"),
            as_attachment=fmt != "html",
            download_name=file,
            max_age=0,
        )


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _row(report: ArchivedReport) -> html.Tr:
    links: list[Any] = []
    for f in report.files:
        href = f"{DOWNLOAD}/{report.name}/{f.name}"
        # CSV tables are named <report>--<table>.csv: show the table.
        label = f.name.rsplit("--", 1)[1] if "--" in f.name else f.format.upper()
        links += [
            html.A(
                f"{label} ({_size(f.bytes)})",
                href=href,
                target="_blank",
                className="report-file",
            ),
            " ",
        ]
    return html.Tr(
        [
            html.Td(report.title),
            html.Td(report.scope),
            html.Td(report.period),
            html.Td(report.kind),
            html.Td(report.generated_at[:16].replace("T", " ")),
            html.Td(links),
        ],
        className="report-row",
    )


def report_list(_panel: Any, _view: View, env: Env, _search: str) -> Any:
    """Every archived report, newest period first, with its files."""
    if env.reports_dir is None:
        return html.Div(
            "The report archive is not configured (no data directory).", className="muted"
        )
    reports = list_reports(env.reports_dir)
    if not reports:
        return html.Div(
            [
                html.P(f"No reports in {env.reports_dir} yet."),
                html.P(
                    "Make one with: greenwatch report --period 2026-06 --format html,pdf,csv",
                    className="mono",
                ),
            ],
            className="muted",
        )
    head = ("report", "scope", "period", "kind", "generated (UTC)", "files")
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody([_row(r) for r in reports])],
        className="grid-table reports-table",
    )
