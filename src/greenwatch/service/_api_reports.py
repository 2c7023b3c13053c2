"""``GET /api/v1/reports``: the report archive (``DATA_DIR/reports``), listed and downloadable.

``GET /api/v1/reports`` lists reports, newest period first, each with its files and their
download URLs; ``GET /api/v1/reports/<name>`` downloads the report's PDF (else its HTML);
``GET /api/v1/reports/<name>/<file>`` downloads one of its files (HTML, PDF, a CSV table).
Names are looked up in the archive's manifests, never joined into paths as given.
``POST /api/v1/reports`` (write scope) with ``{"period": "2026-10", "scope": "national",
"format": "html,pdf,csv", "min_coverage": 0.95}`` builds an ad-hoc report into the archive
(what ``greenwatch report`` does when a server runs on its data directory); 201 with its
listing.
"""

from __future__ import annotations

from pathlib import Path

import flask

from greenwatch.metrics import DEFAULT_MIN_COVERAGE
from greenwatch.model import GreenwatchError, SystemFailureError
from greenwatch.reports import (
    MEDIA_TYPES,
    ArchivedReport,
    ReportConfig,
    find_report,
    list_reports,
    make_report,
    parse_formats,
    parse_period,
    parse_scope,
)
from greenwatch.service._context import NOT_A_JSON_OBJECT, ApiContext, bad_request, json_object

ARCHIVE = "reports"


def archive_dir(ctx: ApiContext) -> Path | None:
    """Where the service keeps reports: ``DATA_DIR/reports`` (none without a data dir)."""
    return ctx.data_dir / ARCHIVE if ctx.data_dir is not None else None


def _listing(report: ArchivedReport) -> dict[str, object]:
    out = report.to_dict()
    out.pop("path")
    base = f"/api/v1/reports/{report.name}"
    out["url"] = base
    out["files"] = [dict(f, url=f"{base}/{f['name']}") for f in out["files"]]
    return out


def _send(report: ArchivedReport, name: str) -> flask.Response:
    path = report.file(name)
    assert path is not None
    fmt = name.rsplit(".", 1)[-1]
    return flask.send_file(
        path,
        mimetype=MEDIA_TYPES.get(fmt, "application/octet-stream"),
        as_attachment=fmt != "html",
        download_name=name,
        max_age=0,
    )


def register(app: flask.Flask, ctx: ApiContext) -> None:
    @app.get("/api/v1/reports")
    def reports() -> flask.Response:
        return flask.jsonify(data=[_listing(r) for r in list_reports(archive_dir(ctx))])

    @app.post("/api/v1/reports")
    def create_report() -> tuple[flask.Response, int]:
        body = json_object()
        archive = archive_dir(ctx)
        if body is None:
            return bad_request(NOT_A_JSON_OBJECT)
        if archive is None:
            return bad_request("this server has no data directory to archive reports in", 409)
        try:
            period = parse_period(str(body.get("period", "")))
            scope = parse_scope(str(body.get("scope", "national")), ctx.inventory)
            formats = parse_formats(str(body.get("format", "html,pdf,csv")))
            coverage = float(body.get("min_coverage", DEFAULT_MIN_COVERAGE))
            config = ReportConfig(min_coverage=coverage)
            archived = make_report(
                ctx.store,
                ctx.inventory,
                period,
                scope,
                formats=formats,
                archive_dir=archive,
                generated_at=ctx.clock(),
                config=config,
                compute=ctx.compute_source,
                pdf_renderer=ctx.render_pdf,
            )
        except SystemFailureError:
            raise
        except (GreenwatchError, ValueError) as exc:
            return bad_request(str(exc))
        return flask.jsonify(_listing(archived)), 201

    @app.get("/api/v1/reports/<name>")
    def report(name: str) -> flask.Response | tuple[flask.Response, int]:
        found = find_report(archive_dir(ctx), name)
        main = found.main_file() if found else None
        if found is None or main is None:
            return bad_request(f"no report {name!r} in the archive", 404)
        return _send(found, main.name)

    @app.get("/api/v1/reports/<name>/<file>")
    def report_file(name: str, file: str) -> flask.Response | tuple[flask.Response, int]:
        found = find_report(archive_dir(ctx), name)
        if found is None or found.file(file) is None:
            return bad_request(f"no file {file!r} in report {name!r}", 404)
        return _send(found, file)
