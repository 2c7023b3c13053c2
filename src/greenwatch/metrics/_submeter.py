"""Sub-meter consistency: the children of a meter should add up to the parent meter.

Energy is conserved: over one period the energies metered below a point (cooling + IT + other
below the facility meter; PDU outlets below a PDU) sum to the energy metered at that point,
within metering accuracy and unmetered losses. Drift beyond a tolerance is a finding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from greenwatch.metrics._site import key_codes

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
    found = _with_parents(table, _children(table))
    parent_j = found["parent_j"]
    no_parent = ~(parent_j > 0)
    no_child = np.isnan(found["children_j"])
    with np.errstate(divide="ignore", invalid="ignore"):
        drift = np.where(no_parent, np.nan, (found["children_j"] - parent_j) / parent_j)
    found["drift_ratio"] = drift
    found["tolerance"] = np.full(len(parent_j), float(tolerance))
    # The least coverage of the parent and its children (NaN only where both are).
    found["coverage"] = np.fmin(found.pop("parent_coverage"), found.pop("children_coverage"))
    reason = np.where(
        no_parent, "parent meter missing", np.where(no_child, "child meter missing", "drift")
    )
    finding = no_parent | no_child | (np.abs(drift) > tolerance)
    found["reason"] = pd.Series(reason[finding], dtype=object)  # names, not a string column
    return pd.DataFrame(
        {k: found[k] if k == "reason" else found[k][finding] for k in FINDING_COLUMNS}
    )


def _children(table: pd.DataFrame) -> dict[str, Any]:
    """Per (site, parent) with children, sorted by both: the children's summed energy (NaN
    where any is unknown), count (of named meters) and least coverage. In numpy over the
    rows sorted by group; each group's sum is the very sum pandas makes of its values."""
    rows = table[table["parent"].notna() & (table["parent"] != "")]
    group, known = key_codes([rows["site"], rows["parent"]], len(rows), sort=True)
    at = np.flatnonzero(known)[np.argsort(group[known], kind="stable")]
    starts = np.flatnonzero(np.diff(group[at], prepend=-1) != 0)
    ends = np.append(starts[1:], len(at)) if len(at) else starts
    energy = rows["energy_j"].to_numpy("float64")[at]
    named = rows["meter"].notna().to_numpy()[at].astype("int64")
    coverage = rows["coverage"].to_numpy("float64")[at]
    some = len(at) > 0  # reduceat needs a row
    return {
        "site": _keys(rows["site"], at[starts]),
        "parent": _keys(rows["parent"], at[starts]),
        "children_j": np.array(
            [energy[i:j].sum() for i, j in zip(starts, ends, strict=True)], dtype="float64"
        ),
        "children": np.add.reduceat(named, starts) if some else np.zeros(0, "int64"),
        "children_coverage": np.fmin.reduceat(coverage, starts) if some else np.zeros(0),
    }


def _keys(column: pd.Series, at: np.ndarray) -> pd.Index:
    """The groups' values of a key column, typed as a groupby types them: strings held as
    objects become a string column where any key is known."""
    taken = column.iloc[at]
    strings = column.dtype == object and column.notna().any()
    named = strings and all(isinstance(v, str) for v in taken)
    keys: pd.Index = pd.Index(taken, dtype="str" if named else None)
    return keys


def _with_parents(table: pd.DataFrame, sums: dict[str, Any]) -> dict[str, Any]:
    """``sums`` with each parent's own energy and coverage (the rows whose site and meter
    are the group's; NaN where none is, a group repeated where several are), as a left
    join of the parents' rows."""
    energy = table["energy_j"].to_numpy("float64")
    coverage = table["coverage"].to_numpy("float64")
    rows: dict[tuple[object, object], list[int]] = {}
    for i, key in enumerate(zip(table["site"].tolist(), table["meter"].tolist(), strict=True)):
        rows.setdefault(key, []).append(i)
    matches = [rows.get(key, [-1]) for key in zip(sums["site"], sums["parent"], strict=True)]
    group = np.repeat(np.arange(len(matches)), [len(m) for m in matches])
    found = np.array([i for m in matches for i in m], dtype="int64")
    out = {name: values[group] for name, values in sums.items()}
    # A group's rows come from the table: -1 (no parent row) indexes a row, masked here.
    out["parent_j"] = np.where(found >= 0, energy[found], np.nan)
    out["parent_coverage"] = np.where(found >= 0, coverage[found], np.nan)
    return out
