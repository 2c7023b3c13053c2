"""A hand-built dataset for golden report tests: three sites, two local days, round numbers.

Counters step every 5 minutes at constant power, so the energy of a local day is power x 24 h
exactly (e.g. 1250 kW -> 30 000 kWh). Day 2026-10-05 (Asia/Shanghai) is the report period,
2026-10-04 the previous one. Site sc-c loses its facility meter from 02:00 to 05:00 local time
on 2026-10-05: the counter keeps counting (energy complete) but coverage is 21/24 = 0.875.

Computing: east-a's collectors see 960 of its 1000 registered GPUs (two hosts of 480), busy at
50 %; west-b's see its 2000 CPUs, busy at 25 %; nothing reports from sc-c. The verification
records of :func:`golden_compute`: east-a/ai passed HPL-MxP on 2026-09-20 (750 of 1000 PFLOPS
FP16), west-b/general failed HPL on 2026-10-01, sc-c/hpc passed HPL on 2026-05-01 (15 of
20 PFLOPS FP64): ok, failed and stale at the end of 2026-10-05.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from greenwatch.inventory import Inventory, load_inventory
from greenwatch.model import concat_batches, make_batch
from greenwatch.query import ComputeSource, declared_pools
from greenwatch.reports import Report, build_report, parse_period, parse_scope
from greenwatch.store import DuckDBStore

INVENTORY = Path(__file__).parent / "testdata" / "golden-inventory.yaml"
STEP_S = 300
T0 = pd.Timestamp("2026-10-03T15:00Z")  # an hour before the previous day starts
SWITCH = pd.Timestamp("2026-10-04T16:00Z")  # 2026-10-05T00:00+08:00: current day starts
T1 = pd.Timestamp("2026-10-05T17:00Z")  # an hour after the current day ends
GAP = (pd.Timestamp("2026-10-04T18:00Z"), pd.Timestamp("2026-10-04T21:00Z"))
# (site, metric, labels): gauge value
GAUGES: dict[tuple[str, str, tuple[tuple[str, str], ...]], float] = {
    ("east-a", "utilisation_ratio", (("resource", "gpu"),)): 0.5,
    ("west-b", "utilisation_ratio", (("resource", "cpu"),)): 0.25,
    **{
        ("east-a", "compute_devices", (("device_kind", "gpu"), ("model", "Golden GPU 1"),
                                       ("source", host))): 480.0
        for host in ("node-1", "node-2")
    },
    ("west-b", "compute_devices", (("device_kind", "cpu"), ("model", "Golden CPU 1"))): 2000.0,
}  # fmt: skip
# (site, pool, benchmark, precision, measured FLOPS, devices, passed, at)
VERIFICATIONS = [
    ("east-a", "ai", "hpl-mxp", "fp16", 7.5e17, 1000, True, "2026-09-20T00:00Z"),
    ("west-b", "general", "hpl", "fp64", float("nan"), 2000, False, "2026-10-01T00:00Z"),
    ("sc-c", "hpc", "hpl", "fp64", 1.5e16, 400, True, "2026-05-01T00:00Z"),
]

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
    for (site, metric, labels), level in GAUGES.items():
        batches.append(make_batch(ts, metric, np.full(n, level), {"site": site, **dict(labels)}))
    return concat_batches(batches)


def golden_compute(inventory: Inventory) -> ComputeSource:
    """The inventory's pools with the verification records of :data:`VERIFICATIONS`."""
    records = pd.DataFrame(
        VERIFICATIONS,
        columns=[
            "site",
            "pool",
            "benchmark",
            "precision",
            "measured_flops",
            "devices",
            "passed",
            "at",
        ],
    ).assign(at=lambda f: pd.to_datetime(f["at"], utc=True))
    pools = declared_pools(inventory)
    return lambda: (pools, records)


def golden_day_report(store: DuckDBStore, inventory: Inventory) -> Report:
    """The national report of the golden day (2026-10-05), with :func:`golden_compute`."""
    return build_report(
        store,
        inventory,
        parse_period("2026-10-05"),
        parse_scope("national", inventory),
        compute=golden_compute(inventory),
    )


def golden_store(path: str | Path = ":memory:") -> DuckDBStore:
    store = DuckDBStore(path)
    store.write(golden_batch())
    return store
