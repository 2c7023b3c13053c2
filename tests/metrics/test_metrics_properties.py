"""Invariants (hypothesis): additivity of energy, coverage bounds, roll-up and carbon bounds."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwatch.inventory import GridFactor
from greenwatch.metrics import (
    IntervalTotal,
    Measured,
    carbon_emissions,
    energy_per_bucket,
    interval_energy,
    rollup,
)
from tests.metrics._frames import at, frame

# Offsets span 12 h, so counter gaps longer than the 6 h look-back occur too: the look-back
# test is on the pair (dt), so additivity holds for them as well.
offsets = st.integers(min_value=0, max_value=12 * 3600)
samples = st.lists(
    st.tuples(offsets, st.floats(min_value=0, max_value=1e6, allow_nan=False)),
    min_size=0,
    max_size=40,
)
max_gaps = st.sampled_from(["1s", "30s", "5min", "2h", "8h"])
TOL = {"rel": 1e-9, "abs": 1e-6}


@settings(max_examples=200, deadline=None)
@given(
    counter=samples,
    power=samples,
    cuts=st.lists(st.integers(-100, 12 * 3600 + 100), min_size=3, max_size=3, unique=True),
    max_gap=max_gaps,
    use_counter=st.booleans(),
    wrap=st.sampled_from([None, 1e6]),
)
def test_energy_is_additive_over_adjacent_intervals(
    counter: list[tuple[int, float]],
    power: list[tuple[int, float]],
    cuts: list[int],
    max_gap: str,
    use_counter: bool,
    wrap: float | None,
) -> None:
    a, b, c = sorted(cuts)
    meter, watts = (frame(counter) if use_counter else None), frame(power)

    def energy(lo: int, hi: int) -> IntervalTotal:
        return interval_energy(
            meter, watts, start=at(lo), end=at(hi), max_gap=max_gap, wrap_at=wrap
        )

    left, right, whole = energy(a, b), energy(b, c), energy(a, c)
    assert left.value + right.value == pytest.approx(whole.value, **TOL)
    assert left.covered_s + right.covered_s == pytest.approx(whole.covered_s, **TOL)
    assert left.filled_from_power_s + right.filled_from_power_s == pytest.approx(
        whole.filled_from_power_s, **TOL
    )
    for part in (left, right, whole):
        assert 0.0 <= part.coverage <= 1.0
        assert part.value >= 0.0  # counters and powers here are non-negative


@settings(max_examples=100, deadline=None)
@given(
    counter=samples, power=samples, max_gap=max_gaps, bucket=st.sampled_from(["7s", "10min", "1h"])
)
def test_buckets_add_up_to_the_interval(
    counter: list[tuple[int, float]], power: list[tuple[int, float]], max_gap: str, bucket: str
) -> None:
    start, end = at(-60), at(12 * 3600 + 60)
    meter, watts = frame(counter), frame(power)
    per = energy_per_bucket(meter, watts, bucket=bucket, start=start, end=end, max_gap=max_gap)
    whole = interval_energy(meter, watts, start=start, end=end, max_gap=max_gap)
    assert per["value"].sum() == pytest.approx(whole.value, **TOL)
    assert per["coverage"].between(0.0, 1.0).all()


energies = st.floats(min_value=1e3, max_value=1e15, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(energies, energies), min_size=1, max_size=12))
def test_rollup_pue_lies_between_site_min_and_max(sites: list[tuple[float, float]]) -> None:
    table = pd.DataFrame(
        {
            "site": [f"s{i}" for i in range(len(sites))],
            "facility_j": [f for f, _ in sites],
            "it_j": [i for _, i in sites],
            "facility_coverage": 1.0,
            "it_coverage": 1.0,
        }
    )
    value = rollup(table, "national").kpis.set_index("kpi").loc["pue", "value"]
    ratios = table["facility_j"] / table["it_j"]
    assert ratios.min() * (1 - 1e-12) <= value <= ratios.max() * (1 + 1e-12)


@settings(max_examples=200, deadline=None)
@given(
    facility=st.floats(min_value=0, max_value=1e15),
    green=st.dictionaries(
        st.sampled_from(["onsite", "ppa", "certificate"]), st.floats(min_value=0, max_value=1e15)
    ),
    factor=st.floats(min_value=0, max_value=2),
)
def test_market_based_never_exceeds_location_based(
    facility: float, green: dict[str, float], factor: float
) -> None:
    got = carbon_emissions(Measured(facility), GridFactor(factor, 2023, "test"), green=green)
    assert 0.0 <= got.market.value <= got.location.value
