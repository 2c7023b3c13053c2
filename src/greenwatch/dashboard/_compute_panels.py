"""Computing-power panels: figure tiles and the rated vs available chart, and the formatting and
scoping the computing tables (``_compute_tables``) share.

Every figure is read from :class:`greenwatch.query.ComputeFigures` (definitions in
``greenwatch.metrics``), computed once per period and shared by the page's panels
(:meth:`Env.compute_figures`). Classes are never added together (AI is counted in FP16,
general and supercomputing in FP64), so every figure names its class and precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import html
from plotly.subplots import make_subplots

from greenwatch.dashboard._charts import empty_figure
from greenwatch.dashboard._data import records
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._spec import ComputeChartPanel, ComputeStatPanel
from greenwatch.dashboard._tables import num
from greenwatch.dashboard._theme import base_layout, look
from greenwatch.dashboard._view import View
from greenwatch.inventory import CLASS_PRECISION, ComputeClass, Level, Scope
from greenwatch.metrics import PFLOP
from greenwatch.query import ComputeFigures

FLOPS_UNITS = ((1e18, "EFLOPS"), (PFLOP, "PFLOPS"), (1e12, "TFLOPS"), (1e9, "GFLOPS"))
NO_HUB = "outside hubs"
DEFINITIONS = {
    "rated": "devices x per-device dense peak at the class's precision, pools in service",
    "available": "rated x share of registered devices the collectors see (0 if verification "
    "failed)",
    "delivered": "mean delivered FLOPS: rated x mean utilisation over the period",
    "free": "available x (1 - current utilisation)",
    "flops_per_watt": "delivered FLOPS per watt of facility power (ISO/IEC 30134-2 total), "
    "shared among pools by rated device power",
    "kwh_per_pflop_hour": "facility kWh attributed to the class / delivered PFLOP-hours",
    "kg_co2_per_pflop_hour": "location-based CO2 of that facility energy / delivered PFLOP-hours",
    "west_share": "share of the nation's rated FLOPS of the class located in the west region",
}


def class_label(name: str) -> str:
    """``ai`` -> ``AI (FP16)``: a class with the precision it is counted in."""
    precision = CLASS_PRECISION[ComputeClass(name)].value.upper()
    return f"{'AI' if name == 'ai' else name} ({precision})"


def significant(value: float) -> str:
    """Three significant figures, thousands separated (120, 59.0, 4.07); ``—`` when unknown."""
    if not math.isfinite(value):
        return "—"
    size = abs(value)
    return f"{value:,.0f}" if size >= 100 else f"{value:.1f}" if size >= 10 else f"{value:.2f}"


def flops_unit(value: float) -> tuple[float, str]:
    """The scale and unit a FLOPS figure reads best in: the largest that keeps it >= 1."""
    return next(((s, u) for s, u in FLOPS_UNITS if abs(value) >= s), FLOPS_UNITS[-1])


def flops_parts(value: float) -> tuple[str, str]:
    """``1.2e20`` -> (``120``, ``EFLOPS``); (``—``, ``""``) when unknown."""
    if not math.isfinite(value):
        return "—", ""
    if value == 0:
        return "0", "FLOPS"
    scale, unit = flops_unit(value)
    return significant(value / scale), unit


def flops_text(value: Any) -> str:
    """``1.2e20`` -> ``120 EFLOPS``; ``—`` when unknown."""
    number, unit = flops_parts(float(value) if value is not None else math.nan)
    return f"{number} {unit}".strip()


def age_text(seconds: float) -> str:
    """How long ago, in days, hours or minutes."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} d"
    return f"{seconds / 3600:.0f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def scope_key(scope: str, view: View) -> tuple[Level, str]:
    """(level, key) of a panel's scope; ``page`` is the page's site, else the nation."""
    if scope == "page":
        scope = "site" if view.page.scope == "site" else "national"
    if scope == "site":
        return Level.SITE, view.site or ""
    parsed = Scope.parse_syntax(scope)
    return parsed.level, parsed.key


