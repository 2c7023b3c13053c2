"""Charts of the panels: trends, time series, group comparisons, rankings, power, link history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from greenwatch.dashboard._theme import LINES, REGION_COLOURS, STATUS_COLOURS, base_layout, look

Line = tuple[float, str, str]  # value, colour, label

POWER_COLOURS = {
    "IT equipment": "#0072B2",
    "power distribution losses": "#56B4E9",
    "cooling": "#009E73",
    "UPS losses and other": "#CC79A7",
}


def empty_figure(message: str, theme: str | None, height: int) -> go.Figure:
    """A blank chart that says why it is blank."""
    fig = go.Figure()
    layout = base_layout(theme, min(height, 160))
    layout.update(
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[
            {
                "text": message,
                "showarrow": False,
                "font": {"size": 14, "color": look(theme)["muted"]},
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
            }
        ],
    )
    fig.update_layout(**layout)
    return fig


def _thresholds(fig: go.Figure, lines: Sequence[Line], **where: Any) -> None:
    for value, shade, label in lines:
        fig.add_hline(
            y=value,
            line={"color": shade, "dash": "dash", "width": 1.5},
            annotation={"text": label, "font": {"color": shade, "size": 11}},
            annotation_position="top left",
            **where,
        )


def lines_figure(
    frame: pd.DataFrame,
    *,
    theme: str | None,
    height: int,
    chart: str = "line",
    unit: str = "",
    thresholds: Sequence[Line] = (),
    percent: bool = False,
    hover_extra: str | None = None,
    running: pd.Timestamp | None = None,
) -> go.Figure:
    """One trace per ``line`` of a long frame (ts, line, value[, coverage, sites]); in a line
    chart the ``running`` step (a mean over its minutes so far) is a dotted segment."""
    fig = go.Figure()
    for k, (name, whole_part) in enumerate(frame.groupby("line", sort=False)):
        shade = LINES[k % len(LINES)]
        part, partial = _split_running(whole_part, running if chart == "line" else None)
        if not partial.empty:
            fig.add_trace(
                go.Scatter(
                    x=partial["ts"],
                    y=partial["value"],
                    name=f"{name}{PARTIAL}",
                    mode="lines",
                    showlegend=False,
                    line={"color": shade, "width": 1.8, "dash": "dot"},
                    hovertemplate=f"{name}{PARTIAL}: %{{y:.4~g}}<extra></extra>",
                )
            )
        custom = None
        template = f"{name}: %{{y:{'.1%' if percent else '.4~g'}}}{(' ' + unit) if unit else ''}"
        if hover_extra and {"coverage", "sites"} <= set(part.columns):
            custom = part[["coverage", "sites"]].to_numpy()
            template += " · coverage %{customdata[0]:.0%} · %{customdata[1]} sites"
        common: dict[str, Any] = {
            "x": part["ts"],
            "y": part["value"],
            "name": str(name),
            "customdata": custom,
            "hovertemplate": template + "<extra></extra>",
        }
        if chart == "bar":
            fig.add_trace(go.Bar(marker={"color": shade}, **common))
        else:
            fill: dict[str, Any] = {}
            if chart == "stacked":
                fill = {"stackgroup": "one"}
            elif chart == "area":
                fill = {"fill": "tozeroy"}
            fig.add_trace(
                go.Scatter(mode="lines", line={"color": shade, "width": 1.8}, **fill, **common)
            )
    _thresholds(fig, thresholds)
    layout = base_layout(theme, height)
    layout["yaxis"].update(title={"text": unit}, tickformat=".0%" if percent else None)
    if chart == "bar":
        layout["barmode"] = "stack"
    fig.update_layout(**layout)
    return fig


def compare_figure(
    kpis: pd.DataFrame, names: Sequence[str], theme: str | None, height: int
) -> go.Figure:
    """Small multiples: per KPI a bar per group (``rollup`` rows), with coverage in hover."""
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[n.upper() for n in names])
    for col, name in enumerate(names, start=1):
        part = kpis[kpis["kpi"] == name]
        percent = name in {"ref", "erf"}
        fig.add_trace(
            go.Bar(
                x=part["group"],
                y=part["value"],
                marker={
                    "color": [
                        REGION_COLOURS.get(g, LINES[i % len(LINES)])
                        for i, g in enumerate(part["group"])
                    ]
                },
                text=[f"{v:.1%}" if percent else f"{v:.3g}" for v in part["value"]],
                textposition="auto",
                customdata=part[["coverage", "sites", "excluded"]].to_numpy(),
                hovertemplate="%{x}: %{y:.4g} · coverage %{customdata[0]:.0%} · "
                "%{customdata[1]} sites (%{customdata[2]} excluded)<extra></extra>",
                showlegend=False,
            ),
            row=1,
            col=col,
        )
        if name == "pue" and len(part):
            low = float(part["value"].min())
            fig.update_yaxes(
                range=[max(1.0, low - 0.1), float(part["value"].max()) + 0.05], row=1, col=col
            )
        if percent:
            fig.update_yaxes(tickformat=".0%", row=1, col=col)
    layout = base_layout(theme, height)
    layout.pop("xaxis")
    layout.pop("yaxis")
    layout.update(hovermode="closest", margin={"l": 40, "r": 10, "t": 30, "b": 30})
    fig.update_layout(**layout)
    fig.update_xaxes(gridcolor=look(theme)["grid"])
    fig.update_yaxes(gridcolor=look(theme)["grid"])
    for annotation in fig.layout.annotations:
        annotation.font = {"size": 12, "color": look(theme)["muted"]}
    return fig


def ranking_figure(frame: pd.DataFrame, limit: int, theme: str | None, height: int) -> go.Figure:
    """The sites furthest above their PUE target (gap = PUE - target), worst on top."""
    ranked = frame.dropna(subset=["gap"]).sort_values("gap", ascending=False).head(limit)
    ranked = ranked.iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=ranked["gap"],
            y=ranked["site"],
            orientation="h",
            marker={"color": [STATUS_COLOURS[s] for s in ranked["status"]]},
            text=[
                f"PUE {p:.3f} / {t:.2f}"
                for p, t in zip(ranked["pue"], ranked["target_pue"], strict=True)
            ],
            textposition="inside",
            insidetextanchor="start",
            customdata=[f"site:{s}" for s in ranked["site"]],
            hovertext=list(ranked["name"]),
            hovertemplate="%{hovertext}: %{x:+.3f} vs target<br><i>click for the site page</i>"
            "<extra></extra>",
        )
    )
    layout = base_layout(theme, height)
    layout.update(hovermode="closest", margin={"l": 8, "r": 16, "t": 8, "b": 40})
    layout["xaxis"].update(title={"text": "PUE above its target"}, zeroline=True)
    layout["yaxis"].update(automargin=True)
    fig.update_layout(**layout)
    return fig


# The running step (the current hour, live views) holds only the minutes so far: its value is
# a mean over those minutes, drawn as a dotted segment named so, never as a full-hour point.
PARTIAL = " (running hour, partial)"


def _translucent(shade: str, alpha: float = 0.3) -> str:
    red, green, blue = (int(shade[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def _split_running(
    frame: pd.DataFrame, running: pd.Timestamp | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows of whole steps, and the running step with the last whole step before it (the
    dotted segment); no segment when there is no running step in ``frame``."""
    if running is None or not (frame["ts"] >= running).any():
        return frame, frame.iloc[0:0]
    whole = frame[frame["ts"] < running]
    return whole, pd.concat([whole.tail(1), frame[frame["ts"] >= running]])


