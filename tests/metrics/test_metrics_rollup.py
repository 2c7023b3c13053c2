"""Golden cases for roll-ups, sub-meter consistency, targets and placement hints."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import greenwatch.metrics
from greenwatch.metrics import (
    national_pue_verdict,
    placement_hints,
    pue_grades,
    rollup,
    site_verdicts,
    submeter_findings,
)

EXACT = {"rel": 1e-9, "abs": 1e-12}


def _sites() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "site": ["big", "small", "patchy", "no-it-meter", "super"],
            "hub": ["guizhou", "guizhou", "guizhou", "gansu", None],
            "region": ["west", "west", "west", "west", "east"],
            "kind": ["hub_cluster", "ai", "ai", "hub_cluster", "supercomputing"],
            "pue_category": [2, 1, 2, 2, 3],
            "facility_j": [1.2e12, 3.0e9, 5.0e9, 1.0e9, 2.0e10],
            "facility_coverage": [1.0, 1.0, 1.0, 1.0, 1.0],
            "it_j": [1.0e12, 1.0e9, 4.0e9, math.nan, 1.6e10],
            "it_coverage": [0.99, 1.0, 0.5, 0.0, 1.0],
            "water_l": [2.0e5, 1.0e3, 1.0e3, 1.0e3, math.nan],
            "water_coverage": [1.0, 1.0, 1.0, 1.0, 0.0],
        }
    )


def _row(table: pd.DataFrame, group: str, kpi: str) -> pd.Series:
    found = table[(table["group"] == group) & (table["kpi"] == kpi)]
    assert len(found) == 1
    return found.iloc[0]


def test_rollup_is_a_ratio_of_sums_not_a_mean_of_ratios() -> None:
    got = rollup(_sites(), "hub")
    guizhou = _row(got.kpis, "guizhou", "pue")
    true_pue = (1.2e12 + 3.0e9) / (1.0e12 + 1.0e9)
    mean_of_pues = (1.2 + 3.0) / 2
    assert guizhou["value"] == pytest.approx(true_pue, **EXACT)
    assert true_pue == pytest.approx(1.2017982017982018, **EXACT)
    assert mean_of_pues == pytest.approx(2.1, **EXACT)
    assert abs(guizhou["value"] - mean_of_pues) > 0.8
    assert (guizhou["sites"], guizhou["excluded"]) == (2, 1)
    assert guizhou["categories"] == "1,2"
    # coverage weighted by IT energy: (0.99 x 1e12 + 1.0 x 1e9) / 1.001e12
    assert guizhou["coverage"] == pytest.approx((0.99e12 + 1e9) / 1.001e12, **EXACT)


def test_a_rollup_of_some_kpis_is_the_full_one_for_those() -> None:
    full = rollup(_sites(), "region")
    some = rollup(_sites(), "region", kpis=("wue",))
    pd.testing.assert_frame_equal(
        some.kpis, full.kpis[full.kpis["kpi"] == "wue"].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(
        some.excluded, full.excluded[full.excluded["kpi"] == "wue"].reset_index(drop=True)
    )
    assert rollup(_sites(), "region", kpis=("erf",)).kpis.empty  # no reuse meter: no rows


def _many_sites(seed: int, nan_capacity: bool) -> pd.DataFrame:
    """60 sites of 6 hubs (and none), shuffled, energies over six orders of magnitude (so the
    order of a sum shows in its last bits), some meters missing and some coverage low."""
    rng = np.random.default_rng(seed)
    n = 60
    energy = 10.0 ** rng.uniform(9, 15, n)
    hubs = np.array(["a", "b", "c", "d", "e", "f", None], dtype=object)
    return pd.DataFrame(
        {
            "site": [f"s{i}" for i in range(n)],
            "hub": hubs[rng.integers(0, len(hubs), n)],
            "pue_category": rng.integers(1, 4, n),
            "it_capacity_kw": np.where(
                nan_capacity & (rng.uniform(size=n) < 0.1), math.nan, rng.uniform(1e2, 1e5, n)
            ),
            "facility_j": energy * rng.uniform(1.05, 1.8, n),
            "facility_coverage": rng.choice([1.0, 0.999, 0.9], n),
            "it_j": np.where(rng.uniform(size=n) < 0.05, math.nan, energy),
            "it_coverage": rng.choice([1.0, 0.97, 0.5], n),
            "water_l": np.where(rng.uniform(size=n) < 0.3, math.nan, energy / 3.6e6),
            "water_coverage": rng.uniform(0.9, 1.0, n),
        }
    )


@pytest.mark.parametrize("nan_capacity", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_each_alone_gives_every_group_its_own_rollup_to_the_last_bit(
    seed: int, nan_capacity: bool
) -> None:
    sites = _many_sites(seed, nan_capacity)
    together = rollup(sites, "hub", each_alone=True)
    for hub in sorted(sites["hub"].dropna().unique()):
        alone = rollup(sites[sites["hub"] == hub], "hub")
        for field in ("kpis", "excluded"):
            frame = getattr(together, field)
            pd.testing.assert_frame_equal(
                frame[frame["group"] == hub].reset_index(drop=True),
                getattr(alone, field),
                check_exact=True,
            )


def test_rollup_lists_excluded_sites_with_reasons() -> None:
    got = rollup(_sites(), "hub")
    pue_out = got.excluded[got.excluded["kpi"] == "pue"].set_index("site")["reason"]
    assert pue_out["patchy"] == "coverage 0.5 < 0.95"
    assert pue_out["no-it-meter"] == "missing it_j (no meter)"
    assert pue_out["super"] == "no hub"
    gansu = _row(got.kpis, "gansu", "pue")
    assert math.isnan(gansu["value"])
    assert (gansu["sites"], gansu["excluded"], gansu["coverage"]) == (0, 1, 0.0)


def test_rollup_levels_and_other_kpis() -> None:
    sites = _sites()
    national = rollup(sites, "national")
    pue_row = _row(national.kpis, "national", "pue")
    assert pue_row["value"] == pytest.approx((1.2e12 + 3e9 + 2e10) / (1e12 + 1e9 + 1.6e10), **EXACT)
    assert pue_row["sites"] == 3
    wue_row = _row(national.kpis, "national", "wue")
    it_kwh = (1e12 + 1e9) / 3.6e6
    assert wue_row["value"] == pytest.approx((2.0e5 + 1.0e3) / it_kwh, **EXACT)
    assert wue_row["unit"] == "L/kWh"
    region = rollup(sites, "region")
    assert _row(region.kpis, "east", "pue")["value"] == pytest.approx(1.25, **EXACT)
    kind = rollup(sites, "kind")
    assert _row(kind.kpis, "ai", "pue")["value"] == pytest.approx(3.0, **EXACT)
    assert set(kind.kpis["kpi"]) == {"pue", "wue"}  # no co2/renewable/reused columns given


def test_rollup_needs_its_columns() -> None:
    with pytest.raises(ValueError, match="hub"):
        rollup(_sites().drop(columns="hub"), "hub")
    with pytest.raises(ValueError, match="water_coverage"):
        rollup(_sites().drop(columns="water_coverage"), "national")


def test_submeter_drift_beyond_tolerance_is_a_finding() -> None:
    meters = pd.DataFrame(
        {
            "site": ["a"] * 7,
            "meter": ["facility", "cooling", "it_ups_output", "other", "it_pdu_output", "o1", "o2"],
            "parent": [
                None,
                "facility",
                "facility",
                "facility",
                None,
                "it_pdu_output",
                "it_pdu_output",
            ],
            "energy_j": [1000.0, 200.0, 700.0, 50.0, 500.0, 250.0, 251.0],
            "coverage": [1.0, 0.9, 1.0, 1.0, 1.0, 1.0, 1.0],
        }
    )
    got = submeter_findings(meters, tolerance=0.02)
    assert len(got) == 1
    finding = got.iloc[0]
    assert (finding["site"], finding["parent"], finding["children"]) == ("a", "facility", 3)
    assert finding["parent_j"] == 1000.0
    assert finding["children_j"] == pytest.approx(950.0, **EXACT)
    assert finding["drift_ratio"] == pytest.approx(-0.05, **EXACT)
    assert (finding["tolerance"], finding["coverage"], finding["reason"]) == (0.02, 0.9, "drift")
    assert submeter_findings(meters, tolerance=0.06).empty


def test_submeter_missing_parent_is_a_finding() -> None:
    meters = pd.DataFrame(
        {"site": ["a"], "meter": ["o1"], "parent": ["it_pdu_output"], "energy_j": [5.0]}
    )
    got = submeter_findings(meters)
    assert got["reason"].tolist() == ["parent meter missing"]


GRADES = pd.DataFrame({"grade": ["1", "2", "3"], "pue_max": [1.2, 1.3, 1.5]})


def test_site_verdicts_against_own_targets_with_grades() -> None:
    sites = pd.DataFrame(
        {
            "site": ["guian-1", "wuhu-1", "jinan-sc"],
            "pue": [1.2, 1.31, 1.6],
            "target_pue": [1.2, 1.25, math.nan],
            "green_energy_share": [0.85, 0.5, math.nan],
            "target_green_energy_share": [0.8, 0.8, 0.8],
            "occupancy": [0.6, 0.7, 0.9],
            "target_occupancy": [0.65, 0.65, 0.65],
        }
    )
    got = site_verdicts(sites, grades=GRADES).set_index(["site", "kpi"])
    assert got.loc[("guian-1", "pue"), "verdict"] == "pass"  # at the limit passes
    assert got.loc[("guian-1", "pue"), "grade"] == "1"
    assert got.loc[("wuhu-1", "pue"), "verdict"] == "fail"
    assert got.loc[("wuhu-1", "pue"), "margin"] == pytest.approx(0.06, **EXACT)
    assert got.loc[("wuhu-1", "pue"), "grade"] == "3"
    assert got.loc[("jinan-sc", "pue"), "verdict"] == "no target"
    assert got.loc[("jinan-sc", "pue"), "grade"] is None
    assert got.loc[("guian-1", "green_energy_share"), "verdict"] == "pass"
    assert got.loc[("jinan-sc", "green_energy_share"), "verdict"] == "no data"
    assert got.loc[("guian-1", "occupancy"), "verdict"] == "fail"
    assert got.loc[("wuhu-1", "occupancy"), "comparison"] == ">="


def test_shipped_grade_table_is_data_marked_as_placeholder() -> None:
    path = Path(greenwatch.metrics.__file__).parent / "data" / "pue-grades.csv"
    text = path.read_text(encoding="utf-8")
    assert "PLACEHOLDER" in text
    table = pd.read_csv(path, comment="#")
    assert list(table.columns) == ["grade", "pue_max"]
    grades = pue_grades(pd.Series([1.0, 1.45, 9.9]), table)
    assert grades.tolist()[2] is None


def test_national_pue_target_is_strictly_below() -> None:
    assert national_pue_verdict(1.49).verdict == "pass"
    assert national_pue_verdict(1.5).verdict == "fail"
    assert national_pue_verdict(math.nan).verdict == "no data"
    assert national_pue_verdict(1.45).margin == pytest.approx(-0.05, **EXACT)


CANDIDATES = pd.DataFrame(
    {
        "site": ["guian-1", "jinan-sc", "zhongwei-1"],
        "pue": [1.2, 1.5, 1.1],
        "grid_factor_kg_per_kwh": [0.5, 0.2, 0.6],
        "green_share": [0.8, 0.0, 0.9],
        "free_capacity_kw": [500.0, 1000.0, 50.0],
        "link_utilisation": [0.5, 0.0, 0.2],
        "distance_km": [300.0, 0.0, 1000.0],
    }
)


def test_placement_hints_rank_by_emissions_then_movement() -> None:
    got = placement_hints(1000.0, CANDIDATES, workload_kw=100.0)
    assert got["site"].tolist() == ["guian-1", "jinan-sc", "zhongwei-1"]
    assert got["rank"].tolist() == [1, 2, 3]
    first = got.iloc[0]
    assert first["facility_kwh"] == pytest.approx(1200.0, **EXACT)
    assert first["emissions_kg"] == pytest.approx(1200 * 0.5 * 0.2, **EXACT)
    assert first["location_kg"] == pytest.approx(600.0, **EXACT)
    assert first["movement_cost_km"] == pytest.approx(600.0, **EXACT)
    assert first["reason"].startswith("guian-1: 120.0 kgCO2 = 1000 kWh IT x PUE 1.20")
    last = got.iloc[2]
    assert last["emissions_kg"] == pytest.approx(66.0, **EXACT)  # lowest, but it does not fit
    assert not last["feasible"]
    assert "50 kW < 100 kW needed; not feasible" in last["reason"]
    weighted = placement_hints(1000.0, CANDIDATES, workload_kw=100.0, movement_kg_per_km=0.5)
    assert weighted["site"].tolist()[:2] == ["jinan-sc", "guian-1"]  # 300 < 120 + 0.5 x 600
    assert weighted.iloc[1]["score"] == pytest.approx(420.0, **EXACT)


def test_placement_rejects_out_of_range_candidates() -> None:
    bad = CANDIDATES.assign(green_share=[1.2, 0.0, 0.0])
    with pytest.raises(ValueError, match="green_share"):
        placement_hints(1.0, bad)
