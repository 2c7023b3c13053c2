"""Every panel renders in its own callback (pattern-matching ids), so the browser fetches a
page's panels in parallel and the slowest panel bounds the page, not their sum; a page's stat
tiles, each a few figures of data other panels read too, are filled by one callback.

A panel already drawn when its page is laid out (the first page, drawn ahead) comes with the
page (:func:`drawn`, its id says so): its callback then runs only when an input changes, so the
page appears without a request, and the browser draws each chart once, with its figure, instead
of an empty chart first."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, MATCH, Input, Output, State
from dash.exceptions import PreventUpdate

from greenwatch.dashboard._blocks import BLOCKS, DRAWN, panel_key
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._graphs import render_graph
from greenwatch.dashboard._routing import view_of
from greenwatch.dashboard._spec import GRAPH_TYPES, Panel
from greenwatch.dashboard._view import View

# Panels that show state changed by the user (not by the clock): never served from the cache.
LIVE_BLOCKS = frozenset({"alerts", "reports"})


def panel_view(
    env: Env, pathname: str | None, search: str | None, ident: dict[str, str]
) -> tuple[Panel, View]:
    """The panel a callback draws and the view it draws in; stale pages are not drawn."""
    view = view_of(env, pathname, search)
    page_id, _, panel_id = ident["panel"].partition("/")
    if page_id != view.page.id:
        raise PreventUpdate
    page = next(p for p in env.dashboards.pages if p.id == page_id)
    return next(p for p in page.panels if p.id == panel_id), view


def register(app: dash.Dash, env: Env) -> None:
    """Callbacks: a chart's figure, an HTML block's children, a page's tiles; each twice, for
    the panels that come drawn with their page and those that do not."""
    for drawn in (False, True):
        _register(app, env, drawn)


def _register(app: dash.Dash, env: Env, drawn: bool) -> None:
    """The callbacks of the panels whose ids say ``drawn``: those that came drawn run only when
    an input changes, not when the page appears (no request, and each chart drawn once)."""

    @app.callback(
        Output({"gw": "graph", "panel": MATCH, DRAWN: drawn}, "figure"),
        Input("url", "search"),
        Input("refresh", "n_intervals"),
        Input("theme", "data"),
        State("url", "pathname"),
        State({"gw": "graph", "panel": MATCH, DRAWN: drawn}, "id"),
        prevent_initial_call=drawn,
    )
    def graph(
        search: str | None,
        _tick: int | None,
        theme: str | None,
        pathname: str | None,
        ident: dict[str, str],
    ) -> Any:
        return graph_figure(env, pathname, search, theme, ident)

    @app.callback(
        Output({"gw": "html", "panel": MATCH, DRAWN: drawn}, "children"),
        Input("url", "search"),
        Input("refresh", "n_intervals"),
        Input("alerts-version", "data"),
        State("url", "pathname"),
        State({"gw": "html", "panel": MATCH, DRAWN: drawn}, "id"),
        prevent_initial_call=drawn,
    )
    def block(
        search: str | None,
        _tick: int | None,
        _v: int | None,
        pathname: str | None,
        ident: dict[str, str],
    ) -> Any:
        return block_children(env, pathname, search, ident)

    @app.callback(
        Output({"gw": "tile", "panel": ALL, DRAWN: drawn}, "children"),
        Input("url", "search"),
        Input("refresh", "n_intervals"),
        State("url", "pathname"),
        State({"gw": "tile", "panel": ALL, DRAWN: drawn}, "id"),
        prevent_initial_call=drawn,
    )
    def tiles(
        search: str | None,
        _tick: int | None,
        pathname: str | None,
        idents: list[dict[str, str]],
    ) -> list[Any]:
        return [block_children(env, pathname, search, ident) for ident in idents]


def _graph_key(key: str, view: View, theme: str | None) -> tuple[object, ...]:
    return ("graph", key, view.key, view.clock_key, theme)


def _block_key(key: str, view: View, search: str | None) -> tuple[object, ...]:
    return ("block", key, view.key, view.clock_key, search)


def graph_figure(
    env: Env, pathname: str | None, search: str | None, theme: str | None, ident: dict[str, str]
) -> Any:
    """The figure of a chart panel, as JSON-ready dicts: a function of its panel, the view and
    the theme, drawn once per trend step and cache TTL."""
    panel, view = panel_view(env, pathname, search, ident)
    return env.memo(
        _graph_key(ident["panel"], view, theme),
        lambda: render_graph(panel, view, env, theme).to_plotly_json(),
    )


def block_children(
    env: Env, pathname: str | None, search: str | None, ident: dict[str, str]
) -> Any:
    """The children of an HTML panel: drawn once per trend step and cache TTL, but live
    blocks every time."""
    panel, view = panel_view(env, pathname, search, ident)
    if panel.type in LIVE_BLOCKS:
        return BLOCKS[panel.type](panel, view, env, search or "")
    return env.memo(
        _block_key(ident["panel"], view, search),
        lambda: BLOCKS[panel.type](panel, view, env, search or ""),
    )


def drawn(
    env: Env, panel: Panel, view: View, theme: str | None, search: str | None
) -> tuple[bool, Any]:
    """Whether ``panel`` of ``view``'s page is drawn already (its callback would answer from
    the cache), and its figure or children; draws nothing."""
    key = panel_key(view.page, panel)
    if panel.type in LIVE_BLOCKS:
        return False, None
    if panel.type in GRAPH_TYPES:
        return env.peek(_graph_key(key, view, theme))
    if panel.type in BLOCKS:  # the tiles' among them
        return env.peek(_block_key(key, view, search))
    return False, None
