"""Sub-meter consistency: the children of a meter should add up to the parent meter.

Energy is conserved: over one period the energies metered below a point (cooling + IT + other
below the facility meter; PDU outlets below a PDU) sum to the energy metered at that point,
within metering accuracy and unmetered losses. Drift beyond a tolerance is a finding.
"""

from __future__ import annotations

import pandas as pd

DEFAULT_TOLERANCE = 0.02
FINDING_COLUMNS = (
    "site",
    "parent",
    "parent_j",
    "children_j",
    "children",
    "drift_ratio",
    "tolerance",
    "coverage",
    "reason",
)


def submeter_findings(
    meters: pd.DataFrame, *, tolerance: float = DEFAULT_TOLERANCE
) -> pd.DataFrame:
    """Parents whose children's summed energy drifts from the parent by more than ``tolerance``.

    ``meters``: one row per meter and period with columns site, meter, parent (the meter it
    hangs below; empty for a root), energy_j (J) and optionally coverage (0-1). For every
    meter with children: drift_ratio = (sum of children - parent) / parent, positive when the
    children exceed the parent. A finding is ``|drift_ratio| > tolerance`` (reason ``"drift"``)
    or a parent with children but no (positive) energy of its own (``"parent meter missing"``),
    or a child without energy (``"child meter missing"``).
    Returned columns: site, parent, parent_j, children_j (J), children (count), drift_ratio,
    tolerance, coverage (min over the parent and its children), reason.
    """
    missing = {"site", "meter", "parent", "energy_j"} - set(meters.columns)
    if missing:
        raise ValueError(f"meters table lacks columns {sorted(missing)}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    table = meters.assign(
        coverage=meters["coverage"] if "coverage" in meters.columns else 1.0,
        energy_j=meters["energy_j"].astype(float),
    )
    children = table[table["parent"].notna() & (table["parent"] != "")]
    sums = children.groupby(["site", "parent"], sort=True).agg(
        children_j=("energy_j", lambda e: e.sum(min_count=len(e))),
        children=("meter", "count"),
        children_coverage=("coverage", "min"),
    )
    parents = table.set_index(["site", "meter"])[["energy_j", "coverage"]]
    parents.index = parents.index.set_names(["site", "parent"])
    joined = sums.join(parents, how="left").reset_index()
    no_parent = ~(joined["energy_j"] > 0)
    no_child = joined["children_j"].isna()
    drift = ((joined["children_j"] - joined["energy_j"]) / joined["energy_j"]).where(~no_parent)
    reason = pd.Series("drift", index=joined.index, dtype=object)
    reason = reason.mask(no_child, "child meter missing").mask(no_parent, "parent meter missing")
    joined = joined.assign(
        parent_j=joined["energy_j"],
        drift_ratio=drift,
        tolerance=tolerance,
        coverage=pd.concat([joined["coverage"], joined["children_coverage"]], axis=1).min(axis=1),
        reason=reason,
    )
    finding = no_parent | no_child | (drift.abs() > tolerance)
    return joined.loc[finding, list(FINDING_COLUMNS)].reset_index(drop=True)
