"""Golden cases for the ISO/IEC 30134 KPIs, carbon and utilisation."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from greenwatch.inventory import GridFactor
from greenwatch.metrics import (
    Measured,
    carbon_emissions,
    cue,
    dcie,
    ere,
    erf,
    interval_energy,
    is_interim,
    partial_pue,
    pue,
    ref,
    time_weighted_mean,
    utilisation,
    wue,
)
from tests.metrics._frames import at, frame

EXACT = {"rel": 1e-9, "abs": 1e-12}
KWH = 3.6e6
FACILITY = Measured(1000 * KWH, coverage=0.99)
IT = Measured(800 * KWH, coverage=0.97)
MONTH = {"start": pd.Timestamp("2025-01-01T00:00Z"), "end": pd.Timestamp("2025-02-01T00:00Z")}
YEAR = {"start": pd.Timestamp("2024-01-01T00:00Z"), "end": pd.Timestamp("2025-01-01T00:00Z")}
FACTOR = GridFactor(0.5306, 2023, "MEE/NBS Announcement 2025 No. 47", "national")


def test_pue_is_facility_over_it_energy_with_category_and_interim_flag() -> None:
    got = pue(FACILITY, IT, category=2, **MONTH)
    assert got.value == pytest.approx(1.25, **EXACT)
    assert got.coverage == 0.97  # min of the inputs' coverages
    assert (got.kpi, got.category, got.interim, got.label) == ("pue", 2, True, "PUE2 (interim)")
    assert got.standard == "ISO/IEC 30134-2"
    yearly = pue(FACILITY, IT, category=1, **YEAR)
    assert (yearly.interim, yearly.label) == (False, "PUE1")


def test_pue_from_interval_energies() -> None:
    facility = interval_energy(
        power=frame([(0, 1250), (3600, 1250)]), start=at(0), end=at(3600), max_gap="1h"
    )
    it = interval_energy(frame([(0, 0), (3600, 3.6e6)]), start=at(0), end=at(3600), max_gap="1h")
    assert pue(facility, it, category=3).value == pytest.approx(1.25, **EXACT)


def test_interim_is_shorter_than_a_calendar_year() -> None:
    assert is_interim("2023-01-01T00:00Z", "2023-12-31T23:59Z")
    assert not is_interim("2023-01-01T00:00Z", "2024-01-01T00:00Z")  # 365 days
    assert is_interim("2024-01-01T00:00Z", "2024-12-31T00:00Z")  # 365 days of a leap year
    assert not is_interim("2024-01-01T00:00Z", "2025-01-01T00:00Z")


def test_pue_category_must_be_known() -> None:
    with pytest.raises(ValueError, match="category"):
        pue(FACILITY, IT, category=4)


def test_partial_pue_and_dcie() -> None:
    cooling = Measured(100 * KWH, coverage=1.0)
    got = partial_pue(cooling, IT)
    assert got.value == pytest.approx(900 / 800, **EXACT)
    assert (got.label, got.coverage) == ("pPUE (cooling)", 0.97)
    inverse = dcie(pue(FACILITY, IT, category=2, **MONTH))
    assert inverse.value == pytest.approx(0.8, **EXACT)
    assert (inverse.label, inverse.coverage, inverse.interim) == ("DCiE2 (interim)", 0.97, True)


def test_wue_cue_ref_erf_ere() -> None:
    water = Measured(1200.0, coverage=0.9)
    assert wue(water, IT).value == pytest.approx(1.5, **EXACT)  # L/kWh
    assert wue(water, IT).coverage == 0.9
    assert wue(water, IT).unit == "L/kWh"
    co2 = carbon_emissions(FACILITY, FACTOR).location
    got = cue(co2, IT)
    assert got.value == pytest.approx(1000 * 0.5306 / 800, **EXACT)  # kgCO2/kWh
    assert got.value == pytest.approx(0.5306 * 1.25, **EXACT)  # = factor x PUE, all-electric
    assert ref(Measured(250 * KWH), FACILITY).value == pytest.approx(0.25, **EXACT)
    reused = Measured(100 * KWH)
    assert erf(reused, FACILITY).value == pytest.approx(0.1, **EXACT)
    assert ere(FACILITY, IT, reused).value == pytest.approx((1 - 0.1) * 1.25, **EXACT)


def test_zero_denominator_is_nan_with_no_coverage() -> None:
    got = pue(FACILITY, Measured(0.0), category=2)
    assert math.isnan(got.value)
    assert got.coverage == 0.0


def test_carbon_location_and_market_based() -> None:
    green = {"onsite": 100 * KWH, "ppa": Measured(200 * KWH, 0.95), "certificate": 50 * KWH}
    got = carbon_emissions(FACILITY, FACTOR, green=green)
    assert got.location.basis == "location"
    assert got.location.value == pytest.approx(1000 * 0.5306, **EXACT)
    assert got.market.basis == "market"
    assert got.market.value == pytest.approx(650 * 0.5306, **EXACT)
    assert got.market.energy_kwh == pytest.approx(650.0, **EXACT)
    assert got.green_kwh == pytest.approx(350.0, **EXACT)
    assert (got.location.factor_year, got.location.factor_source) == (2023, FACTOR.source)
    assert (got.location.coverage, got.market.coverage) == (0.99, 0.95)
    table = got.to_frame()
    assert table["basis"].tolist() == ["location", "market"]


def test_market_based_never_below_zero() -> None:
    got = carbon_emissions(FACILITY, FACTOR, green={"ppa": 1200 * KWH})
    assert got.market.value == 0.0
    assert got.market.energy_kwh == 0.0


def test_carbon_rejects_unknown_instruments_and_negative_factors() -> None:
    with pytest.raises(ValueError, match="instrument"):
        carbon_emissions(FACILITY, FACTOR, green={"hope": 1.0})
    with pytest.raises(ValueError, match="factor"):
        GridFactor(-0.1, 2023, "x")


def test_utilisation_is_time_weighted_not_sample_weighted() -> None:
    samples = frame([(0, 0.2), (3000, 0.2), (3300, 1.0), (3600, 1.0)])
    got = utilisation(samples, start=at(0), end=at(3600), max_gap="1h")
    # (0.2 x 3000 + 0.6 x 300 + 1.0 x 300) / 3600; the plain sample mean would be 0.6
    assert got.mean == pytest.approx(0.3, **EXACT)
    assert got.target == 0.65
    assert got.meets_target is False
    assert got.vs_target == pytest.approx(0.3 - 0.65, **EXACT)
    busy = utilisation(
        frame([(0, 0.5), (1800, 0.7), (3600, 0.9)]), start=at(0), end=at(3600), max_gap="1h"
    )
    assert busy.mean == pytest.approx(0.7, **EXACT)
    assert busy.meets_target is True


def test_time_weighted_mean_reports_gaps_and_nothing_covered() -> None:
    got = time_weighted_mean(frame([(0, 1), (10, 3)]), start=at(0), end=at(20), max_gap="60s")
    assert got.mean == pytest.approx(2.0, **EXACT)
    assert got.coverage == 0.5
    assert got.gaps == ((at(10), at(20)),)
    none = utilisation(frame([(0, 1)]), start=at(0), end=at(20), max_gap="60s")
    assert math.isnan(none.mean)
    assert none.meets_target is None