def _one(frame: pd.DataFrame, key: str, cls: str) -> dict[str, Any] | None:
    hit = frame[(frame["key"] == key) & (frame["class"] == cls)]
    return records(hit)[0] if len(hit) else None


def free_power(figures: ComputeFigures, level: Level) -> pd.DataFrame:
    """Free FLOPS per ``level`` key and class; coverage weighted by available FLOPS."""
    free = figures.free
    if level is Level.NATIONAL:
        keys = pd.Series("national", index=free.index, dtype=object)
    else:
        where = figures.status.drop_duplicates("site").set_index("site")[level.value]
        keys = free["site"].map(where).fillna("").astype(str)
    frame = free.assign(key=keys, known=free["coverage"].fillna(0.0) * free["available_flops"])
    sums = frame.groupby(["key", "class"], sort=True)[["available_flops", "free_flops", "known"]]
    out = sums.sum()
    out["coverage"] = out["known"] / out["available_flops"].where(out["available_flops"] > 0)
    return out.drop(columns=["known"]).reset_index()


@dataclass(frozen=True)
class Tile:
    """A figure as shown: number, unit, coverage (named ``covered``) and a note."""

    number: str
    unit: str
    coverage: float
    covered: str
    note: str


def percent(value: Any) -> str:
    """A share as a whole percentage; ``—`` when unknown."""
    return num(value, ".0%")


def _capacity_tile(kind: str, row: dict[str, Any]) -> Tile:
    number, unit = flops_parts(float(row[f"{kind}_flops"]))
    note = (
        f"verified {percent(row['verified_share'])} · {int(row['devices']):,} devices in "
        f"{int(row['pools'])} pools"
    )
    return Tile(number, unit, float(row["identified_share"]), "identified", note)


def _efficiency_tile(kind: str, row: dict[str, Any]) -> Tile:
    coverage = float(row["coverage"])
    if kind == "delivered":
        number, unit = flops_parts(float(row["delivered_flops"]))
        note = (
            f"utilisation {percent(row['utilisation'])} · "
            f"{num(row['delivered_pflop_hours'], ',.0f')} PFLOP-h"
        )
        return Tile(number, unit, coverage, "coverage", note)
    if kind == "flops_per_watt":
        note = f"{significant(row['rated_flops_per_watt'] / 1e9)} GFLOPS/W at full load"
        return Tile(
            significant(row["flops_per_watt"] / 1e9), "GFLOPS/W", coverage, "coverage", note
        )
    if kind == "kwh_per_pflop_hour":
        note = f"{num(row['energy_kwh'] / 1e3, ',.0f')} MWh facility energy"
        return Tile(significant(row[kind]), "kWh/PFLOP-h", coverage, "coverage", note)
    note = f"{num(row['co2_kg'] / 1e3, ',.0f')} tCO2, location-based"
    return Tile(significant(row[kind]), "kgCO2/PFLOP-h", coverage, "coverage", note)


def stat_tile(
    figure: str, cls: str, figures: ComputeFigures, level: Level, key: str
) -> Tile | None:
    """The tile of ``figure`` for a class and scope; None when the scope has no such pools."""
    if figure == "west_share":
        share = figures.share("west").set_index("class")
        nation = _one(figures.power(Level.NATIONAL), "national", cls)
        if cls not in share.index or nation is None:
            return None
        rated, available = share.loc[cls, "rated_share"], share.loc[cls, "available_share"]
        return Tile(
            percent(rated),
            "",
            float(nation["identified_share"]),
            "identified",
            f"of the nation's rated, {percent(available)} of available",
        )
    if figure in {"rated", "available"}:
        row = _one(figures.power(level), key, cls)
        return None if row is None else _capacity_tile(figure, row)
    if figure == "free":
        row = _one(free_power(figures, level), key, cls)
        if row is None:
            return None
        number, unit = flops_parts(float(row["free_flops"]))
        note = f"of {flops_text(row['available_flops'])} available, now"
        return Tile(number, unit, float(row["coverage"]), "coverage", note)
    row = _one(figures.efficiency(level), key, cls)
    return None if row is None else _efficiency_tile(figure, row)


