"""The Dash app: a shell (navigation, time range, refresh, theme) around YAML-defined pages.

Read top-down: :func:`create_app` loads the pages, builds the :class:`Env` every renderer gets,
makes the Dash app, installs what the Flask server needs (sign-in, report downloads, timing),
lays out the shell and registers the callbacks, each group from its own module: routing
(``_routing``), drill-down and pickers (``_navigation``), one callback per panel (``_panels``),
operator actions on alerts (``_alerts_actions``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import dash
import flask
from dash import Input, Output, State
from dash.exceptions import DependencyException
from plotly.offline import get_plotlyjs_version

from greenwatch.alerts import AuditLog
from greenwatch.dashboard import (
    _alerts_actions,
    _auth,
    _navigation,
    _panels,
    _reports_page,
    _routing,
    _warm,
)
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._layout import THEME_COOKIE, shell
from greenwatch.dashboard._spec import load_dashboards
from greenwatch.ingest import BoundaryStats
from greenwatch.inventory import Inventory
from greenwatch.model import Clock, shipped_dir, utc_now
from greenwatch.query import ComputeSource
from greenwatch.store import Store

ASSETS = Path(__file__).parent / "assets"
# plotly.js with only the trace types the dashboards draw (tools/plotly-bundle), a third of the
# full bundle's size and evaluation time; used when it is the version plotly.py writes figures
# for, else Dash's full bundle is.
PLOTLY_BUNDLE = "vendor/plotly-gw-{version}.min.js"
# Dash's polyfill bundle rewrites built-ins a current browser has (String.prototype.trim, that
# Plotly calls per label, among them): only its regenerator runtime is put on the page. Nor is
# the DataTable's bundle: no dashboard draws one.
POLYFILL = re.compile(r'<script src="[^"]*/polyfill@[^"]*"></script>')
REGENERATOR = '<script src="/assets/vendor/regenerator-runtime-0.13.11.min.js"></script>'
DATA_TABLE = re.compile(r'<script src="[^"]*/dash_table/[^"]*"></script>\n?')
# Dash's page, with what the charts need fetched as the page loads rather than once the first
# figure has arrived: Plotly, the map's topojson (the map then draws as soon as its figure
# arrives), the layout and callbacks (asked for alongside the scripts rather than after them;
# the renderer's own requests then find them), and the components that Dash's bundle loads
# when one is first drawn (the graph, the dropdown of the shell's refresh picker), put on the
# page: the first page draws without waiting for them. Its referrer policy sends the page's
# whole URL with the layout request, which lays the page out for that URL
# (``_routing.first_page``), to this origin only.
INDEX = """<!DOCTYPE html>
<html>
    <head>
        {%metas%}
        <meta name="referrer" content="same-origin">
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
        <link rel="preload" href="/_dash-layout" as="fetch" crossorigin>
        <link rel="preload" href="/_dash-dependencies" as="fetch" crossorigin>
        <link rel="preload" href="/assets/topojson/asia_RESm.json" as="fetch" crossorigin>
        PLOTLY_PRELOAD
    </head>
    <body>
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            PLOTLY_SCRIPT
            <script src="/_dash-component-suites/dash/dcc/async-graph.js"></script>
            <script src="/_dash-component-suites/dash/dcc/async-dropdown.js"></script>
            {%renderer%}
        </footer>
    </body>
</html>"""


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
    scheduler: Any = None,
) -> dash.Dash:
    """The Dash app over ``store`` and ``inventory``; ``server`` is a Flask app to mount on.

    Pages come from ``dashboards_dir`` (default: the shipped ``dashboards/``); a bad file raises
    :class:`~greenwatch.model.ConfigError` naming file, line and key. ``alerts`` is the alert
    engine (None: the alerts page says alerting is not configured); ``reports_dir`` the report
    archive; ``compute`` where computing pools and verification records come from (the
    registry's; None: the inventory's pools, never verified); ``bind_host`` the address the
    server listens on (anonymous visitors may operate only on loopback); ``audit`` where
    operator actions are logged (shown on the alerts page); ``boundary`` the ingest
    boundary's counters and unregistered sources (None: ingest runs elsewhere); ``scheduler``
    an APScheduler the first page is drawn on in the background, at start and every few
    minutes, so that a first visit finds it ready (None: drawn when asked; on a store that
    does not count its writes, what the drawing computed is kept until the next drawings).
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
    app = _dash_app(env, server)
    _install_server(app.server, env)
    app.layout = shell(env, dashboards.settings.refresh_s, _routing.first_page(env, _panels.drawn))
    _routing.register(app, env, _panels.drawn)
    _navigation.register(app, env)
    _panels.register(app, env)
    _alerts_actions.register(app, env)
    _theme_switch(app)
    if scheduler is not None:
        _warm.install(scheduler, env)
    return app


