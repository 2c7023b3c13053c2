"""The maps and the link graph: sites on a map of China, links between them.

Maps draw from the topojson the dashboard serves itself (``assets/topojson``), coastlines and
sites only by default (no country borders); an operator who must publish an approved standard
map adds it as a GeoJSON boundary layer (``map.boundaries`` in ``settings.yaml``).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from greenwatch.dashboard._data import records
from greenwatch.dashboard._links import HEALTH_COLOURS
from greenwatch.dashboard._spec import MapSettings
from greenwatch.dashboard._theme import (
    KIND_LABELS,
    KIND_SYMBOLS,
    STATUS_COLOURS,
    base_layout,
    colour,
    look,
)

EDGE_MODES = ("health", "utilisation", "latency", "loss")
GEO_TYPES = frozenset({"site_map", "link_map"})
# Width / height of Mercator lon 70.5-139.5, lat 16-54: a map panel has this shape.
MAP_ASPECT = 1.42
_SCALES = {
    "utilisation": ("utilisation", 0.0, 1.0, "Viridis", "{:.0%}"),
    "latency": ("latency_mean_s", None, None, "Plasma", "{:.1f} ms"),
    "loss": ("loss_mean", 0.0, None, "Reds", "{:.2%}"),
}


@lru_cache(maxsize=4)
def _boundary_lines(path: str, mtime: float) -> tuple[list[float | None], list[float | None]]:
    """Every ring and line of a GeoJSON file as one lon/lat polyline with None breaks."""
    del mtime  # part of the cache key: an edited file is read again
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    features = data.get("features", [data]) if isinstance(data, dict) else []
    lons: list[float | None] = []
    lats: list[float | None] = []

    def rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
        kind, coords = geometry.get("type"), geometry.get("coordinates", [])
        if kind == "LineString":
            return [coords]
        if kind in ("MultiLineString", "Polygon"):
            return list(coords)
        if kind == "MultiPolygon":
            return [ring for polygon in coords for ring in polygon]
        if kind == "GeometryCollection":
            return [r for g in geometry.get("geometries", []) for r in rings(g)]
        return []

    for feature in features:
        geometry = feature.get("geometry", feature) if isinstance(feature, dict) else {}
        for ring in rings(geometry or {}):
            for point in ring:
                lons.append(float(point[0]))
                lats.append(float(point[1]))
            lons.append(None)
            lats.append(None)
    return lons, lats


def boundary_trace(settings: MapSettings) -> go.Scattergeo | None:
    """The configured boundary layer as thin lines, or None."""
    if settings.boundaries is None:
        return None
    path = Path(settings.boundaries)
    lons, lats = _boundary_lines(str(path), path.stat().st_mtime)
    return go.Scattergeo(
        lon=lons,
        lat=lats,
        mode="lines",
        line={"width": 0.8, "color": colour(settings.boundaries_colour)},
        hoverinfo="skip",
        name="boundaries",
        showlegend=False,
    )


def _geo(fig: go.Figure, settings: MapSettings, theme: str | None, height: int) -> None:
    c = look(theme)
    fig.update_geos(
        scope="asia",
        resolution=settings.resolution,
        projection_type="mercator",
        # The panel keeps the aspect ratio of these ranges (MAP_ASPECT), so the map fills it.
        lataxis_range=[16, 54],
        lonaxis_range=[70.5, 139.5],
        showcoastlines=True,
        coastlinecolor=c["coast"],
        showland=True,
        landcolor=c["land"],
        showocean=True,
        oceancolor=c["ocean"],
        showcountries=settings.show_countries,
        countrycolor=c["coast"],
        showlakes=False,
        showframe=False,
        bgcolor=c["paper"],
    )
    layout = base_layout(theme, height)
    del layout["height"]  # the panel's aspect ratio sizes a map
    layout.update(
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        hovermode="closest",
        # Over Central Asia, where there are no sites: the legend takes no room from the map.
        legend={
            "orientation": "v",
            "y": 0.99,
            "yanchor": "top",
            "x": 0.01,
            "xanchor": "left",
            "bgcolor": c["legend"],
            "font": {"size": 11},
        },
    )
    fig.update_layout(**layout)


def _hub_labels(sites: pd.DataFrame, theme: str | None) -> go.Scattergeo:
    hubs = (
        sites.dropna(subset=["hub"])
        .groupby("hub")
        .agg(lat=("lat", "mean"), lon=("lon", "mean"), region=("region", "first"))
    )
    # Western hubs are labelled to the left, eastern ones to the right: fewer collisions.
    return go.Scattergeo(
        lat=hubs["lat"],
        lon=hubs["lon"] + (hubs["region"] == "east").map({True: 2.4, False: -2.4}),
        text=[f"{h} hub" for h in hubs.index],
        textposition=["middle right" if r == "east" else "middle left" for r in hubs["region"]],
        mode="text",
        textfont={"size": 11, "color": look(theme)["muted"]},
        hoverinfo="skip",
        showlegend=False,
        name="hubs",
    )


def site_map(
    frame: pd.DataFrame, settings: MapSettings, theme: str | None, height: int
) -> go.Figure:
    """Sites coloured by PUE vs target, sized by mean IT power, symbol by kind, hub labels.

    ``frame``: :func:`greenwatch.dashboard._data.overview`. Each point's customdata is
    ``site:<id>`` (a click opens the site page).
    """
    fig = go.Figure()
    boundary = boundary_trace(settings)
    if boundary is not None:
        fig.add_trace(boundary)
    peak = max(float(frame["it_power_w"].fillna(0).max()), 1.0)
    for status, shade in STATUS_COLOURS.items():
        part = frame[frame["status"] == status]
        if part.empty:
            continue
        fig.add_trace(
            go.Scattergeo(
                lat=part["lat"],
                lon=part["lon"],
                name=f"{status} ({len(part)})",
                text=[_site_hover(r) for r in records(part)],
                hoverinfo="text",
                customdata=[f"site:{s}" for s in part["site"]],
                marker={
                    "color": shade,
                    "symbol": [KIND_SYMBOLS.get(k, "circle") for k in part["kind"]],
                    "size": 8 + 22 * (part["it_power_w"].fillna(0) / peak) ** 0.5,
                    "line": {"width": 1, "color": "#1b1f24"},
                    "opacity": 0.9,
                },
                mode="markers",
            )
        )
    for kind, symbol in KIND_SYMBOLS.items():
        fig.add_trace(
            go.Scattergeo(
                lat=[None],
                lon=[None],
                mode="markers",
                marker={"symbol": symbol, "color": "#8a8f98", "size": 9},
                name=KIND_LABELS[kind],
                hoverinfo="skip",
            )
        )
    fig.add_trace(_hub_labels(frame, theme))
    _geo(fig, settings, theme, height)
    return fig


def _site_hover(r: dict[str, Any]) -> str:
    pue = "—" if not math.isfinite(r["pue"]) else f"{r['pue']:.3f}"
    target = (
        "—" if r["target_pue"] is None or not math.isfinite(r["target_pue"]) else r["target_pue"]
    )
    hub = f"{r['hub']} hub · " if r["hub"] else ""
    return (
        f"<b>{r['name']}</b><br>{hub}{KIND_LABELS.get(r['kind'], r['kind'])}, {r['region']}"
        f"<br>PUE {pue} (target {target})"
        f" · coverage {r['coverage']:.0%}<br>IT {r['it_power_w'] / 1e6:.1f} MW mean"
        "<br><i>click for the site page</i>"
    )


def _edge_colours(links: pd.DataFrame, mode: str) -> tuple[list[str], dict[str, Any] | None]:
    """Per link a colour (health category), or the marker colour spec of a continuous scale."""
    if mode not in _SCALES:
        return [HEALTH_COLOURS[h] for h in links["health"]], None
    column, lo, hi, scale, _ = _SCALES[mode]
    values = links[column] * (1000.0 if mode == "latency" else 1.0)
    marker = {
        "color": values,
        "colorscale": scale,
        "colorbar": {"thickness": 10, "len": 0.5, "title": {"text": mode}},
    }
    lo_v = lo if lo is not None else float(values.min())
    hi_v = hi if hi is not None else max(float(values.max()), 1e-9)
    marker.update(cmin=lo_v, cmax=hi_v)
    shares = ((values - lo_v) / (hi_v - lo_v if hi_v > lo_v else 1.0)).clip(0, 1).fillna(0)
    shares = (shares * 10).round() / 10  # eleven shades are plenty for lines
    return list(sample_colorscale(scale, list(shares))), marker


def _link_hover(r: dict[str, Any]) -> str:
    def pct(v: float) -> str:
        return "—" if not math.isfinite(v) else f"{v:.1%}"

    lat = r["latency_mean_s"]
    return (
        f"<b>{r['link']}</b> · {r['health']}<br>{r['capacity_bps'] / 1e9:.0f} Gbit/s"
        f" · utilisation {pct(r['utilisation'])}<br>availability {pct(r['availability'])}"
        f" · latency {'—' if not math.isfinite(lat) else f'{lat * 1000:.1f} ms'}"
        f" · loss {pct(r['loss_mean'])}<br><i>click for its history</i>"
    )


def link_figure(
    sites: pd.DataFrame,
    links: pd.DataFrame,
    mode: str,
    theme: str | None,
    height: int,
    *,
    positions: dict[str, tuple[float, float]] | None = None,
    settings: MapSettings | None = None,
    selected: str | None = None,
) -> go.Figure:
    """Links as lines between sites, on the map (``settings``) or in a graph layout
    (``positions``); a clickable marker at each link's middle carries ``link:<id>``."""
    geo = positions is None
    where = (
        {
            s: (lon, lat)
            for s, lon, lat in zip(sites["site"], sites["lon"], sites["lat"], strict=True)
        }
        if geo
        else positions or {}
    )
    colours, scale = _edge_colours(links, mode)
    fig = go.Figure()
    if geo and settings is not None:
        boundary = boundary_trace(settings)
        if boundary is not None:
            fig.add_trace(boundary)
    fig.add_traces(_link_lines(links, colours, where, selected, geo))
    fig.add_trace(_link_markers(links, colours, scale, where, geo))
    fig.add_trace(_site_markers(sites, where, theme, geo))
    if mode == "health":
        fig.add_traces(
            [
                _trace(
                    geo,
                    [None],
                    [None],
                    mode="lines",
                    line={"color": shade, "width": 3},
                    name=f"{health} ({int((links['health'] == health).sum())})",
                )
                for health, shade in HEALTH_COLOURS.items()
            ]
        )
    if geo and settings is not None:
        _geo(fig, settings, theme, height)
    else:
        layout = base_layout(theme, height)
        hidden = {"visible": False, "showgrid": False, "zeroline": False}
        layout.update(
            xaxis=hidden,
            yaxis=hidden,
            hovermode="closest",
            margin={"l": 8, "r": 8, "t": 8, "b": 8},
            legend={"orientation": "h", "y": 0.0, "x": 0.0},
        )
        fig.update_layout(**layout)
    return fig


