"""Panels drawn as charts: one function per panel type, from a panel spec and a view."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from greenwatch.dashboard import _charts, _compute_panels, _data, _links, _maps
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._spec import (
    ComparePanel,
    Panel,
    RankingPanel,
    Threshold,
    TimeseriesPanel,
    TrendPanel,
    WidgetPanel,
)
from greenwatch.dashboard._theme import colour
from greenwatch.dashboard._view import View
from greenwatch.inventory import Level
from greenwatch.metrics import rollup

Render = Callable[[Any, View, Env, str | None], go.Figure]


def resolve_thresholds(
    thresholds: tuple[Threshold, ...], target: float | None
) -> list[_charts.Line]:
    """Threshold lines with ``target`` replaced by the scope's target (dropped when none)."""
    out: list[_charts.Line] = []
    for t in thresholds:
        value = target if t.value == "target" else t.value
        if value is None or not isinstance(value, float | int):
            continue
        label = t.label or ("target" if t.value == "target" else f"{value:g}")
        out.append((float(value), colour(t.colour), f"{label} {value:g}"))
    return out


def _scope(panel_scope: str, view: View) -> tuple[str, str | None]:
    """A panel's scope resolved against its page: ``page`` means the page's own scope."""
    if panel_scope != "page":
        return panel_scope, view.site
    return ("site", view.site) if view.page.scope == "site" else ("national", None)


def trend(panel: TrendPanel, view: View, env: Env, theme: str | None) -> go.Figure:
    scope, site = _scope(panel.scope, view)
    sites = _data.scope_sites(env.inventory, scope, site)
    if not sites:
        return _charts.empty_figure(f"no sites in scope {scope}", theme, panel.height)
    start, end = view.trend_range()
    totals = env.memo(
        ("step-totals", tuple(s.id for s in sites), start, end, view.step, panel.kpis),
        lambda: _data.step_totals(env.store, sites, start, end, view.step, panel.kpis, view.now),
        store_only=True,
    )
    group = None
    if panel.by is not None:
        attr = {s.id: str(getattr(s, panel.by) or "—") for s in sites}
        group = totals["site"].map(attr)
    parts = []
    for kpi in panel.kpis:
        per = _data.ratio_per_step(totals, kpi, group)
        label = _data.TREND_LABELS[kpi]
        per["line"] = per["group"] + " " + label if panel.by else label
        parts.append(per)
    frame = pd.concat(parts, ignore_index=True)
    if frame.empty or frame["value"].notna().sum() == 0:
        return _charts.empty_figure("no energy data for this scope and period", theme, panel.height)
    target = _data.scope_target(sites, scope == "national")
    return _charts.lines_figure(
        frame,
        theme=theme,
        height=panel.height,
        thresholds=resolve_thresholds(panel.thresholds, target),
        percent=panel.kpis == ("ref",),
        hover_extra="coverage",
    )


def timeseries(panel: TimeseriesPanel, view: View, env: Env, theme: str | None) -> go.Figure:
    q = panel.query
    labels: dict[str, str | list[str]] = {
        k: v if isinstance(v, str) else list(v) for k, v in q.labels.items()
    }
    scope, site = _scope("page", view)
    if scope == "site" and site:
        labels["site"] = site
    start, end = view.trend_range()
    frame = _data.metric_lines(
        env.store,
        q.metric,
        start,
        end,
        view.step,
        labels=labels,
        agg=q.agg,
        by=q.by,
        combine=q.combine,
    )
    if frame.empty or frame["value"].notna().sum() == 0:
        return _charts.empty_figure(panel.empty, theme, panel.height)
    value = frame["value"] * q.scale
    if q.rate:
        value = value / view.step.total_seconds()
    frame = frame.assign(value=value)
    target = None
    if scope == "site" and site in env.sites:
        target = env.sites[site].targets.pue
    return _charts.lines_figure(
        frame,
        theme=theme,
        height=panel.height,
        chart=panel.chart,
        unit="" if q.unit == "ratio" else q.unit,
        thresholds=resolve_thresholds(panel.thresholds, target),
        percent=q.unit == "ratio",
        running=None if q.rate else view.running_step,
    )


