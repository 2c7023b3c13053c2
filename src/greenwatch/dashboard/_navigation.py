"""Moving between pages from a chart or a picker: a click on a site or link drills down, the
site picker swaps the site, the edge mode recolours the network (``&link=ID``, ``&edge=…``)."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx
from dash.exceptions import PreventUpdate

from greenwatch.dashboard._blocks import DRAWN
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._view import with_params


def register(app: dash.Dash, env: Env) -> None:
    """Callbacks: drill-down from a chart, the site picker, the network's edge mode."""

    @app.callback(
        Output("url", "pathname", allow_duplicate=True),
        Output("url", "search", allow_duplicate=True),
        Input({"gw": "graph", "panel": ALL, DRAWN: ALL}, "clickData"),
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
                p for p in env.dashboards.pages if any(q.type == "link_history" for q in p.panels)
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
        page, current = env.dashboards.page_for(pathname or "/")
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