Where = dict[str, tuple[float, float]]


def _trace(geo: bool, x: list[Any], y: list[Any], **style: Any) -> Any:
    """A scatter trace on the map (lon, lat) or in the graph layout (x, y)."""
    if geo:
        return go.Scattergeo(lon=x, lat=y, **style)
    return go.Scatter(x=x, y=y, **style)


def _link_lines(
    links: pd.DataFrame, colours: list[str], where: Where, selected: str | None, geo: bool
) -> list[Any]:
    """One trace per look (colour, width, dash), segments split by None: a few traces, not
    one per link, keeps the figure quick to build and to draw."""
    looks: dict[tuple[str, float, str], tuple[list[float | None], list[float | None]]] = {}
    for record, shade in zip(records(links), colours, strict=True):
        (x0, y0), (x1, y1) = where[record["a"]], where[record["b"]]
        width = 1.5 + 2.0 * record["capacity_bps"] / 8e11 + (3 if record["link"] == selected else 0)
        dash = "dot" if record["health"] == "down" else "solid"
        line_x, line_y = looks.setdefault((shade, width, dash), ([], []))
        line_x += [x0, x1, None]
        line_y += [y0, y1, None]
    return [
        _trace(
            geo,
            line_x,
            line_y,
            mode="lines",
            line={"color": shade, "width": width, "dash": dash},
            hoverinfo="skip",
            showlegend=False,
        )
        for (shade, width, dash), (line_x, line_y) in looks.items()
    ]


