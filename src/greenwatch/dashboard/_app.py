"""The Dash app: a shell (navigation, time range, refresh, theme) around YAML-defined pages.

Routing follows the URL (``dcc.Location``): ``/`` and the other page paths, ``/site/ID`` for a
site, ``?period=7d`` (``&end=…`` to pin a past period), ``&link=ID`` and ``&edge=…`` on the
network page. Every panel renders in its own callback (pattern-matching ids), so the browser
fetches a page's panels in parallel and the slowest panel bounds the page, not their sum.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dash
import flask
import pandas as pd
from dash import ALL, MATCH, Input, Output, State, ctx
from dash.exceptions import DependencyException, PreventUpdate

from greenwatch.alerts import AuditLog
from greenwatch.dashboard import _alerts_actions, _auth, _reports_page
from greenwatch.dashboard._blocks import BLOCKS
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._graphs import render_graph
from greenwatch.dashboard._layout import page_layout, shell, view_note
from greenwatch.dashboard._spec import Page, Panel, load_dashboards
from greenwatch.dashboard._view import View, parse_view, with_params
from greenwatch.ingest import BoundaryStats
from greenwatch.inventory import Inventory
from greenwatch.model import Clock, shipped_dir, utc_now
from greenwatch.query import ComputeSource
from greenwatch.store import Store

ASSETS = Path(__file__).parent / "assets"
QUANTUM = pd.Timedelta(minutes=1)
# Panels that show state changed by the user (not by the clock): never served from the cache.
LIVE_BLOCKS = frozenset({"alerts", "reports"})


def create_app(
    store: Store,
    inventory: Inventory,
    *,
    clock: Clock = utc_now,
    server: Any = True,
    dashboards_dir: Path | None = None,
    alerts: Any = None,
    reports_dir: Path | None = None,
    compute: ComputeSource | None = None,
    bind_host: str = "127.0.0.1",
    audit: AuditLog | None = None,
    boundary: BoundaryStats | None = None,
) -> dash.Dash:
    """The Dash app over ``store`` and ``inventory``; ``server`` is a Flask app to mount on.

    Pages come from ``dashboards_dir`` (default: the shipped ``dashboards/``); a bad file raises
    :class:`~greenwatch.model.ConfigError` naming file, line and key. ``alerts`` is the alert
    engine (None: the alerts page says alerting is not configured); ``reports_dir`` the report
    archive; ``compute`` where computing pools and verification records come from (the
    registry's; None: the inventory's pools, never verified); ``bind_host`` the address the
    server listens on (anonymous visitors may operate only on loopback); ``audit`` where
    operator actions are logged (shown on the alerts page); ``boundary`` the ingest
    boundary's counters and unregistered sources (None: ingest runs elsewhere).
    """
    dashboards = load_dashboards(dashboards_dir or shipped_dir("dashboards"))
    env = Env(
        store,
        inventory,
        dashboards,
        clock,
        auth=_auth.Auth(dashboards.settings.auth, bind_host),
        alerts=alerts,
        reports_dir=reports_dir,
        compute=compute,
        audit=audit,
        boundary=boundary,
    )
    settings = dashboards.settings
    app = dash.Dash(
        __name__,
        server=server,
        assets_folder=str(ASSETS),
        title=settings.title,
        serve_locally=True,
        suppress_callback_exceptions=True,
        update_title="",
    )
    flask_app: flask.Flask = app.server
    env.auth.install(flask_app, [p.path for p in dashboards.pages])
    _reports_page.install(flask_app, env)
    _server_timing(flask_app)
    # An unknown component-suite path is a missing file (404), not a server error.
    flask_app.register_error_handler(
        DependencyException,
        lambda _exc: (flask.jsonify(code="not found", message="no such dashboard asset"), 404),
    )
    app.layout = shell(env, settings.refresh_s)
    pages: dict[str, Page] = {p.id: p for p in dashboards.pages}

    def view_of(pathname: str | None, search: str | None) -> View:
        return parse_view(pathname, search, dashboards, env.clock(), QUANTUM)

    def panel_view(
        pathname: str | None, search: str | None, ident: dict[str, str]
    ) -> tuple[Panel, View]:
        """The panel a callback draws and the view it draws in; stale pages are not drawn."""
        view = view_of(pathname, search)
        page_id, _, panel_id = ident["panel"].partition("/")
        if page_id != view.page.id:
            raise PreventUpdate
        return next(p for p in pages[page_id].panels if p.id == panel_id), view

    @app.callback(
        Output("page", "children"),
        Output("view-note", "children"),
        Input("url", "pathname"),
        State("url", "search"),
    )
    def route(pathname: str | None, search: str | None) -> tuple[Any, Any]:
        view = view_of(pathname, search)
        return page_layout(env, view, search or ""), view_note(view)

    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Output("period", "value"),
        Output("view-note", "children", allow_duplicate=True),
        Input("period", "value"),
        Input("url", "search"),
        State("url", "pathname"),
        prevent_initial_call="initial_duplicate",
    )
    def sync_period(period: str, search: str | None, pathname: str | None) -> tuple[Any, Any, Any]:
        if ctx.triggered_id == "period":
            changed = with_params(search, period=period, start=None)
            # A callback is not re-run by its own output: the note follows here.
            return changed, dash.no_update, view_note(view_of(pathname, changed))
        view = view_of(pathname, search)
        return (
            dash.no_update,
            view.period if view.period in settings.periods else dash.no_update,
            view_note(view),
        )

    @app.callback(
        Output({"gw": "nav", "page": ALL}, "href"),
        Input("url", "search"),
        State({"gw": "nav", "page": ALL}, "id"),
    )
    def nav_links(search: str | None, ids: list[dict[str, str]]) -> list[str]:
        # The time range follows the operator from page to page; page-specific choices do not.
        keep = with_params(search, link=None, edge=None, state=None, severity=None, q=None)
        return [pages[i["page"]].path + keep for i in ids]

    @app.callback(
        Output({"gw": "graph", "panel": MATCH}, "figure"),
        Input("url", "search"),
        Input("refresh", "n_intervals"),
        Input("theme", "data"),
        State("url", "pathname"),
        State({"gw": "graph", "panel": MATCH}, "id"),
    )
    def graph(
        search: str | None,
        _tick: int | None,
        theme: str | None,
        pathname: str | None,
        ident: dict[str, str],
    ) -> Any:
        panel, view = panel_view(pathname, search, ident)
        # A figure is a function of its panel, the view and the theme: drawn once per minute.
        return env.memo(
            ("graph", ident["panel"], view.key, view.now, theme),
            lambda: render_graph(panel, view, env, theme).to_plotly_json(),
        )

    @app.callback(
        Output({"gw": "html", "panel": MATCH}, "children"),
        Input("url", "search"),
        Input("refresh", "n_intervals"),
        Input("alerts-version", "data"),
        State("url", "pathname"),
        State({"gw": "html", "panel": MATCH}, "id"),
    )
    def block(
        search: str | None,
        _tick: int | None,
        _v: int | None,
        pathname: str | None,
        ident: dict[str, str],
    ) -> Any:
        panel, view = panel_view(pathname, search, ident)
        if panel.type in LIVE_BLOCKS:
            return BLOCKS[panel.type](panel, view, env, search or "")
        return env.memo(
            ("block", ident["panel"], view.key, view.now, search),
            lambda: BLOCKS[panel.type](panel, view, env, search or ""),
        )

    @app.callback(
        Output("url", "pathname", allow_duplicate=True),
        Output("url", "search", allow_duplicate=True),
        Input({"gw": "graph", "panel": ALL}, "clickData"),
        State("url", "pathname"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def drill_down(_clicks: list[Any], pathname: str | None, search: str | None) -> tuple[Any, Any]:
        point = (ctx.triggered[0]["value"] or {}).get("points", [{}])[0] if ctx.triggered else {}
        target = str(point.get("customdata") or "")
        kind, _, ident = target.partition(":")
        if kind == "site" and ident in env.sites:
            path, query = f"/site/{ident}", with_params(search, link=None, edge=None)
        elif kind == "link" and ident in env.links:
            history = (
                p for p in dashboards.pages if any(q.type == "link_history" for q in p.panels)
            )
            path, query = (
                next((p.path for p in history), "/network"),
                with_params(search, link=ident),
            )
        else:
            raise PreventUpdate
        # Only what changes is set: setting the path again would redraw the page, setting the
        # search again would re-run the panels of a page that is being replaced.
        return (
            path if path != pathname else dash.no_update,
            query if query != (search or "") else dash.no_update,
        )

    @app.callback(
        Output("url", "pathname", allow_duplicate=True),
        Input("site-select", "value"),
        State("url", "pathname"),
        prevent_initial_call=True,
    )
    def choose_site(site: str | None, pathname: str | None) -> str:
        page, current = dashboards.page_for(pathname or "/")
        if not site or site == current:
            raise PreventUpdate
        return f"{page.path.rstrip('/')}/{site}"

    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Input("edge-mode", "value"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def edge_mode(mode: str, search: str | None) -> str:
        return with_params(search, edge=None if mode == "health" else mode)

    @app.callback(
        Output("refresh", "interval"),
        Output("refresh", "disabled"),
        Input("refresh-every", "value"),
        Input("url", "search"),
        State("url", "pathname"),
    )
    def refresh_every(seconds: int, search: str | None, pathname: str | None) -> tuple[int, bool]:
        live = view_of(pathname, search).live
        return max(int(seconds or 0), 1) * 1000, not seconds or not live

    app.clientside_callback(  # type: ignore[no-untyped-call]
        "function(n, theme) { if (!n) { return theme || 'light'; }"
        " return theme === 'dark' ? 'light' : 'dark'; }",
        Output("theme", "data"),
        Input("theme-toggle", "n_clicks"),
        State("theme", "data"),
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        "function(theme) { return 'gw theme-' + (theme === 'dark' ? 'dark' : 'light'); }",
        Output("gw-root", "className"),
        Input("theme", "data"),
    )
    _alerts_actions.register(app, env)
    return app


def _server_timing(server: flask.Flask) -> None:
    """``Server-Timing`` on every callback response, so a browser (or the bench) sees how long
    each callback took on the server."""

    @server.before_request
    def _start() -> None:
        flask.g.gw_started = time.perf_counter()

    @server.after_request
    def _stop(response: flask.Response) -> flask.Response:
        started = flask.g.get("gw_started")
        if started is not None and flask.request.path.startswith("/_dash-update-component"):
            response.headers["Server-Timing"] = (
                f"callback;dur={(time.perf_counter() - started) * 1000:.1f}"
            )
        return response
