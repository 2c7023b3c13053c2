"""Time-weighted means of gauges, and utilisation/occupancy against its target.

A gauge's mean over ``[start, end)`` is its time integral over the covered part divided by the
covered time (pairs of samples no further apart than ``max_gap``; longer pairs are gaps and
lower the coverage). Sample counts never weight the mean, so a burst of samples does not skew
it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from greenwatch.metrics._series import (
    NS_PER_S,
    Gap,
    as_series,
    gaps_in,
    gauge_pieces,
    stamp,
    step_pieces,
    to_timedelta_ns,
    window_bounds,
)

# 2022 hub plan: rack occupancy of hub cluster start areas >= 65 %.
HUB_OCCUPANCY_TARGET = 0.65

Interpolation = Literal["linear", "previous"]


@dataclass(frozen=True)
class TimeWeighted:
    """Time-weighted mean of a gauge over ``[start, end)`` (``nan`` when nothing is covered)."""

    start: pd.Timestamp
    end: pd.Timestamp
    mean: float
    coverage: float
    covered_s: float
    gaps: tuple[Gap, ...]


def time_weighted_mean(
    samples: pd.DataFrame,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    max_gap: pd.Timedelta | str,
    interpolation: Interpolation = "linear",
) -> TimeWeighted:
    """Time-weighted mean of a gauge over ``[start, end)``, in the gauge's unit.

    ``interpolation="linear"`` integrates by trapezoid (continuous quantities: utilisation,
    power); ``"previous"`` holds each value until the next sample (states such as ``link_up``).
    Coverage = covered seconds / window seconds.
    """
    lo, hi = window_bounds(start, end)
    series = as_series(samples)
    starts, ends = np.array([lo], dtype=np.int64), np.array([hi], dtype=np.int64)
    integrate = gauge_pieces if interpolation == "linear" else step_pieces
    cut, integral = integrate(series, starts, ends, to_timedelta_ns(max_gap, "max_gap"))
    covered_ns = int((cut.hi - cut.lo).sum())
    covered_s = covered_ns / NS_PER_S
    return TimeWeighted(
        start=stamp(lo),
        end=stamp(hi),
        mean=float(integral.sum()) / covered_s if covered_ns else math.nan,
        coverage=min(1.0, covered_ns / (hi - lo)),
        covered_s=covered_s,
        gaps=gaps_in(cut.lo, cut.hi, lo, hi),
    )


@dataclass(frozen=True)
class Utilisation:
    """Mean utilisation (ratio 0-1) over a period against its target.

    ``meets_target`` is ``None`` when nothing was covered; ``vs_target`` = mean - target.
    """

    mean: float
    coverage: float
    target: float
    vs_target: float
    meets_target: bool | None


def utilisation(
    samples: pd.DataFrame,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    max_gap: pd.Timedelta | str,
    target: float = HUB_OCCUPANCY_TARGET,
) -> Utilisation:
    """Time-weighted mean of ``utilisation_ratio`` samples (0-1) over ``[start, end)``.

    Occupancy against ``target`` (default 0.65, the 2022 hub plan's rack occupancy target for
    hub clusters); ``meets_target`` when mean >= target.
    """
    tw = time_weighted_mean(samples, start=start, end=end, max_gap=max_gap)
    known = math.isfinite(tw.mean)
    return Utilisation(
        mean=tw.mean,
        coverage=tw.coverage,
        target=target,
        vs_target=tw.mean - target,
        meets_target=bool(tw.mean >= target) if known else None,
    )