def _link_markers(
    links: pd.DataFrame,
    colours: list[str],
    scale: dict[str, Any] | None,
    where: Where,
    geo: bool,
) -> Any:
    """A clickable marker at each link's middle, carrying ``link:<id>`` and a hover text."""
    mids = [
        ((where[a][0] + where[b][0]) / 2, (where[a][1] + where[b][1]) / 2)
        for a, b in zip(links["a"], links["b"], strict=True)
    ]
    marker: dict[str, Any] = {"size": 11 if geo else 9, "line": {"width": 1, "color": "#1b1f24"}}
    marker.update(scale or {"color": colours})
    return _trace(
        geo,
        [m[0] for m in mids],
        [m[1] for m in mids],
        mode="markers",
        marker=marker,
        customdata=[f"link:{lk}" for lk in links["link"]],
        text=[_link_hover(r) for r in records(links)],
        hoverinfo="text",
        name="links",
        showlegend=False,
    )


def _site_markers(sites: pd.DataFrame, where: Where, theme: str | None, geo: bool) -> Any:
    """The sites the links join, named (in the graph layout) and clickable (``site:<id>``)."""
    return _trace(
        geo,
        [where[s][0] for s in sites["site"]],
        [where[s][1] for s in sites["site"]],
        mode="markers" if geo else "markers+text",
        text=list(sites["site"]),
        textposition="top center",
        textfont={"size": 9, "color": look(theme)["muted"]},
        marker={"size": 7, "color": look(theme)["text"], "symbol": "circle-open"},
        customdata=[f"site:{s}" for s in sites["site"]],
        hovertemplate="%{text}<extra></extra>",
        name="sites",
        showlegend=False,
    )
