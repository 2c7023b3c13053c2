"""Carbon-aware placement hints: where would a workload emit least, and what does moving cost?

Expected emissions of running a workload at a site follow from the same definitions as the
KPIs: facility energy = IT energy x PUE (ISO/IEC 30134-2), and its CO2 = facility energy x the
site's grid factor x (1 - green share), the market-based view of "Carbon" in DESIGN.md. Moving
the work there costs network distance, inflated by how busy the path is. A workload that needs
computing power (FLOPS of one class) fits only where that much is free.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from greenwatch.metrics._computing_power import PFLOP

CANDIDATE_COLUMNS = (
    "site",
    "pue",
    "grid_factor_kg_per_kwh",
    "green_share",
    "free_capacity_kw",
    "link_utilisation",
    "distance_km",
)
HINT_COLUMNS = (
    "rank",
    "site",
    "feasible",
    "score",
    "emissions_kg",
    "location_kg",
    "facility_kwh",
    "movement_cost_km",
    *CANDIDATE_COLUMNS[1:],
    "reason",
)


def _validate(candidates: pd.DataFrame, workload_flops: float | None) -> pd.DataFrame:
    missing = set(CANDIDATE_COLUMNS) - set(candidates.columns)
    if workload_flops is not None and "free_flops" not in candidates.columns:
        missing.add("free_flops")
    if missing:
        raise ValueError(f"candidates lack columns {sorted(missing)}")
    columns = [*CANDIDATE_COLUMNS, *(["free_flops"] if "free_flops" in candidates else [])]
    table = candidates.loc[:, columns].copy()
    for column in columns[1:]:
        table[column] = table[column].astype(float)
    checks = {
        "pue": table["pue"] > 0,
        "grid_factor_kg_per_kwh": table["grid_factor_kg_per_kwh"] >= 0,
        "green_share": table["green_share"].between(0.0, 1.0),
        "link_utilisation": table["link_utilisation"].between(0.0, 1.0),
        "distance_km": table["distance_km"] >= 0,
        **({"free_flops": table["free_flops"] >= 0} if "free_flops" in table else {}),
    }
    bad = [name for name, ok in checks.items() if not bool(ok.all())]
    if bad:
        raise ValueError(f"candidates have out-of-range values in {bad}")
    return table


def _reason(
    row: pd.Series, it_kwh: float, workload_kw: float | None, workload_flops: float | None
) -> str:
    text = (
        f"{row['site']}: {row['emissions_kg']:.1f} kgCO2 = {it_kwh:g} kWh IT x PUE "
        f"{row['pue']:.2f} x {row['grid_factor_kg_per_kwh']:.4f} kg/kWh x (1 - green "
        f"{row['green_share']:.0%}); {row['distance_km']:.0f} km over a link "
        f"{row['link_utilisation']:.0%} busy = {row['movement_cost_km']:.0f} congestion-km"
    )
    if workload_kw is not None:
        verb = ">=" if row["free_capacity_kw"] >= workload_kw else "<"
        text += f"; free {row['free_capacity_kw']:g} kW {verb} {workload_kw:g} kW needed"
    if "free_flops" in row.index:
        text += f"; free {row['free_flops'] / PFLOP:,.4g} PFLOPS"
        if workload_flops is not None:
            verb = ">=" if row["free_flops"] >= workload_flops else "<"
            text += f" {verb} {workload_flops / PFLOP:,.4g} PFLOPS needed"
    if row["link_utilisation"] >= 1.0:
        text += "; link saturated"
    if not row["feasible"]:
        text += "; not feasible"
    return text


def placement_hints(
    workload_it_kwh: float,
    candidates: pd.DataFrame,
    *,
    workload_kw: float | None = None,
    workload_flops: float | None = None,
    movement_kg_per_km: float = 0.0,
) -> pd.DataFrame:
    """Candidate sites ranked by expected emissions and movement cost, each with its reason.

    ``candidates`` columns: site, pue, grid_factor_kg_per_kwh, green_share (0-1),
    free_capacity_kw, link_utilisation (0-1, of the path from the origin), distance_km; and
    optionally free_flops (free computing power of the class the workload runs in, FLOPS;
    required with ``workload_flops``, returned after distance_km when given).

    * facility_kwh = workload_it_kwh x PUE (ISO/IEC 30134-2);
    * emissions_kg = facility_kwh x grid factor x (1 - green share) (market-based);
      location_kg = facility_kwh x grid factor (location-based, for comparison);
    * movement_cost_km = distance_km / (1 - link_utilisation), infinite on a saturated link;
    * score = emissions_kg + movement_kg_per_km x movement_cost_km (kgCO2-equivalent; the
      weight is the caller's trade-off, 0 ranks on emissions alone).

    A site is feasible when its link is not saturated, with ``workload_kw`` given when its free
    capacity holds the workload, and with ``workload_flops`` given (FLOPS) when its free
    computing power holds it (``free_flops >= workload_flops``). Feasible sites rank first,
    then by score, then by movement cost. Returns every factor, ``rank`` (1 = best) and a
    human-readable ``reason`` per row.
    """
    if not workload_it_kwh >= 0:
        raise ValueError(f"workload_it_kwh must be >= 0, got {workload_it_kwh}")
    if workload_flops is not None and not workload_flops >= 0:
        raise ValueError(f"workload_flops must be >= 0, got {workload_flops}")
    table = _validate(candidates, workload_flops)
    facility_kwh = workload_it_kwh * table["pue"]
    busy = table["link_utilisation"]
    free_share = (1.0 - busy).where(busy < 1.0)
    movement = (table["distance_km"] / free_share).fillna(np.inf)
    emissions = facility_kwh * table["grid_factor_kg_per_kwh"] * (1.0 - table["green_share"])
    feasible = busy < 1.0
    if workload_kw is not None:
        feasible &= table["free_capacity_kw"] >= workload_kw
    if workload_flops is not None:
        feasible &= table["free_flops"] >= workload_flops
    hints = table.assign(
        facility_kwh=facility_kwh,
        emissions_kg=emissions,
        location_kg=facility_kwh * table["grid_factor_kg_per_kwh"],
        movement_cost_km=movement,
        score=emissions + movement_kg_per_km * movement if movement_kg_per_km else emissions,
        feasible=feasible,
    )
    hints = hints.sort_values(
        ["feasible", "score", "movement_cost_km", "site"],
        ascending=[False, True, True, True],
        kind="stable",
    ).reset_index(drop=True)
    hints["rank"] = np.arange(1, len(hints) + 1)
    hints["reason"] = [
        _reason(row, workload_it_kwh, workload_kw, workload_flops) for _, row in hints.iterrows()
    ]
    extra = ["free_flops"] if "free_flops" in hints else []
    return hints.loc[:, [*HINT_COLUMNS[:-1], *extra, "reason"]]