def compare(panel: ComparePanel, view: View, env: Env, theme: str | None) -> go.Figure:
    frame = env.overview(view)
    kpis = rollup(frame, Level(panel.level), kpis=panel.kpis).kpis
    if kpis["value"].notna().sum() == 0:
        return _charts.empty_figure("no site has data for this period", theme, panel.height)
    return _charts.compare_figure(kpis, panel.kpis, theme, panel.height)


def ranking(panel: RankingPanel, view: View, env: Env, theme: str | None) -> go.Figure:
    frame = env.overview(view)
    if frame["gap"].notna().sum() == 0:
        return _charts.empty_figure("no site has PUE data for this period", theme, panel.height)
    return _charts.ranking_figure(frame, panel.limit, theme, panel.height)


def site_map(panel: WidgetPanel, view: View, env: Env, theme: str | None) -> go.Figure:
    return _maps.site_map(env.overview(view), env.dashboards.settings.map, theme, panel.height)


def _edge_mode(view: View) -> str:
    mode = view.param("edge") or "health"
    return mode if mode in _maps.EDGE_MODES else "health"


def _link_figure(
    panel: WidgetPanel, view: View, env: Env, theme: str | None, *, geo: bool
) -> go.Figure:
    return _maps.link_figure(
        env.overview(view),
        env.link_health(view),
        _edge_mode(view),
        theme,
        panel.height,
        positions=None if geo else env.graph_positions(),
        settings=env.dashboards.settings.map if geo else None,
        selected=view.param("link"),
    )


def link_map(panel: WidgetPanel, view: View, env: Env, theme: str | None) -> go.Figure:
    return _link_figure(panel, view, env, theme, geo=True)


def link_graph(panel: WidgetPanel, view: View, env: Env, theme: str | None) -> go.Figure:
    return _link_figure(panel, view, env, theme, geo=False)


def chosen_link(view: View, env: Env) -> str | None:
    """The link named in the URL, else the one in worst health (then the busiest)."""
    wanted = view.param("link")
    if wanted in env.links:
        return wanted
    health = env.link_health(view)
    if health.empty:
        return None
    order = {h: k for k, h in enumerate(_links.HEALTH_COLOURS)}
    ranked = health.assign(rank=health["health"].map(order)).sort_values(
        ["rank", "utilisation"], ascending=[True, False]
    )
    return str(ranked["link"].iloc[0])


def link_history(panel: WidgetPanel, view: View, env: Env, theme: str | None) -> go.Figure:
    link_id = chosen_link(view, env)
    if link_id is None:
        return _charts.empty_figure("no links in the inventory", theme, panel.height)
    link = env.links[link_id]
    start, end = view.trend_range()
    history = _links.link_history(env.store, link, start, end, view.step)
    if history.empty:
        return _charts.empty_figure(f"no data for link {link_id}", theme, panel.height)
    how = "" if view.param("link") else " (worst health; click a link to choose)"
    title = f"{link_id}: {link.capacity_bps / 1e9:.0f} Gbit/s{how}"
    return _charts.link_history_figure(history, title, theme, panel.height)


def power_breakdown(panel: WidgetPanel, view: View, env: Env, theme: str | None) -> go.Figure:
    site = env.sites.get(view.site or "")
    if site is None:
        return _charts.empty_figure("choose a site", theme, panel.height)
    start, end = view.trend_range()
    power = _data.site_power(env.store, site, start, end, view.step)
    if power.empty:
        return _charts.empty_figure("no energy meters reported at this site", theme, panel.height)
    running = view.running_step
    if running is not None:
        # The running hour as one step of the minutes so far: its mean power, not the hour's
        # energy so far spread over a whole hour (a cliff that reads as an outage).
        so_far = _data.site_power(
            env.store, site, running, view.now, view.now - running, over_covered=True
        )
        power = pd.concat([power[power["ts"] < running], so_far], ignore_index=True)
    return _charts.power_figure(power, theme, panel.height, running)


RENDERERS: dict[str, Render] = {
    "trend": trend,
    "timeseries": timeseries,
    "compare": compare,
    "ranking": ranking,
    "site_map": site_map,
    "link_map": link_map,
    "link_graph": link_graph,
    "link_history": link_history,
    "power_breakdown": power_breakdown,
    "compute_chart": _compute_panels.compute_chart,
}


def render_graph(panel: Panel, view: View, env: Env, theme: str | None) -> go.Figure:
    """The figure of a chart panel."""
    return RENDERERS[panel.type](panel, view, env, theme)
