"""The dashboard's shell (header, navigation, time range, refresh, theme) and page grids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
from dash import dcc, html

from greenwatch.dashboard._blocks import panel_section
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._spec import Dashboards, Panel
from greenwatch.dashboard._view import View

REFRESH_CHOICES = (0, 15, 30, 60, 300)
# The theme a visitor sees first (the ``theme`` store's default, kept in the browser after).
THEME = "light"
THEMES = frozenset({"light", "dark"})
# The cookie that tells the server the theme kept in the browser (set there with it), so that a
# page comes laid out in it.
THEME_COOKIE = "gw_theme"
Drawn = Callable[[Panel], tuple[bool, Any]]
# For a theme: the URL (path, query) the page is laid out for, its page in that theme and its
# note; None when unknown.
FirstPage = Callable[[str], tuple[str, str, list[Any], list[Any]] | None]


def visitor_theme() -> str:
    """The theme the visitor's browser keeps (its cookie), else the first one."""
    theme = flask.request.cookies.get(THEME_COOKIE, THEME)
    return theme if theme in THEMES else THEME


def _nav(dashboards: Dashboards) -> list[dcc.Link]:
    return [
        dcc.Link(
            page.title, href=page.path, id={"gw": "nav", "page": page.id}, className="nav-link"
        )
        for page in dashboards.pages
        if page.nav
    ]


def _who(env: Env) -> list[Any]:
    """Who is looking, and the way to log in or out."""
    user = env.auth.current_user()
    if user is None:
        return [html.A("log in", href="/login")]
    if user.name:
        return [
            html.Span(f"{user.name} · {user.role}", className="user"),
            html.A("log out", href="/logout"),
        ]
    return [html.Span(f"no login · {user.role}", className="user")]


def shell(env: Env, refresh_s: int, first: FirstPage) -> Callable[[], html.Div]:
    """The layout of a visit: the shell, with the page of the URL where ``first`` knows it
    (no callback then draws the page: it shows at once), else an empty one that the routing
    fills."""
    settings = env.dashboards.settings

    def layout() -> html.Div:
        theme = visitor_theme()
        laid_out = first(theme)
        url: dict[str, str] = {}
        page: list[Any] | None = None
        note: list[Any] | None = None
        if laid_out is not None:
            pathname, search, page, note = laid_out
            url = {"pathname": pathname, "search": search}
        return html.Div(
            [
                dcc.Location(id="url", refresh=False, **url),
                dcc.Store(id="theme", storage_type="local", data=theme),
                dcc.Store(id="alerts-version", data=0),
                dcc.Interval(id="refresh", interval=refresh_s * 1000),
                html.Header(
                    [
                        html.Div(
                            [
                                html.Span(settings.title, className="brand"),
                                html.Span(settings.subtitle, className="subtitle"),
                            ],
                            className="brand-box",
                        ),
                        html.Nav(_nav(env.dashboards), className="nav"),
                        html.Div(
                            [
                                dcc.RadioItems(
                                    id="period",
                                    options=[{"label": p, "value": p} for p in settings.periods],
                                    value=settings.default_period,
                                    inline=True,
                                    className="period",
                                ),
                                dcc.Dropdown(
                                    id="refresh-every",
                                    options=[
                                        {
                                            "label": "no refresh"
                                            if s == 0
                                            else f"every {s} s"
                                            if s < 60
                                            else f"every {s // 60} min",
                                            "value": s,
                                        }
                                        for s in sorted({*REFRESH_CHOICES, refresh_s})
                                    ],
                                    value=refresh_s,
                                    clearable=False,
                                    searchable=False,
                                    className="refresh-every",
                                ),
                                html.Button(
                                    "◐ theme",
                                    id="theme-toggle",
                                    className="button ghost",
                                    title="light / dark",
                                ),
                                *_who(env),
                            ],
                            className="controls",
                        ),
                    ],
                    className="top",
                ),
                html.Div(note, id="view-note", className="view-note"),
                html.Main(page, id="page", className="page"),
            ],
            id="gw-root",
            className=f"gw theme-{theme}",
        )

    return layout


def page_layout(env: Env, view: View, drawn: Drawn = lambda _panel: (False, None)) -> list[Any]:
    """The page of ``view``, each panel with its body where ``drawn`` has it (else empty)."""
    page = view.page
    head: list[Any] = [html.H2(page.title, className="page-title")]
    if page.scope == "site":
        site = env.sites.get(view.site or "")
        head = [
            html.H2(site.name if site else "Choose a site", className="page-title"),
            dcc.Dropdown(
                id="site-select",
                options=[
                    {"label": f"{s.name} ({s.id})", "value": s.id} for s in env.inventory.sites
                ],
                value=site.id if site else None,
                placeholder="choose a site…",
                clearable=False,
                className="site-select",
            ),
        ]
        if site is None:
            message = (
                f"Unknown site {view.site!r}."
                if view.site
                else "Choose a site from the list or the map."
            )
            return [html.Div(head, className="page-head"), html.Div(message, className="muted")]
    if any(p.type in {"link_map", "link_graph"} for p in page.panels):
        head.append(
            dcc.RadioItems(
                id="edge-mode",
                options=[
                    {"label": f"colour by {m}", "value": m}
                    for m in ("health", "utilisation", "latency", "loss")
                ],
                value=view.param("edge") or "health",
                inline=True,
                className="edge-mode",
            )
        )
    sections = [panel_section(page, panel, env, view, drawn(panel)) for panel in page.panels]
    return [html.Div(head, className="page-head"), html.Div(sections, className="grid")]


def view_note(view: View) -> list[Any]:
    span = f"{view.start:%Y-%m-%d %H:%M} → {view.end:%Y-%m-%d %H:%M} UTC"
    if view.live:
        text = f"live · totals {span} (whole hours) · trends to {view.now:%H:%M}"
    else:
        text = f"pinned · {span}"
    parts: list[Any] = [html.Span(text, className="range")]
    parts += [html.Span(p, className="problem") for p in view.problems]
    return parts
