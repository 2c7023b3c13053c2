"""PUE over time for a group of sites, from the store's hourly roll-ups."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from greenwatch.inventory import Site
from greenwatch.metrics import provenance_by, totals_from_meters
from greenwatch.query._cache import cached
from greenwatch.query._hourly import pue_meters
from greenwatch.query._sites import site_frame
from greenwatch.store import Store


def pue_trend(
    store: Store, sites: Iterable[Site], start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
) -> pd.DataFrame:
    """Per bucket: facility and IT energy (J) summed over ``sites`` and their ratio, the PUE.

    Each site's IT energy comes from its own PUE-category meter (ISO/IEC 30134-2); a group's
    PUE is the ratio of the summed energies, never a mean of site PUEs. Buckets are
    ``[t, t + step)``; columns ts, facility_j, it_j, pue, provenance. Energy per meter is
    :func:`read_meter_energy` (counters where they exist, else power); hourly grids read each
    site's hourly PUE inputs where the store keeps them (:mod:`greenwatch.query._hourly`).
    Kept in memory until the store's next write.
    """
    chosen = list(sites)
    key = ("pue_trend", tuple((s.id, s.pue_category) for s in chosen), start, end, step)
    return cached(store, key, lambda: _pue_trend(store, chosen, start, end, step))


def _pue_trend(
    store: Store, chosen: list[Site], start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
) -> pd.DataFrame:
    meters = pue_meters(store, [s.id for s in chosen], start, end, step)
    if meters.empty:
        return pd.DataFrame(columns=["ts", "facility_j", "it_j", "pue", "provenance"])
    totals = totals_from_meters(meters, site_frame(chosen), keys=["site", "ts"])
    return trend_of(totals)


def trend_of(totals: pd.DataFrame) -> pd.DataFrame:
    """Per ``ts``: facility and IT energy (J) summed over the sites of ``totals`` (per-bucket
    :func:`greenwatch.metrics.site_energy_totals`) and their ratio; a bucket where either sum
    has nothing under it is NaN, never 0. ``provenance``: what the bucket's figures rest on."""
    g = totals.groupby("ts", sort=True)
    frame = pd.DataFrame(
        {
            "facility_j": g["facility_j"].sum(min_count=1),
            "it_j": g["it_j"].sum(min_count=1),
            "provenance": provenance_by(totals["provenance"], totals["ts"]),
        }
    )
    frame["pue"] = frame["facility_j"] / frame["it_j"].where(frame["it_j"] > 0)
    return frame.rename_axis("ts").reset_index()[["ts", "facility_j", "it_j", "pue", "provenance"]]
