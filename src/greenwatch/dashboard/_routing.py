"""The shell's routing: the URL draws the page, the period follows the operator, the refresh
runs only on live views.

Routing follows the URL (``dcc.Location``): ``/`` and the other page paths, ``/site/ID`` for a
site, ``?period=7d`` (``&end=…`` to pin a past period). A visit's first page comes with the
layout, laid out for the URL that asks for it (:func:`first_page`); the routing draws the pages
the visitor moves to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import dash
import flask
import pandas as pd
from dash import ALL, Input, Output, State

from greenwatch.dashboard._env import Env
from greenwatch.dashboard._layout import FirstPage, page_layout, view_note
from greenwatch.dashboard._spec import Panel
from greenwatch.dashboard._view import View, parse_view, with_params

QUANTUM = pd.Timedelta(minutes=1)
Drawn = Callable[[Env, Panel, View, str | None, str | None], tuple[bool, Any]]


def view_of(env: Env, pathname: str | None, search: str | None) -> View:
    """What the URL asks to see, at the clock's time floored to the minute."""
    return parse_view(pathname, search, env.dashboards, env.clock(), QUANTUM)


def _page(
    env: Env, drawn: Drawn, pathname: str | None, search: str | None, theme: str | None
) -> tuple[list[Any], list[Any]]:
    """The page of a URL, with its panels that ``drawn`` has already, and its note."""
    view = view_of(env, pathname, search)
    page = page_layout(env, view, lambda panel: drawn(env, panel, view, theme, search))
    return page, view_note(view)


def _visited() -> tuple[str, str] | None:
    """The path and query of the page that asks for its layout: the ``Referer`` of
    ``/_dash-layout`` when it is this server's (the page's referrer policy sends the whole URL
    to its own origin); None without one."""
    referrer = urlsplit(flask.request.referrer or "")
    if not referrer.path or referrer.netloc != flask.request.host:
        return None
    return referrer.path, f"?{referrer.query}" if referrer.query else ""


def first_page(env: Env, drawn: Drawn) -> FirstPage:
    """For the layout: the URL of the visit, its page (in the visitor's theme) and note."""

    def laid_out(theme: str) -> tuple[str, str, list[Any], list[Any]] | None:
        url = _visited()
        if url is None:
            return None
        pathname, search = url
        return pathname, search, *_page(env, drawn, pathname, search, theme)

    return laid_out


def _browser_url(app: dash.Dash) -> None:
    """The Location sets ``href`` once on the page: were the layout's URL not the browser's (a
    referrer cut to its origin by the browser), the browser's is set, which draws its page."""
    app.clientside_callback(  # type: ignore[no-untyped-call]
        """function(href, pathname, search) {
            const here = window.location;
            if (here.pathname === pathname && here.search === (search || '')) {
                return [window.dash_clientside.no_update, window.dash_clientside.no_update];
            }
            return [here.pathname, here.search];
        }""",
        Output("url", "pathname", allow_duplicate=True),
        Output("url", "search", allow_duplicate=True),
        Input("url", "href"),
        State("url", "pathname"),
        State("url", "search"),
        prevent_initial_call=True,
    )


def register(app: dash.Dash, env: Env, drawn: Drawn) -> None:
    """Callbacks: the page for the URL (with its panels that ``drawn`` has already: panel,
    view, theme, search → whether, and the content), the period picker, the navigation links,
    the refresh."""
    pages = {p.id: p for p in env.dashboards.pages}

    # Not on the page's first appearance: the layout has the page of its URL, or no URL, which
    # the Location then sets from the browser's (a change, that runs this).
    @app.callback(
        Output("page", "children"),
        Output("view-note", "children"),
        Input("url", "pathname"),
        State("url", "search"),
        State("theme", "data"),
        prevent_initial_call=True,
    )
    def route(pathname: str | None, search: str | None, theme: str | None) -> tuple[Any, Any]:
        return _page(env, drawn, pathname, search, theme)

    _browser_url(app)

    # The picker sets the URL in the browser (no round trip before the panels' own callbacks):
    # the period set, a custom start dropped, as ``with_params(search, period=p, start=None)``.
    app.clientside_callback(  # type: ignore[no-untyped-call]
        """function(period, search) {
            const params = new URLSearchParams(search || '');
            if (!period || (params.get('period') === period && !params.has('start'))) {
                return window.dash_clientside.no_update;
            }
            params.set('period', period);
            params.delete('start');
            return '?' + params.toString();
        }""",
        Output("url", "search", allow_duplicate=True),
        Input("period", "value"),
        State("url", "search"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("period", "value"),
        Output("view-note", "children", allow_duplicate=True),
        Output({"gw": "nav", "page": ALL}, "href"),
        Output("refresh", "interval"),
        Output("refresh", "disabled"),
        Input("url", "search"),
        Input("refresh-every", "value"),
        State("url", "pathname"),
        State("period", "value"),
        State({"gw": "nav", "page": ALL}, "id"),
        prevent_initial_call="initial_duplicate",
    )
    def follow_url(
        search: str | None,
        seconds: int | None,
        pathname: str | None,
        shown: str | None,
        ids: list[dict[str, str]],
    ) -> tuple[Any, Any, list[str], int, bool]:
        """What follows the URL, in one answer (the browser redraws for each answer it gets):
        the picker shows the URL's period (set only when it differs, as setting it would run
        the picker's callback above for nothing), the note the view, the navigation links keep
        the time range (page-specific choices do not follow the operator from page to page),
        and the refresh runs only on live views."""
        view = view_of(env, pathname, search)
        known = view.period in env.dashboards.settings.periods
        keep = with_params(search, link=None, edge=None, state=None, severity=None, q=None)
        return (
            view.period if known and view.period != shown else dash.no_update,
            view_note(view),
            [pages[i["page"]].path + keep for i in ids],
            max(int(seconds or 0), 1) * 1000,
            not seconds or not view.live,
        )
