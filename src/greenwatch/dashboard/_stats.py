"""Stat tiles: one KPI for a scope over the view's period, with its coverage.

Figures come from :func:`greenwatch.query.kpi_answer`, the same answer the CLI and
``GET /api/v1/kpi`` give, so a tile and the API never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dash import html

from greenwatch.dashboard import _data
from greenwatch.dashboard._env import Env
from greenwatch.dashboard._spec import StatPanel
from greenwatch.dashboard._theme import NAMED, colour
from greenwatch.dashboard._view import View
from greenwatch.inventory import Level, Site
from greenwatch.model import GreenwatchError, SystemFailureError
from greenwatch.query import Scope, kpi_answer

# kpi -> (query KPI, display unit, scale, decimals, percent)
_SHOW: dict[str, tuple[str, str, float, int, bool]] = {
    "pue": ("pue", "", 1.0, 3, False),
    "dcie": ("dcie", "", 1.0, 1, True),
    "ppue": ("ppue", "", 1.0, 3, False),
    "wue": ("wue", "L/kWh", 1.0, 2, False),
    "cue": ("cue", "kgCO2/kWh", 1.0, 3, False),
    "ref": ("ref", "", 1.0, 1, True),
    "green_share": ("ref", "", 1.0, 1, True),
    "erf": ("erf", "", 1.0, 1, True),
    "ere": ("ere", "", 1.0, 3, False),
    "carbon": ("carbon", "tCO2", 1e-3, 0, False),
    "it_energy": ("it_energy", "MWh", 1e-3, 0, False),
    "occupancy": ("occupancy", "", 1.0, 1, True),
}


@dataclass(frozen=True)
class Figure:
    value: float
    coverage: float
    note: str
    definition: str
    target: float | None


def _scope(panel: StatPanel, view: View, env: Env) -> Scope:
    if panel.scope == "page":
        if view.page.scope == "site" and view.site:
            return Scope(Level.SITE, view.site)
        return Scope(Level.NATIONAL)
    if panel.scope == "site" and view.site:
        return Scope(Level.SITE, view.site)
    return Scope.parse(panel.scope, env.inventory)


def _target(kpi: str, sites: list[Site], scope: Scope) -> float | None:
    if kpi == "pue":
        return _data.scope_target(sites, scope.level == "national")
    attr = {"green_share": "green_energy_share", "ref": "green_energy_share"}.get(kpi, kpi)
    if attr not in {"green_energy_share", "occupancy"}:
        return None
    values = {getattr(s.targets, attr) for s in sites}
    return values.pop() if len(values) == 1 else None


def figure(panel: StatPanel, view: View, env: Env) -> Figure:
    """The tile's figure; raises :class:`GreenwatchError` for a scope the KPI does not have."""
    scope = _scope(panel, view, env)
    sites = scope.sites(env.inventory)
    target = _target(panel.kpi, sites, scope)
    if panel.kpi == "occupancy":
        value, coverage = env.memo(
            ("occupancy", str(scope), view.start, view.end),
            lambda: _data.occupancy(env.store, sites, view.start, view.end),
        )
        note = f"capacity-weighted, {len(sites)} sites"
        return Figure(value, coverage, note, "time-mean it_capacity utilisation", target)
    name = _SHOW[panel.kpi][0]
    answers = env.memo(
        ("kpi", name, str(scope), view.start, view.end),
        lambda: kpi_answer(env.store, env.inventory, name, scope, view.start, view.end),
    )
    answer = answers[0] if panel.basis == "location" or len(answers) == 1 else answers[1]
    excluded = f" · {len(answer.excluded)} excluded" if answer.excluded else ""
    sites_note = ""
    if scope.level is not Level.SITE:
        sites_note = (
            f" · {answer.sites} of {answer.expected_sites} sites, "
            f"{answer.capacity_share:.0%} of IT capacity{excluded}"
        )
        if not answer.published:
            sites_note += " · partial scope, no verdict"
    note = f"{answer.label}{sites_note}"
    # The tooltip says what the figure rests on: its definition and where its energy came from.
    source = f"; energy from {answer.provenance}" if answer.provenance else "; no energy data"
    return Figure(answer.value, answer.coverage, note, answer.definition + source, target)


def tile_colour(panel: StatPanel, value: float, target: float | None) -> str:
    """The colour of the value: the worst threshold it crosses, green when none."""
    if not math.isfinite(value):
        return NAMED["muted"]
    crossed = []
    for t in panel.thresholds:
        limit = target if t.value == "target" else t.value
        if limit is None or not isinstance(limit, float | int):
            continue
        if (panel.better == "lower" and value > limit) or (
            panel.better == "higher" and value < limit
        ):
            crossed.append((limit, t.colour))
    if not crossed:
        return NAMED["ok"] if panel.thresholds else "inherit"
    crossed.sort(reverse=panel.better == "lower")
    return colour(crossed[0][1])


def render_stat(panel: StatPanel, view: View, env: Env) -> list[html.Div]:
    """Value, unit, coverage and target of one KPI, as the children of a tile."""
    try:
        fig = figure(panel, view, env)
    except SystemFailureError:
        raise
    except GreenwatchError as exc:
        return [html.Div("—", className="tile-value"), html.Div(str(exc), className="tile-note")]
    _, unit, scale, decimals, percent = _SHOW[panel.kpi]
    value = fig.value * scale
    if not math.isfinite(value):
        shown = "—"
    elif percent:
        shown = f"{value:.{decimals}%}"
    else:
        shown = f"{value:,.{decimals}f}"
    target = ""
    if fig.target is not None:
        target = f" · target {fig.target:.0%}" if percent else f" · target {fig.target:g}"
    coverage_class = "coverage" + (" coverage-low" if fig.coverage < 0.95 else "")
    return [
        html.Div(
            [shown, html.Span(f" {unit}" if unit and shown != "—" else "", className="tile-unit")],
            className="tile-value",
            style={"color": tile_colour(panel, fig.value, fig.target)},
            title=fig.definition,
        ),
        html.Div(
            [
                html.Span(f"coverage {fig.coverage:.0%}", className=coverage_class),
                f"{target} · {fig.note}",
            ],
            className="tile-note",
        ),
    ]
