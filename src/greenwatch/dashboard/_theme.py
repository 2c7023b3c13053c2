"""Colours, status rules and the light and dark looks shared by every panel."""

from __future__ import annotations

import math
from typing import Any

STATUS_COLOURS: dict[str, str] = {
    "meets target": "#2e9d5b",
    "within 5 %": "#e0a100",
    "misses target": "#d64545",
    "no data": "#8a8f98",
}
NAMED: dict[str, str] = {
    "ok": "#2e9d5b",
    "warn": "#e0a100",
    "bad": "#d64545",
    "info": "#3b7dd8",
    "muted": "#8a8f98",
}
# Qualitative palette for lines (colour-blind friendly, Okabe-Ito without black).
LINES = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#999999")
REGION_COLOURS = {"east": "#0072B2", "west": "#E69F00"}
KIND_SYMBOLS = {"hub_cluster": "circle", "supercomputing": "diamond", "ai": "square"}
KIND_LABELS = {
    "hub_cluster": "hub cluster DC",
    "supercomputing": "supercomputing centre",
    "ai": "AI computing centre",
}

_LOOKS: dict[str, dict[str, str]] = {
    "light": {
        "paper": "#ffffff",
        "plot": "#ffffff",
        "text": "#1b1f24",
        "muted": "#5b6370",
        "grid": "#e4e7eb",
        "land": "#eef1f4",
        "ocean": "#dbe7f3",
        "coast": "#6b7280",
        "legend": "rgba(255,255,255,0.75)",
    },
    "dark": {
        "paper": "#1c2128",
        "plot": "#1c2128",
        "text": "#e6edf3",
        "muted": "#9aa4b2",
        "grid": "#30363d",
        "land": "#2a313a",
        "ocean": "#161b22",
        "coast": "#8b949e",
        "legend": "rgba(28,33,40,0.8)",
    },
}


def look(theme: str | None) -> dict[str, str]:
    """The colours of a theme (``light`` unless ``dark``)."""
    return _LOOKS["dark" if theme == "dark" else "light"]


def colour(name: str) -> str:
    """A threshold colour: a name (ok, warn, bad, info, muted) or ``#rrggbb``."""
    return NAMED.get(name, name)


def base_layout(theme: str | None, height: int) -> dict[str, Any]:
    """Layout shared by every chart: transparent-looking paper, themed text and grid."""
    c = look(theme)
    axis = {"gridcolor": c["grid"], "zerolinecolor": c["grid"], "linecolor": c["grid"]}
    return {
        "height": height,
        "margin": {"l": 48, "r": 16, "t": 12, "b": 36},
        "paper_bgcolor": c["paper"],
        "plot_bgcolor": c["plot"],
        "font": {"color": c["text"], "family": "system-ui, sans-serif", "size": 12},
        "xaxis": axis,
        "yaxis": dict(axis),
        "legend": {"orientation": "h", "y": -0.15, "bgcolor": "rgba(0,0,0,0)"},
        "hovermode": "x unified",
    }


def pue_status(pue: float, target: float | None, coverage: float) -> str:
    """Verdict of a site's PUE against its target; sparse data is not judged."""
    if math.isnan(pue) or coverage < 0.5:
        return "no data"
    if target is None or (isinstance(target, float) and math.isnan(target)) or pue <= target:
        return "meets target"
    return "within 5 %" if pue <= target * 1.05 else "misses target"