def compute_stat(panel: ComputeStatPanel, view: View, env: Env, _search: str) -> list[html.Div]:
    """One figure of a class for the panel's scope, with its coverage, as a tile's children."""
    level, key = scope_key(panel.scope, view)
    tile = stat_tile(panel.figure, panel.compute_class, env.compute_figures(view), level, key)
    if tile is None:
        where = "the nation" if level is Level.NATIONAL else f"{level} {key or '—'}"
        return [
            html.Div("—", className="tile-value"),
            html.Div(f"no {panel.compute_class} pools in {where}", className="tile-note"),
        ]
    precision = CLASS_PRECISION[ComputeClass(panel.compute_class)].value.upper()
    low = not math.isfinite(tile.coverage) or tile.coverage < 0.95
    return [
        html.Div(
            [tile.number, html.Span(f" {tile.unit}" if tile.unit else "", className="tile-unit")],
            className="tile-value",
            title=DEFINITIONS[panel.figure],
        ),
        html.Div(
            [
                html.Span(
                    f"{tile.covered} {percent(tile.coverage)}",
                    className="coverage" + (" coverage-low" if low else ""),
                ),
                f" · {precision} · {tile.note}",
            ],
            className="tile-note",
        ),
    ]


def compute_chart(panel: ComputeChartPanel, view: View, env: Env, theme: str | None) -> go.Figure:
    """Rated vs available FLOPS per group, one chart per class in its own unit."""
    figures = env.compute_figures(view)
    power = figures.power(Level(panel.level))
    power = power[power["class"].isin(panel.classes) & (power["rated_flops"] > 0)]
    classes = [c for c in panel.classes if c in set(power["class"])]
    if not classes:
        return empty_figure("no computing pools in service", theme, panel.height)
    parts = {
        c: power[power["class"] == c].sort_values("rated_flops", ascending=False) for c in classes
    }
    units = {c: flops_unit(float(parts[c]["rated_flops"].max())) for c in classes}
    fig = make_subplots(
        rows=1,
        cols=len(classes),
        horizontal_spacing=0.06,
        subplot_titles=[f"{class_label(c)}, {units[c][1]}" for c in classes],
    )
    for col, cls in enumerate(classes, start=1):
        part, (scale, unit) = parts[cls], units[cls]
        names = [k or NO_HUB for k in part["key"]]
        custom = [f"site:{k}" if panel.level == "site" else "" for k in part["key"]]
        for kind, shade in (("rated", "#56B4E9"), ("available", "#0072B2")):
            fig.add_trace(
                go.Bar(
                    x=names,
                    y=part[f"{kind}_flops"] / scale,
                    name=kind,
                    legendgroup=kind,
                    showlegend=col == 1,
                    marker={"color": shade},
                    customdata=custom,
                    hovertemplate=f"%{{x}}: {kind} %{{y:.3g}} {unit}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    layout = base_layout(theme, panel.height)
    layout.pop("xaxis")
    layout.pop("yaxis")
    layout.update(
        hovermode="closest",
        barmode="group",
        margin={"l": 40, "r": 10, "t": 48, "b": 30},
        # Above the first chart, left of its title: below, it would cover the hub names.
        legend={
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 1.08,
            "yanchor": "bottom",
            "bgcolor": "rgba(0,0,0,0)",
        },
    )
    fig.update_layout(**layout)
    fig.update_xaxes(gridcolor=look(theme)["grid"], tickangle=-35)
    fig.update_yaxes(gridcolor=look(theme)["grid"])
    for annotation in fig.layout.annotations:
        annotation.font = {"size": 12, "color": look(theme)["muted"]}
    return fig
