"""The KPI query layer: fetches exactly what a computation needs from a store.

Aggregation is pushed down to the store (whole-range counter increases answered from its
hourly roll-ups); the arithmetic of every figure lives in :mod:`greenwatch.metrics`.
"""

from greenwatch.inventory import Scope, ScopeError
from greenwatch.query._cache import fresh_reads
from greenwatch.query._compute_figures import (
    ComputeFigures,
    ComputeSource,
    PoolsAndRecords,
    compute_figures,
    declared_pools,
    inventory_source,
    pool_frame,
    pool_state,
)
from greenwatch.query._energy import (
    energy_read,
    read_meter_energy,
)
from greenwatch.query._kpi import KPIS, kpi_answer
from greenwatch.query._sites import site_totals
from greenwatch.query._trend import pue_trend

__all__ = [
    "KPIS",
    "ComputeFigures",
    "ComputeSource",
    "PoolsAndRecords",
    "Scope",
    "ScopeError",
    "compute_figures",
    "declared_pools",
    "energy_read",
    "fresh_reads",
    "inventory_source",
    "kpi_answer",
    "pool_frame",
    "pool_state",
    "pue_trend",
    "read_meter_energy",
    "site_totals",
]
