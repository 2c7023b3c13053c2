"""The KPI query layer: fetches exactly what a computation needs from a store.

Aggregation is pushed down to the store (whole-range counter increases answered from its
hourly roll-ups); the arithmetic of every figure lives in :mod:`greenwatch.metrics`.
"""

from typing import TYPE_CHECKING

from greenwatch._lazy import lazy_face
from greenwatch.query._names import KPIS

if TYPE_CHECKING:
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
    from greenwatch.query._hourly import keep_hourly_pue
    from greenwatch.query._kpi import (
        kpi_answer,
    )
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
    "keep_hourly_pue",
    "kpi_answer",
    "pool_frame",
    "pool_state",
    "pue_trend",
    "read_meter_energy",
    "site_totals",
]

__getattr__ = lazy_face(
    __name__, "_cache", "_compute_figures", "_energy", "_hourly", "_kpi", "_sites", "_trend"
)
