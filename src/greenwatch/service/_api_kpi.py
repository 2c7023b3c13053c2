"""``GET /api/v1/kpi`` (one KPI for a scope and period), ``GET /api/v1/energy`` (one meter or
device) and ``GET /api/v1/compute``."""

from __future__ import annotations

import io
from collections.abc import Mapping

import flask
import pandas as pd

from greenwatch.inventory import Level, ScopeError
from greenwatch.metrics import DEFAULT_MIN_COVERAGE, DEFAULT_MIN_SHARE
from greenwatch.model import GreenwatchError, SystemFailureError, parse_time_range
from greenwatch.query import KPIS, Scope, compute_figures, energy_read, kpi_answer
from greenwatch.service._context import ApiContext, bad_request, ordered_json

COMPUTE_LEVELS = (Level.NATIONAL, Level.REGION, Level.HUB, Level.SITE)


def _fraction(args: Mapping[str, str], name: str, default: float) -> float:
    """A query parameter in [0, 1]."""
    text = args.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise GreenwatchError(f"{name} must be a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise GreenwatchError(f"{name} must be in [0, 1], got {value}")
    return value


def register(app: flask.Flask, ctx: ApiContext) -> None:
    @app.get("/api/v1/kpi")
    def kpi() -> flask.Response | tuple[flask.Response, int]:
        args = flask.request.args
        name = args.get("kpi", "pue")
        try:
            start, end = parse_time_range(args.get("start"), args.get("end"), ctx.clock())
            scope = Scope.parse(args.get("scope", "national"), ctx.inventory)
            answers = kpi_answer(
                ctx.store,
                ctx.inventory,
                name,
                scope,
                start,
                end,
                min_coverage=_fraction(args, "min_coverage", DEFAULT_MIN_COVERAGE),
                min_share=_fraction(args, "min_share", DEFAULT_MIN_SHARE),
            )
        except SystemFailureError:
            raise
        except GreenwatchError as exc:
            return bad_request(str(exc), kpis=sorted(KPIS))
        records = [a.to_dict() for a in answers]
        if args.get("format") == "csv":
            frame = pd.DataFrame(records).drop(columns=["excluded"])
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False)
            return flask.Response(buffer.getvalue(), mimetype="text/csv")
        return flask.jsonify(data=records)

    @app.get("/api/v1/energy")
    def energy() -> flask.Response | tuple[flask.Response, int]:
        args = flask.request.args
        site, meter, device = args.get("site"), args.get("meter"), args.get("device")
        if site not in {s.id for s in ctx.inventory.sites}:
            return bad_request(f"unknown or missing site {site!r}")
        if (meter is None) == (device is None):
            return bad_request("name exactly one of meter and device")
        try:
            start, end = parse_time_range(args.get("start"), args.get("end"), ctx.clock())
        except GreenwatchError as exc:
            return bad_request(str(exc))
        record = energy_read(ctx.store, site, start, end, meter=meter, device=device).to_dict()
        if args.get("format") == "csv":
            buffer = io.StringIO()
            pd.DataFrame([record]).to_csv(buffer, index=False)
            return flask.Response(buffer.getvalue(), mimetype="text/csv")
        return ordered_json(data=record)

    @app.get("/api/v1/compute")
    def compute() -> flask.Response | tuple[flask.Response, int]:
        args = flask.request.args
        try:
            level = Level.parse(args.get("level", "national"))
            if level not in COMPUTE_LEVELS:
                raise ScopeError(
                    f"unknown level {level.value!r} (one of {', '.join(COMPUTE_LEVELS)})"
                )
            start, end = parse_time_range(args.get("start"), args.get("end"), ctx.clock())
        except GreenwatchError as exc:
            return bad_request(str(exc))
        figures = compute_figures(ctx.store, ctx.inventory, start, end, source=ctx.compute_source)
        if args.get("format") == "csv":
            buffer = io.StringIO()
            figures.table(level).to_csv(buffer, index=False)
            return flask.Response(buffer.getvalue(), mimetype="text/csv")
        return flask.jsonify(figures.to_dict(level))
