"""Energy on a real NVIDIA H100 trace (shared/data/gpu-h100/gpu-nvml-trace.csv).

The NVML total-energy counter (millijoules) is the truth; power (W) sampled every ~100 ms is
integrated at coarser sampling to see how far the trapezoid drifts. Run with ``-s`` to see the
table.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from greenwatch.metrics import energy_per_bucket, interval_energy
from tests.h100 import load_trace

LAST = 1800  # the window [ts[0], ts[1800]) ends on a sample of every subsampling below


@pytest.fixture(scope="module")
def trace(shared_data: Path) -> pd.DataFrame:
    return load_trace(shared_data)


def _counter(trace: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"ts": trace["ts"], "value": trace["energy_j"]})


def _power(trace: pd.DataFrame, every: int = 1) -> pd.DataFrame:
    rows = trace.iloc[::every]
    return pd.DataFrame({"ts": rows["ts"], "value": rows["power_w"]})


def _window(trace: pd.DataFrame) -> dict[str, pd.Timestamp]:
    return {"start": trace["ts"].iloc[0], "end": trace["ts"].iloc[LAST]}


def test_power_integration_against_the_counter(trace: pd.DataFrame) -> None:
    window = _window(trace)
    truth = interval_energy(_counter(trace), max_gap="1s", **window)
    assert truth.source == "counter"
    assert truth.coverage == 1.0
    expected = trace["energy_j"].iloc[LAST] - trace["energy_j"].iloc[0]
    assert truth.value == pytest.approx(expected, rel=1e-12)

    errors: dict[float, float] = {}
    lines = [
        "",
        "H100 trace: energy over [ts0, ts1800), NVML counter = truth",
        f"{'sampling':>9} {'energy J':>12} {'error %':>9} {'coverage':>9}",
        f"{'counter':>9} {truth.value:12.2f} {0.0:9.4f} {truth.coverage:9.3f}",
    ]
    for every in (1, 10, 50, 150):
        step_s = every / 10
        got = interval_energy(power=_power(trace, every), max_gap=f"{3 * step_s}s", **window)
        errors[step_s] = (got.value - truth.value) / truth.value
        assert got.source == "power"
        assert got.coverage == 1.0
        lines.append(
            f"{step_s:8.1f}s {got.value:12.2f} {100 * errors[step_s]:9.4f} {got.coverage:9.3f}"
        )
    print("\n".join(lines))
    assert abs(errors[1.0]) <= 0.001
    assert abs(errors[5.0]) <= 0.005
    # 15 s sampling aliases the burst/idle phases: recorded above, not bounded.


def test_engine_prefers_the_counter(trace: pd.DataFrame) -> None:
    got = interval_energy(_counter(trace), _power(trace), max_gap="1s", **_window(trace))
    assert got.source == "counter"
    assert got.filled_from_power_s == 0.0


def test_spliced_reset_loses_one_interval_and_power_fills_it(trace: pd.DataFrame) -> None:
    window = _window(trace)
    at = 900
    truth = interval_energy(_counter(trace), max_gap="1s", **window)
    reset = _counter(trace)
    reset.loc[at:, "value"] -= reset["value"].iloc[at]  # counter restarts from 0 at sample 900
    lost_pair = trace["energy_j"].iloc[at] - trace["energy_j"].iloc[at - 1]

    alone = interval_energy(reset, max_gap="1s", **window)
    assert alone.resets == 1
    assert alone.source == "counter"
    assert truth.value - alone.value == pytest.approx(lost_pair, rel=1e-9)

    both = interval_energy(reset, _power(trace), max_gap="1s", **window)
    pair_s = (trace["ts"].iloc[at] - trace["ts"].iloc[at - 1]).total_seconds()
    assert both.source == "counter+power"
    assert both.resets == 1
    assert both.filled_from_power_s == pytest.approx(pair_s, rel=1e-12)
    # The filled pair differs from the truth only by the trapezoid's error on one 0.1 s pair.
    assert abs(both.value - truth.value) < 0.05 * lost_pair
    print(
        f"\nspliced reset at sample {at}: truth {truth.value:.2f} J, counter alone "
        f"{alone.value:.2f} J (lost {lost_pair:.2f} J), filled from power {both.value:.2f} J"
    )


def test_minute_buckets_add_up_to_the_interval(trace: pd.DataFrame) -> None:
    window = _window(trace)
    per = energy_per_bucket(_counter(trace), bucket="1min", max_gap="1s", **window)
    whole = interval_energy(_counter(trace), max_gap="1s", **window)
    assert per["value"].sum() == pytest.approx(whole.value, rel=1e-12)
    assert per["covered_s"].sum() == pytest.approx(whole.covered_s, rel=1e-12)
