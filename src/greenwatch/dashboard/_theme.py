"""Colours and status rules shared by the dashboard's panels."""

from __future__ import annotations

import math

STATUS_COLOURS: dict[str, str] = {
    "meets target": "#2e9d5b",
    "within 5 %": "#e0a100",
    "misses target": "#d64545",
    "no data": "#8a8f98",
}


def pue_status(pue: float, target: float | None, coverage: float) -> str:
    """Verdict of a site's PUE against its target; sparse data is not judged."""
    if math.isnan(pue) or coverage < 0.5:
        return "no data"
    if target is None or pue <= target:
        return "meets target"
    return "within 5 %" if pue <= target * 1.05 else "misses target"
