"""The Dash operations dashboard: national map, national PUE with coverage, per-site table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, dcc, html

from greenwatch.dashboard._theme import STATUS_COLOURS, pue_status
from greenwatch.inventory import Inventory
from greenwatch.metrics import rollup
from greenwatch.query import site_totals
from greenwatch.store import Store

ASSETS = Path(__file__).parent / "assets"
PERIODS: dict[str, pd.Timedelta] = {
    "24h": pd.Timedelta(hours=24),
    "7d": pd.Timedelta(days=7),
    "30d": pd.Timedelta(days=30),
}
GRAPH_CONFIG: Any = {"topojsonURL": "assets/topojson/", "displaylogo": False}
Clock = Callable[[], pd.Timestamp]


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _tile(title: str, value: str, note: str, ident: str) -> html.Div:
    return html.Div(
        [
            html.Div(title, className="tile-title"),
            html.Div(value, id=ident, className="tile-value"),
            html.Div(note, id=f"{ident}-note", className="tile-note"),
        ],
        className="tile",
    )


def site_overview(totals: pd.DataFrame, span: pd.Timedelta) -> pd.DataFrame:
    """Per-site totals plus the map's columns: PUE, its coverage and mean IT power."""
    return totals.assign(
        pue=totals["facility_j"] / totals["it_j"].where(totals["it_j"] > 0),
        coverage=totals[["facility_coverage", "it_coverage"]].min(axis=1),
        it_power_w=totals["it_j"] / span.total_seconds(),
        category=totals["pue_category"],
    )


def national_map(overview: pd.DataFrame) -> go.Figure:
    """Sites on a map of China, coloured by PUE against target and sized by IT power."""
    fig = go.Figure()
    frame = overview.assign(
        status=[
            pue_status(p, t, c)
            for p, t, c in zip(
                overview["pue"], overview["target_pue"], overview["coverage"], strict=True
            )
        ]
    )
    peak = max(float(frame["it_power_w"].fillna(0).max()), 1.0)
    for status, colour in STATUS_COLOURS.items():
        part = frame[frame["status"] == status]
        if part.empty:
            continue
        fig.add_trace(
            go.Scattergeo(
                lat=part["lat"],
                lon=part["lon"],
                name=f"{status} ({len(part)})",
                text=[
                    f"<b>{n}</b><br>PUE {p:.3f} (target {t if t is not None else '—'})"
                    f"<br>coverage {c:.0%}<br>IT {w / 1e6:.1f} MW"
                    for n, p, t, c, w in zip(
                        part["name"],
                        part["pue"],
                        part["target_pue"],
                        part["coverage"],
                        part["it_power_w"].fillna(0),
                        strict=True,
                    )
                ],
                hoverinfo="text",
                customdata=part["site"],
                marker={
                    "color": colour,
                    "size": 8 + 22 * (part["it_power_w"].fillna(0) / peak) ** 0.5,
                    "line": {"width": 1, "color": "#1b1f24"},
                },
                mode="markers",
            )
        )
    fig.update_geos(
        scope="asia",
        resolution=50,
        projection_type="mercator",
        lataxis_range=[17, 54],
        lonaxis_range=[73, 135],
        showcoastlines=True,
        coastlinecolor="#6b7280",
        showland=True,
        landcolor="#eef1f4",
        showocean=True,
        oceancolor="#dbe7f3",
        showcountries=False,
        showlakes=False,
    )
    fig.update_layout(
        margin={"l": 0, "r": 0, "t": 0, "b": 0},
        legend={"orientation": "h", "y": 0.02, "x": 0.01, "bgcolor": "rgba(255,255,255,0.7)"},
        height=620,
    )
    return fig


def site_table(overview: pd.DataFrame) -> html.Table:
    """Per-site rows, worst PUE against target first."""
    frame = overview.assign(gap=overview["pue"] - overview["target_pue"].astype("float64"))
    frame = frame.sort_values("gap", ascending=False, na_position="last")
    head = html.Tr(
        [html.Th(h) for h in ("site", "kind", "hub", "PUE", "target", "cat.", "coverage", "IT MW")]
    )
    records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
    body = [
        html.Tr(
            [
                html.Td(r["name"]),
                html.Td(r["kind"]),
                html.Td(r["hub"] or "—"),
                html.Td(
                    f"{r['pue']:.3f}",
                    style={
                        "color": STATUS_COLOURS[
                            pue_status(r["pue"], r["target_pue"], r["coverage"])
                        ]
                    },
                ),
                html.Td("—" if r["target_pue"] is None else f"{r['target_pue']:.2f}"),
                html.Td(str(r["category"])),
                html.Td(f"{r['coverage']:.0%}"),
                html.Td(f"{r['it_power_w'] / 1e6:.1f}"),
            ],
            className="site-row",
        )
        for r in records
    ]
    return html.Table([html.Thead(head), html.Tbody(body)], className="site-table")


def create_app(
    store: Store,
    inventory: Inventory,
    *,
    clock: Clock = _now,
    server: Any = True,
    refresh_s: float = 15.0,
) -> dash.Dash:
    """The Dash app; ``server`` is a Flask app to mount on (or True for a new one)."""
    app = dash.Dash(
        __name__,
        server=server,
        assets_folder=str(ASSETS),
        title="greenwatch — national computing network",
        serve_locally=True,
    )
    app.layout = html.Div(
        [
            html.Header(
                [
                    html.H1("greenwatch"),
                    html.Span("national computing-power network — live efficiency"),
                ],
                className="top",
            ),
            dcc.RadioItems(
                id="period",
                options=[{"label": f"last {k}", "value": k} for k in PERIODS],
                value="24h",
                inline=True,
                className="period",
            ),
            html.Div(
                [
                    _tile("National PUE", "…", "", "tile-pue"),
                    _tile("IT energy", "…", "", "tile-it"),
                    _tile("Facility energy", "…", "", "tile-facility"),
                    _tile("Sites reporting", "…", "", "tile-sites"),
                ],
                className="tiles",
            ),
            html.Div(
                [
                    dcc.Graph(id="national-map", config=GRAPH_CONFIG, className="map"),
                    html.Div(id="site-table", className="table-scroll"),
                ],
                className="overview",
            ),
            dcc.Interval(id="refresh", interval=int(refresh_s * 1000)),
        ],
        className="page",
    )

    @app.callback(
        Output("national-map", "figure"),
        Output("tile-pue", "children"),
        Output("tile-pue-note", "children"),
        Output("tile-it", "children"),
        Output("tile-facility", "children"),
        Output("tile-sites", "children"),
        Output("site-table", "children"),
        Input("period", "value"),
        Input("refresh", "n_intervals"),
    )
    def _refresh(period: str, _tick: int | None) -> tuple[Any, ...]:
        end = clock().floor("min")
        span = PERIODS[period]
        overview = site_overview(site_totals(store, inventory, end - span, end), span)
        kpis = rollup(overview, "national").kpis
        national: dict[str, Any] = kpis[kpis["kpi"] == "pue"].iloc[0].to_dict()  # type: ignore[assignment]
        return (
            national_map(overview),
            f"{national['value']:.3f}",
            f"ratio of summed energies · coverage {national['coverage']:.0%} · "
            f"{national['excluded']} sites excluded · target < 1.5",
            f"{national['denominator'] / 3.6e9:,.0f} MWh",
            f"{national['numerator'] / 3.6e9:,.0f} MWh",
            f"{national['sites']} / {len(inventory.sites)}",
            site_table(overview),
        )

    return app
