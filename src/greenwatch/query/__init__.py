"""The KPI query layer: fetches exactly what a computation needs from a store.

Aggregation is pushed down to the store (whole-range counter increases answered from its
hourly roll-ups); the arithmetic of every figure lives in :mod:`greenwatch.metrics`.
"""

from greenwatch.query._compute import (
    IDENTIFY_WINDOW,
    ComputeFigures,
    ComputeSource,
    PoolsAndRecords,
    PoolState,
    compute_figures,
    declared_pools,
    discovered_devices,
    inventory_source,
    pool_frame,
    pool_state,
)
from greenwatch.query._kpi import KPIS, KpiAnswer, Scope, ScopeError, kpi_answer
from greenwatch.query._sites import site_totals
from greenwatch.query._trend import pue_trend

__all__ = [
    "IDENTIFY_WINDOW",
    "KPIS",
    "ComputeFigures",
    "ComputeSource",
    "KpiAnswer",
    "PoolState",
    "PoolsAndRecords",
    "Scope",
    "ScopeError",
    "compute_figures",
    "declared_pools",
    "discovered_devices",
    "inventory_source",
    "kpi_answer",
    "pool_frame",
    "pool_state",
    "pue_trend",
    "site_totals",
]
