"""Golden cases: placement hints that also need free computing power (FLOPS of one class)."""

from __future__ import annotations

import pandas as pd
import pytest

from greenwatch.metrics import HINT_COLUMNS, placement_hints

PFLOPS = 1e15
CANDIDATES = pd.DataFrame(
    {
        "site": ["a", "b", "c"],
        "pue": [1.2, 1.1, 1.3],
        "grid_factor_kg_per_kwh": [0.5, 0.4, 0.6],
        "green_share": [0.5, 0.5, 0.0],
        "free_capacity_kw": [1000.0, 1000.0, 1000.0],
        "link_utilisation": [0.0, 0.5, 0.2],
        "distance_km": [0.0, 500.0, 800.0],
        "free_flops": [80 * PFLOPS, 20 * PFLOPS, 50 * PFLOPS],
    }
)


def test_a_workload_fits_only_where_its_flops_are_free() -> None:
    got = placement_hints(1000.0, CANDIDATES, workload_kw=100.0, workload_flops=50 * PFLOPS)
    # emissions: a 1000 x 1.2 x 0.5 x (1 - 0.5) = 300; b 1000 x 1.1 x 0.4 x 0.5 = 220;
    # c 1000 x 1.3 x 0.6 x 1 = 780. b has the least, but only 20 of the 50 PFLOPS are free.
    assert got["site"].tolist() == ["a", "c", "b"]
    assert got["feasible"].tolist() == [True, True, False]
    assert got["emissions_kg"].tolist() == pytest.approx([300.0, 780.0, 220.0], rel=1e-12)
    assert got["movement_cost_km"].tolist() == pytest.approx([0.0, 1000.0, 1000.0], rel=1e-12)
    assert got["free_flops"].tolist() == [80 * PFLOPS, 50 * PFLOPS, 20 * PFLOPS]
    assert list(got.columns) == [*HINT_COLUMNS[:-1], "free_flops", "reason"]
    assert got.iloc[0]["reason"].endswith(
        "; free 1000 kW >= 100 kW needed; free 80 PFLOPS >= 50 PFLOPS needed"
    )
    assert "free 50 PFLOPS >= 50 PFLOPS needed" in got.iloc[1]["reason"]  # exactly enough fits
    assert got.iloc[2]["reason"].endswith("; free 20 PFLOPS < 50 PFLOPS needed; not feasible")


def test_free_flops_without_a_workload_is_shown_but_does_not_constrain() -> None:
    got = placement_hints(1000.0, CANDIDATES)
    assert got["site"].tolist() == ["b", "a", "c"]
    assert got["feasible"].all()
    assert got.iloc[0]["reason"].endswith("= 1000 congestion-km; free 20 PFLOPS")


def test_without_free_flops_the_hints_are_unchanged() -> None:
    plain = CANDIDATES.drop(columns=["free_flops"])
    got = placement_hints(1000.0, plain, workload_kw=100.0)
    assert list(got.columns) == list(HINT_COLUMNS)
    assert got["site"].tolist() == ["b", "a", "c"]
    assert "PFLOPS" not in " ".join(got["reason"])


def test_a_flops_workload_needs_the_free_flops_column_and_sane_values() -> None:
    with pytest.raises(ValueError, match="free_flops"):
        placement_hints(1.0, CANDIDATES.drop(columns=["free_flops"]), workload_flops=PFLOPS)
    with pytest.raises(ValueError, match="out-of-range values in \\['free_flops'\\]"):
        placement_hints(1.0, CANDIDATES.assign(free_flops=[-1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="workload_flops must be >= 0"):
        placement_hints(1.0, CANDIDATES, workload_flops=-1.0)
