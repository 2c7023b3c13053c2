"""PUE over time for a group of sites, from the store's hourly roll-ups."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from greenwatch.inventory import Site
from greenwatch.metrics import PUE_CATEGORY_METERS
from greenwatch.store import Store


def pue_trend(
    store: Store, sites: Iterable[Site], start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta
) -> pd.DataFrame:
    """Per bucket: facility and IT energy (J) summed over ``sites`` and their ratio, the PUE.

    Each site's IT energy comes from its own PUE-category meter (ISO/IEC 30134-2); a group's
    PUE is the ratio of the summed energies, never a mean of site PUEs. Buckets are
    ``[t, t + step)``; columns ts, facility_j, it_j, pue. One store query reads every meter.
    """
    it_meter = {s.id: PUE_CATEGORY_METERS[s.pue_category] for s in sites}
    energy = store.query(
        "energy_joules_total",
        start,
        end,
        labels={"site": list(it_meter), "meter": ["facility", *PUE_CATEGORY_METERS.values()]},
        step=step,
        agg="increase",
    )
    if energy.empty:
        return pd.DataFrame(columns=["ts", "facility_j", "it_j", "pue"])
    is_it = energy["meter"] == energy["site"].map(it_meter)
    frame = pd.DataFrame(
        {
            "facility_j": energy[energy["meter"] == "facility"].groupby("ts")["value"].sum(),
            "it_j": energy[is_it].groupby("ts")["value"].sum(),
        }
    ).fillna(0.0)
    frame["pue"] = frame["facility_j"] / frame["it_j"].where(frame["it_j"] > 0)
    return frame.rename_axis("ts").reset_index()