def power_figure(
    power: pd.DataFrame, theme: str | None, height: int, running: pd.Timestamp | None = None
) -> go.Figure:
    """Stacked mean power per step (MW) of the power chain, facility and renewables as lines;
    the ``running`` step, a mean over its minutes so far, dotted and lighter."""
    fig = go.Figure()
    whole, partial = _split_running(power, running)
    parts = ((whole, ""), (partial, PARTIAL))

    def trace(part: pd.DataFrame, name: str, suffix: str, **style: Any) -> None:
        if part.empty:
            return
        fig.add_trace(
            go.Scatter(
                x=part["ts"],
                y=part[name] / 1e6,
                name=name + suffix,
                mode="lines",
                showlegend=not suffix,
                hovertemplate=f"{name}{suffix}: %{{y:.2f}} MW<extra></extra>",
                **style,
            )
        )

    for name, shade in POWER_COLOURS.items():
        for part, suffix in parts:
            running_style = {"line_dash": "dot", "fillcolor": _translucent(shade)}
            trace(
                part,
                name,
                suffix,
                stackgroup="running" if suffix else "power",
                line={"width": 1.2 if suffix else 0.5, "color": shade},
                **(running_style if suffix else {}),
            )
    for name, shade, dash in (
        ("facility", look(theme)["text"], "dash"),
        ("on-site renewables", "#E69F00", "solid"),
    ):
        if power[name].notna().any():
            for part, suffix in parts:
                line = {"width": 1.8, "color": shade, "dash": "dot" if suffix else dash}
                trace(part, name, suffix, line=line)
    layout = base_layout(theme, height)
    layout["yaxis"].update(title={"text": "mean power, MW"})
    fig.update_layout(**layout)
    return fig


def link_history_figure(
    history: pd.DataFrame, title: str, theme: str | None, height: int
) -> go.Figure:
    """Utilisation, latency and loss/availability of one link per step, on a shared time axis."""
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=["utilisation (busier direction)", "latency", "availability and loss"],
    )
    ts = history["ts"]

    def add(y: pd.Series, name: str, row: int, shade: str, fmt: str, **extra: Any) -> None:
        fig.add_trace(
            go.Scatter(
                x=ts,
                y=y,
                name=name,
                mode="lines",
                line={"color": shade, "width": 1.6},
                hovertemplate=f"{name}: %{{y:{fmt}}}<extra></extra>",
                **extra,
            ),
            row=row,
            col=1,
        )

    add(history["utilisation"], "utilisation", 1, LINES[0], ".1%", fill="tozeroy")
    add(history["latency_mean_s"] * 1000, "latency mean (ms)", 2, LINES[1], ".2f")
    add(history["latency_max_s"] * 1000, "latency max (ms)", 2, LINES[5], ".2f")
    add(history["availability"], "availability", 3, LINES[2], ".2%")
    add(history["loss_mean"], "loss", 3, "#d64545", ".2%")
    fig.update_yaxes(tickformat=".0%", row=1, col=1)
    fig.update_yaxes(title={"text": "ms"}, row=2, col=1)
    fig.update_yaxes(tickformat=".1%", row=3, col=1)
    layout = base_layout(theme, height)
    layout.pop("xaxis")
    layout.pop("yaxis")
    layout.update(
        margin={"l": 48, "r": 12, "t": 40, "b": 30}, title={"text": title, "font": {"size": 13}}
    )
    fig.update_layout(**layout)
    fig.update_xaxes(gridcolor=look(theme)["grid"])
    fig.update_yaxes(gridcolor=look(theme)["grid"])
    for annotation in fig.layout.annotations:
        annotation.font = {"size": 11, "color": look(theme)["muted"]}
    return fig


def fmt(value: float, unit: str = "", decimals: int = 3) -> str:
    """A number for a tile or table; ``—`` when unknown."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:,.{decimals}f}{(' ' + unit) if unit else ''}"