def plotly_bundle() -> str | None:
    """The asset path of the partial plotly.js bundle for plotly.py's version, if shipped."""
    path = PLOTLY_BUNDLE.format(version=get_plotlyjs_version())
    return path if (ASSETS / path).is_file() else None


def _index(settings: Any) -> str:
    """The page: Plotly defined by the partial bundle before the renderer starts (dcc.Graph
    uses ``window.Plotly`` when defined), else Dash's full bundle fetched as the page loads."""
    bundle = plotly_bundle()
    if bundle is None:
        preload = (
            '<link rel="preload" as="script"'
            ' href="/_dash-component-suites/plotly/package_data/plotly.min.js">'
        )
        script = ""
    else:
        preload, script = "", f'<script src="/assets/{bundle}"></script>'
    return (
        INDEX.replace("RES", str(settings.map.resolution))
        .replace("PLOTLY_PRELOAD", preload)
        .replace("PLOTLY_SCRIPT", script)
    )


class _Dash(dash.Dash):
    """Dash, with its polyfill bundle replaced by the regenerator runtime, and without the
    DataTable's bundle."""

    def interpolate_index(self, scripts: str = "", **kwargs: Any) -> Any:  # type: ignore[override]
        scripts = DATA_TABLE.sub("", POLYFILL.sub(REGENERATOR, scripts))
        return super().interpolate_index(scripts=scripts, **kwargs)  # type: ignore[no-untyped-call]


def _dash_app(env: Env, server: Any) -> dash.Dash:
    settings = env.dashboards.settings
    return _Dash(
        __name__,
        server=server,
        assets_folder=str(ASSETS),
        # The vendored scripts are put on the page by INDEX and _Dash, where they fit.
        assets_ignore=r"^(plotly-gw|regenerator-runtime)-[\d.]+\.min\.js$",
        title=settings.title,
        serve_locally=True,
        suppress_callback_exceptions=True,
        update_title="",
        index_string=_index(settings),
    )


def _install_server(flask_app: flask.Flask, env: Env) -> None:
    """Sign-in on the pages, report downloads, callback timing, 404 for unknown assets."""
    env.auth.install(flask_app, [p.path for p in env.dashboards.pages])
    _reports_page.install(flask_app, env)
    _server_timing(flask_app)
    # An unknown component-suite path is a missing file (404), not a server error.
    flask_app.register_error_handler(
        DependencyException,
        lambda _exc: (flask.jsonify(code="not found", message="no such dashboard asset"), 404),
    )


def _theme_switch(app: dash.Dash) -> None:
    """The light/dark toggle runs in the browser: no round trip to the server. It runs on a
    click only: setting the theme as the page appears would draw its charts again."""
    app.clientside_callback(  # type: ignore[no-untyped-call]
        "function(n, theme) { return theme === 'dark' ? 'light' : 'dark'; }",
        Output("theme", "data"),
        Input("theme-toggle", "n_clicks"),
        State("theme", "data"),
        prevent_initial_call=True,
    )
    # The theme also goes to a cookie: the next layout comes in it (``_layout.visitor_theme``).
    app.clientside_callback(  # type: ignore[no-untyped-call]
        "function(theme) { const t = theme === 'dark' ? 'dark' : 'light';"
        f" document.cookie = '{THEME_COOKIE}=' + t + '; path=/; max-age=31536000; SameSite=Lax';"
        " return 'gw theme-' + t; }",
        Output("gw-root", "className"),
        Input("theme", "data"),
    )


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
