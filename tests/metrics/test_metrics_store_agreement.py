"""The store's SQL roll-ups and greenwatch.metrics implement one energy definition.

Counter increases per bucket from the embedded DuckDB store equal :func:`energy_per_bucket`
on the same raw samples, through resets, a gap shorter than the look-back (attributed) and one
longer (dropped).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from greenwatch.metrics import energy_per_bucket
from greenwatch.model import make_batch
from greenwatch.store import DuckDBStore, Gaps

START = pd.Timestamp("2025-01-01T00:00Z")
END = START + pd.Timedelta(days=2)


def _counter() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    t = np.sort(rng.choice(np.arange(0, 2 * 86400), 2000, replace=False)).astype(np.int64)
    t = t[(t < 30000) | (t > 30000 + 8 * 3600)]  # 8 h outage: longer than the look-back
    t = t[(t < 90000) | (t > 90000 + 2 * 3600)]  # 2 h outage: shorter
    v = np.cumsum(rng.uniform(0, 1e5, t.size))
    v[700:] -= v[700]  # reset to 0
    v[1500:] -= v[1500] - 10.0  # reset to 10
    ts = pd.to_datetime(START.value + t * 1_000_000_000, utc=True).as_unit("ns")
    return pd.DataFrame({"ts": ts, "value": v})


@pytest.mark.parametrize("step", ["1h", "1D", "2D"])
def test_store_increase_equals_metrics_energy(step: str) -> None:
    counter = _counter()
    gaps = Gaps(max_gap=pd.Timedelta("10min"), counter_lookback=pd.Timedelta("6h"))
    store = DuckDBStore(gaps=gaps)
    try:
        store.write(
            make_batch(
                counter["ts"], "energy_joules_total", counter["value"], {"site": "x", "meter": "f"}
            )
        )
        got = store.query(
            "energy_joules_total",
            START,
            END,
            step=pd.Timedelta(step),
            agg=["increase", "coverage"],
        ).set_index("ts")
    finally:
        store.close()
    mine = energy_per_bucket(
        counter, bucket=step, start=START, end=END, max_gap="10min", counter_lookback="6h"
    ).set_index("bucket")
    increase = got["increase"].reindex(mine.index, fill_value=0.0)
    coverage = got["coverage"].reindex(mine.index, fill_value=0.0)
    assert increase.to_numpy() == pytest.approx(mine["value"].to_numpy(), rel=1e-12, abs=1e-6)
    assert coverage.to_numpy() == pytest.approx(mine["coverage"].to_numpy(), abs=1e-12)
    assert mine["resets"].sum() >= 2
