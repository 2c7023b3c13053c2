"""Golden, hand-computed cases for energy over an interval (counter and power)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from greenwatch.metrics import energy_per_bucket, interval_energy
from greenwatch.metrics._energy import interval_increase
from tests.metrics._frames import at, frame

EXACT = {"rel": 1e-9, "abs": 1e-9}


# --- power (W) -> energy (J), trapezoid ------------------------------------------------------


def test_power_trapezoid_golden() -> None:
    power = frame([(0, 100), (10, 200), (20, 200), (30, 100)])
    got = interval_energy(power=power, start=at(0), end=at(30), max_gap="60s")
    # (100+200)/2*10 + 200*10 + (200+100)/2*10
    assert got.value == pytest.approx(5000.0, **EXACT)
    assert got.coverage == 1.0
    assert got.covered_s == 30.0
    assert got.source == "power"
    assert got.gaps == ()
    assert got.kwh == pytest.approx(5000.0 / 3.6e6, **EXACT)


def test_power_window_edges_interpolate_linearly() -> None:
    power = frame([(0, 100), (10, 200)])
    # p(5) = 150: (150+200)/2*5
    assert interval_energy(
        power=power, start=at(5), end=at(10), max_gap="60s"
    ).value == pytest.approx(875.0, **EXACT)
    # p(2.5) = 125, p(7.5) = 175: (125+175)/2*5
    inner = interval_energy(power=power, start=at(2.5), end=at(7.5), max_gap="60s")
    assert inner.value == pytest.approx(750.0, **EXACT)
    assert inner.coverage == 1.0


def test_power_gap_longer_than_max_gap_is_not_bridged() -> None:
    power = frame([(0, 100), (10, 100), (100, 100), (110, 100)])
    got = interval_energy(power=power, start=at(0), end=at(120), max_gap="30s")
    assert got.value == pytest.approx(2000.0, **EXACT)  # 100 W x (10 s + 10 s)
    assert got.covered_s == 20.0
    assert got.coverage == pytest.approx(20 / 120, **EXACT)
    assert got.gaps == ((at(10), at(100)), (at(110), at(120)))


def test_pair_exactly_max_gap_is_bridged() -> None:
    power = frame([(0, 100), (30, 100)])
    got = interval_energy(power=power, start=at(0), end=at(30), max_gap="30s")
    assert got.value == pytest.approx(3000.0, **EXACT)
    assert got.coverage == 1.0


def test_out_of_order_and_duplicate_samples_keep_the_first() -> None:
    rows = [(20, 200), (0, 100), (10, 200), (10, 999), (30, 100), (0, 5), (15, math.nan)]
    got = interval_energy(power=frame(rows), start=at(0), end=at(30), max_gap="60s")
    assert got.value == pytest.approx(5000.0, **EXACT)


def test_samples_before_and_after_the_window_only_contribute_their_inside_part() -> None:
    power = frame([(-10, 0), (10, 200), (30, 200)])
    got = interval_energy(power=power, start=at(0), end=at(20), max_gap="60s")
    # p(0) = 100: (100+200)/2*10 + 200*10
    assert got.value == pytest.approx(3500.0, **EXACT)


def test_empty_power_series_has_zero_coverage() -> None:
    got = interval_energy(power=frame([]), start=at(0), end=at(10), max_gap="60s")
    assert (got.value, got.coverage, got.gaps) == (0.0, 0.0, ((at(0), at(10)),))


# --- counter (J), reset- and wrap-aware --------------------------------------------------------


def test_counter_increase_split_in_proportion_to_time() -> None:
    counter = frame([(0, 1000), (10, 1500), (20, 2500)])
    whole = interval_energy(counter, start=at(0), end=at(20), max_gap="60s")
    assert whole.value == pytest.approx(1500.0, **EXACT)
    assert (whole.source, whole.coverage, whole.resets) == ("counter", 1.0, 0)
    middle = interval_energy(counter, start=at(5), end=at(15), max_gap="60s")
    assert middle.value == pytest.approx(250.0 + 500.0, **EXACT)


def test_counter_reset_counts_the_value_after_the_restart() -> None:
    counter = frame([(0, 1000), (10, 1500), (20, 300), (30, 800)])
    got = interval_energy(counter, start=at(0), end=at(30), max_gap="60s")
    assert got.value == pytest.approx(500.0 + 300.0 + 500.0, **EXACT)
    assert got.resets == 1
    assert got.wraps == 0
    assert got.coverage == 1.0


def test_counter_wrap_near_wrap_at() -> None:
    counter = frame([(0, 1700), (10, 1900), (20, 100), (30, 150)])
    got = interval_energy(counter, start=at(0), end=at(30), max_gap="60s", wrap_at=2000.0)
    # 200 + (2000 - 1900 + 100) + 50
    assert got.value == pytest.approx(450.0, **EXACT)
    assert (got.wraps, got.resets) == (1, 0)


def test_drop_far_from_wrap_at_is_a_reset() -> None:
    counter = frame([(0, 1000), (10, 1799), (20, 100)])
    got = interval_energy(counter, start=at(0), end=at(20), max_gap="60s", wrap_at=2000.0)
    assert got.value == pytest.approx(799.0 + 100.0, **EXACT)
    assert (got.wraps, got.resets) == (0, 1)
    edge = frame([(0, 1000), (10, 1800), (20, 100)])  # 1800 = 0.9 x wrap_at: a wrap
    got = interval_energy(edge, start=at(0), end=at(20), max_gap="60s", wrap_at=2000.0)
    assert got.value == pytest.approx(800.0 + 300.0, **EXACT)
    assert (got.wraps, got.resets) == (1, 0)


def test_counter_gap_is_spread_over_the_windows_it_spans_and_not_covered() -> None:
    counter = frame([(0, 0), (10, 100), (1000, 600), (1010, 700)])
    whole = interval_energy(counter, start=at(0), end=at(1020), max_gap="60s")
    assert whole.value == pytest.approx(700.0, **EXACT)
    assert whole.uncovered_increase == pytest.approx(500.0, **EXACT)
    assert whole.covered_s == 20.0
    assert whole.coverage == pytest.approx(20 / 1020, **EXACT)
    assert whole.gaps == ((at(10), at(1000)), (at(1010), at(1020)))
    # The 500 J across the 990 s gap (10 s .. 1000 s) go 490/990 before 500 s, 500/990 after.
    late = interval_energy(counter, start=at(500), end=at(1020), max_gap="60s")
    assert late.value == pytest.approx(500.0 * 500 / 990 + 100.0, **EXACT)
    early = interval_energy(counter, start=at(0), end=at(500), max_gap="60s")
    assert early.value == pytest.approx(100.0 + 500.0 * 490 / 990, **EXACT)
    assert early.value + late.value == pytest.approx(whole.value, **EXACT)
    assert late.covered_s == 10.0
    # The 990 s gap is longer than a 900 s look-back: its increase is dropped, wherever the
    # window starts.
    for start in (0, 500, 950):
        far = interval_energy(
            counter, start=at(start), end=at(1020), max_gap="60s", counter_lookback="900s"
        )
        assert far.value == pytest.approx(100.0 * (1 + (start == 0)), **EXACT)
        assert far.uncovered_increase == 0.0
    near = interval_energy(
        counter, start=at(950), end=at(1020), max_gap="60s", counter_lookback="990s"
    )
    assert near.value == pytest.approx(500.0 * 50 / 990 + 100.0, **EXACT)


def test_counter_out_of_order_with_duplicates() -> None:
    counter = frame([(20, 2500), (0, 1000), (10, 1500), (10, 1), (0, 7)])
    got = interval_energy(counter, start=at(0), end=at(20), max_gap="60s")
    assert got.value == pytest.approx(1500.0, **EXACT)
    assert got.resets == 0


def test_counter_reset_filled_from_power_when_power_covers_the_pair() -> None:
    counter = frame([(0, 1000), (10, 2000), (20, 500), (30, 1500)])
    power = frame([(s, 100) for s in range(0, 35, 5)])
    alone = interval_energy(counter, start=at(0), end=at(30), max_gap="60s")
    assert alone.value == pytest.approx(2500.0, **EXACT)
    assert (alone.source, alone.resets) == ("counter", 1)
    both = interval_energy(counter, power, start=at(0), end=at(30), max_gap="60s")
    # 1000 + 100 W x 10 s (reset pair from power) + 1000
    assert both.value == pytest.approx(3000.0, **EXACT)
    assert both.source == "counter+power"
    assert both.filled_from_power_s == 10.0
    assert both.resets == 1
    partial = frame([(0, 100), (5, 100), (12, 100)])
    kept = interval_energy(counter, partial, start=at(0), end=at(30), max_gap="60s")
    assert kept.value == pytest.approx(2500.0, **EXACT)
    assert (kept.source, kept.filled_from_power_s) == ("counter", 0.0)


def test_counter_is_preferred_over_power() -> None:
    counter = frame([(0, 0), (10, 1000)])
    power = frame([(0, 5), (10, 5)])
    got = interval_energy(counter, power, start=at(0), end=at(10), max_gap="60s")
    assert (got.value, got.source) == (1000.0, "counter")
    fallback = interval_energy(frame([]), power, start=at(0), end=at(10), max_gap="60s")
    assert (fallback.value, fallback.source) == (50.0, "power")


def test_interval_increase_is_the_counter_definition() -> None:
    water = frame([(0, 10), (10, 30), (20, 5)])
    got = interval_increase(water, start=at(0), end=at(20), max_gap="60s")
    assert got.value == pytest.approx(25.0, **EXACT)
    assert got.resets == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": at(10), "end": at(10)}, "empty interval"),
        ({"start": pd.Timestamp("2025-01-01"), "end": at(10)}, "tz-aware"),
        ({"start": at(0), "end": at(10), "max_gap": "0s"}, "max_gap"),
    ],
)
def test_bad_arguments_are_errors(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"max_gap": "60s", **kwargs}
    with pytest.raises(ValueError, match=message):
        interval_energy(power=frame([(0, 1), (5, 1)]), **args)


def test_empty_counter_without_power_has_zero_coverage() -> None:
    got = interval_energy(frame([(5, 100)]), start=at(0), end=at(10), max_gap="60s")
    assert (got.value, got.coverage, got.source) == (0.0, 0.0, "counter")
    empty = interval_energy(frame([]), start=at(0), end=at(10), max_gap="60s")
    assert (empty.value, empty.coverage, empty.source) == (0.0, 0.0, "counter")


def test_needs_a_counter_or_power() -> None:
    with pytest.raises(ValueError, match="neither"):
        interval_energy(start=at(0), end=at(10), max_gap="60s")


def test_naive_sample_timestamps_are_an_error() -> None:
    naive = pd.DataFrame({"ts": pd.to_datetime(["2025-01-01"]), "value": [1.0]})
    with pytest.raises(ValueError, match="tz-aware"):
        interval_energy(power=naive, start=at(0), end=at(10), max_gap="60s")


# --- per bucket ----------------------------------------------------------------------------------


def test_energy_per_bucket_golden() -> None:
    power = frame([(s, 1000) for s in range(0, 3 * 3600 + 1, 1800)])
    per = energy_per_bucket(power=power, bucket="1h", max_gap="1h")
    assert list(per["bucket"]) == [at(0), at(3600), at(7200), at(10800)]
    assert per["value"].tolist() == pytest.approx([3.6e6, 3.6e6, 3.6e6, 0.0], **EXACT)
    assert per["coverage"].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert set(per["source"]) == {"power"}


def test_counter_per_bucket_splits_and_spreads_gaps() -> None:
    counter = frame([(1800, 0), (5400, 3.6e6), (5400 + 7200, 4.6e6)])
    per = energy_per_bucket(counter, bucket="1h", start=at(0), end=at(4 * 3600), max_gap="90min")
    # 1.8e6 in each of the first two hours; the 1e6 J across the 2 h gap (1.5 h .. 3.5 h) are
    # spread in proportion to time: 1/4 in hour 2, 1/2 in hour 3, 1/4 in hour 4, none covered.
    assert per["value"].tolist() == pytest.approx([1.8e6, 2.05e6, 0.5e6, 0.25e6], **EXACT)
    assert per["covered_s"].tolist() == [1800.0, 1800.0, 0.0, 0.0]
    spread = [0, 0.25e6, 0.5e6, 0.25e6]
    assert per["uncovered_increase"].tolist() == pytest.approx(spread, **EXACT)
    whole = interval_energy(counter, start=at(0), end=at(4 * 3600), max_gap="90min")
    assert per["value"].sum() == pytest.approx(whole.value, **EXACT)


def test_buckets_sum_to_the_interval_with_reset_fill() -> None:
    counter = frame([(0, 1000), (10, 2000), (20, 500), (30, 1500)])
    power = frame([(s, 100) for s in range(0, 35, 5)])
    per = energy_per_bucket(counter, power, bucket="7s", start=at(0), end=at(35), max_gap="60s")
    whole = interval_energy(counter, power, start=at(0), end=at(35), max_gap="60s")
    assert per["value"].sum() == pytest.approx(whole.value, **EXACT)
    assert per["filled_from_power_s"].sum() == pytest.approx(10.0, **EXACT)
    assert "counter+power" in set(per["source"])
    assert np.all((per["coverage"] >= 0) & (per["coverage"] <= 1))


def test_energy_per_bucket_of_nothing_is_empty() -> None:
    per = energy_per_bucket(power=frame([]), bucket="1h", max_gap="1h")
    assert per.empty


def test_any_timestamp_resolution_and_timezone() -> None:
    power = frame([(0, 100), (10, 200), (20, 200), (30, 100)])
    coarse = power.assign(ts=power["ts"].dt.as_unit("s").dt.tz_convert("Asia/Shanghai"))
    got = interval_energy(power=coarse, start=at(0), end=at(30), max_gap="60s")
    assert got.value == pytest.approx(5000.0, **EXACT)
    assert str(got.start.tz) == "UTC"
