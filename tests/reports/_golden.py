"""A hand-built dataset for golden report tests: three sites, two local days, round numbers.

Counters step every 5 minutes at constant power, so the energy of a local day is power x 24 h
exactly (e.g. 1250 kW -> 30 000 kWh). Day 2026-10-05 (Asia/Shanghai) is the report period,
2026-10-04 the previous one. Site sc-c loses its facility meter from 02:00 to 05:00 local time
on 2026-10-05: the counter keeps counting (energy complete) but coverage is 21/24 = 0.875.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from greenwatch.inventory import Inventory, load_inventory
from greenwatch.model import concat_batches, make_batch
from greenwatch.store import DuckDBStore

INVENTORY = Path(__file__).parent / "testdata" / "golden-inventory.yaml"
STEP_S = 300
T0 = pd.Timestamp("2026-10-03T15:00Z")  # an hour before the previous day starts
SWITCH = pd.Timestamp("2026-10-04T16:00Z")  # 2026-10-05T00:00+08:00: current day starts
T1 = pd.Timestamp("2026-10-05T17:00Z")  # an hour after the current day ends
GAP = (pd.Timestamp("2026-10-04T18:00Z"), pd.Timestamp("2026-10-04T21:00Z"))

# (site, metric, label name, label value): (watts or litres/hour before SWITCH, after SWITCH)
RATES: dict[tuple[str, str, str, str], tuple[float, float]] = {
    ("east-a", "energy_joules_total", "meter", "facility"): (1_300_000, 1_250_000),
    ("east-a", "energy_joules_total", "meter", "it_pdu_output"): (1_000_000, 1_000_000),
    ("east-a", "energy_joules_total", "meter", "cooling"): (150_000, 150_000),
    ("east-a", "water_litres_total", "meter", "site_inflow"): (1200, 1200),
    ("east-a", "green_energy_joules_total", "instrument", "ppa"): (1_000_000, 1_000_000),
    ("west-b", "energy_joules_total", "meter", "facility"): (1_260_000, 1_300_000),
    ("west-b", "energy_joules_total", "meter", "it_ups_output"): (1_000_000, 1_000_000),
    ("west-b", "energy_joules_total", "meter", "cooling"): (200_000, 200_000),
    ("west-b", "water_litres_total", "meter", "site_inflow"): (600, 600),
    ("west-b", "green_energy_joules_total", "instrument", "onsite"): (500_000, 500_000),
    ("sc-c", "energy_joules_total", "meter", "facility"): (1_900_000, 2_000_000),
    ("sc-c", "energy_joules_total", "meter", "it_input"): (1_600_000, 1_600_000),
}


def golden_inventory() -> Inventory:
    return load_inventory(INVENTORY)


def golden_batch() -> pd.DataFrame:
    """Counter samples of every series from T0 to T1 (inclusive) every 5 minutes."""
    n = int((T1 - T0).total_seconds()) // STEP_S + 1
    ts = pd.date_range(T0, periods=n, freq=f"{STEP_S}s")
    before = ts <= SWITCH
    batches = []
    for (site, metric, label, value), (rate0, rate1) in RATES.items():
        per_s = np.where(before[1:], rate0, rate1) / (3600.0 if metric.startswith("water") else 1)
        steps = per_s * STEP_S
        counter = np.concatenate([[0.0], np.cumsum(steps)])
        keep = np.ones(n, dtype=bool)
        if (site, value) == ("sc-c", "facility"):
            keep = ~((ts > GAP[0]) & (ts < GAP[1]))
        batches.append(make_batch(ts[keep], metric, counter[keep], {"site": site, label: value}))
    return concat_batches(batches)


def golden_store(path: str | Path = ":memory:") -> DuckDBStore:
    store = DuckDBStore(path)
    store.write(golden_batch())
    return store
