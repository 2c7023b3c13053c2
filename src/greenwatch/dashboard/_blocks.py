"""How a panel sits on its page, and the renderers of panels that are not charts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dash import dcc, html

from greenwatch.dashboard import (
    _alerts_page,
    _compute_panels,
    _compute_tables,
    _quality,
    _reports_page,
    _stats,
    _tables,
)
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._maps import GEO_TYPES, MAP_ASPECT
from greenwatch.dashboard._spec import (
    GRAPH_TYPES,
    TILE_TYPES,
    MarkdownPanel,
    Page,
    Panel,
    StatPanel,
)
from greenwatch.dashboard._view import View

Block = Callable[[Any, View, Env, str], Any]
GRAPH_CONFIG: Any = {"topojsonURL": "assets/topojson/", "displaylogo": False}
GEO_CONFIG: Any = {**GRAPH_CONFIG, "responsive": True}
# The id key that says whether a panel body came drawn with its page (``_panels.drawn``): its
# callback then runs on a change only, not when the page appears.
DRAWN = "drawn"


def _stat(panel: StatPanel, view: View, env: Env, _search: str) -> Any:
    return _stats.render_stat(panel, view, env)


def _markdown(panel: MarkdownPanel, _view: View, _env: Env, _search: str) -> Any:
    return dcc.Markdown(panel.text)


BLOCKS: dict[str, Block] = {
    "stat": _stat,
    "markdown": _markdown,
    "site_table": _tables.site_table,
    "link_table": _tables.link_table,
    "site_facts": _tables.site_facts,
    "site_links": _tables.site_links,
    "device_table": _tables.device_table,
    "coverage_gaps": _quality.coverage_gaps,
    "submeter": _quality.submeter,
    "placement": _quality.placement,
    "ingest_boundary": _quality.ingest_boundary,
    "compute_stat": _compute_panels.compute_stat,
    "compute_table": _compute_tables.compute_table,
    "compute_findings": _compute_tables.compute_findings,
    "alerts": _alerts_page.alert_list,
    "reports": _reports_page.report_list,
}
# Widgets with controls that must survive a refresh: drawn once, around their refreshed body.
STATIC: dict[str, Callable[[Any, View, Env], Any]] = {"alerts": _alerts_page.controls}


def panel_key(page: Page, panel: Panel) -> str:
    """A panel's id among the page's callbacks' pattern-matching ids (``page/panel``)."""
    return f"{page.id}/{panel.id}"


def panel_section(
    page: Page, panel: Panel, env: Env, view: View, drawn: tuple[bool, Any] = (False, None)
) -> html.Section:
    """A panel's frame on the page grid: title, note and a body its callback fills, or that
    comes filled where the panel is ``drawn`` already (whether, and its figure or children)."""
    key = panel_key(page, panel)
    filled, content = drawn
    body: Any
    if panel.type in GEO_TYPES:
        body = dcc.Graph(
            id={"gw": "graph", "panel": key, DRAWN: filled},
            config=GEO_CONFIG,
            style={"aspectRatio": str(MAP_ASPECT), "width": "100%"},
            className="chart",
            **({"figure": content} if filled else {}),
        )
    elif panel.type in GRAPH_TYPES:
        body = dcc.Graph(
            id={"gw": "graph", "panel": key, DRAWN: filled},
            config=GRAPH_CONFIG,
            figure=content if filled else {"layout": {"height": panel.height}},
            className="chart",
        )
    else:
        # A page's tiles are filled by one callback (one request for them all, not one each).
        kind = "tile" if panel.type in TILE_TYPES else "html"
        body = html.Div(
            content if filled else None,
            id={"gw": kind, "panel": key, DRAWN: filled},
            className=f"panel-body body-{panel.type}",
        )
    parts: list[Any] = [html.H3(panel.title, className="panel-title")]
    if panel.note:
        parts.append(html.Div(panel.note, className="panel-note"))
    if panel.type in STATIC:
        parts.append(STATIC[panel.type](panel, view, env))
    parts.append(body)
    kind = "tile" if panel.type in TILE_TYPES else "card"
    return html.Section(
        parts,
        id=f"panel-{page.id}-{panel.id}",
        className=f"panel {kind} w{panel.width} type-{panel.type}",
    )
