"""The real H100 trace (shared/data/gpu-h100) through the store and the energy API, with a
counter reset spliced in: energy counter sampled every 15 s, power every 1 s.

Truth is the trace's own NVML counter without the reset. Over the 3 minutes the read path
fills the reset pair from the device's power series and lands within 0.1 % of the truth; the
counter alone would lose the energy between its last reading and the reset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.h100 import load_trace

from greenwatch.ingest import Ingest
from greenwatch.inventory import Inventory, Location, Site, Targets
from greenwatch.model import make_batch
from greenwatch.query import energy_read
from greenwatch.service import ApiContext
from greenwatch.service._api_kpi import register
from greenwatch.service._http import create_flask
from greenwatch.store import DuckDBStore

SITE = Site(
    id="gpu-lab",
    name="gpu-lab",
    kind="ai",
    region="east",
    province="Beijing",
    location=Location(lat=39.9, lon=116.4),
    it_capacity_kw=10,
    pue_category=3,
    targets=Targets(pue=1.3),
)
LABELS = {"site": "gpu-lab", "device": "gpu0", "device_kind": "gpu"}


@pytest.fixture(scope="module")
def trace(shared_data: Path) -> pd.DataFrame:
    return load_trace(shared_data)


def test_h100_reset_filled_from_power_through_the_api(trace: pd.DataFrame, tmp_path: Path) -> None:
    seconds = (trace["ts"] - trace["ts"].iloc[0]).dt.total_seconds().to_numpy()
    counter = trace[
        np.isclose(seconds % 15, 0, atol=0.05) | np.isclose(seconds % 15, 15, atol=0.05)
    ]
    power = trace[np.isclose(seconds % 1, 0, atol=0.05) | np.isclose(seconds % 1, 1, atol=0.05)]
    assert len(counter) >= 12
    assert len(power) >= 170
    # Reset 7 s after the counter's reading at ~90 s: later readings restart from zero there.
    reset_at = trace["ts"].iloc[0] + pd.Timedelta(seconds=97)
    at_reset = float(np.interp(97.0, seconds, trace["energy_j"].to_numpy()))
    spliced = np.where(
        counter["ts"] >= reset_at, counter["energy_j"] - at_reset, counter["energy_j"]
    )
    store = DuckDBStore(tmp_path / "h100.duckdb")
    store.write(make_batch(counter["ts"], "device_energy_joules_total", spliced, LABELS))
    store.write(make_batch(power["ts"], "device_power_watts", power["power_w"].to_numpy(), LABELS))
    start, end = counter["ts"].iloc[0], counter["ts"].iloc[-1]
    truth = counter["energy_j"].iloc[-1] - counter["energy_j"].iloc[0]

    app = create_flask(lambda: True)
    register(app, ApiContext(store, Inventory(sites=(SITE,)), Ingest(store.write), lambda: end))
    got = app.test_client().get(
        "/api/v1/energy",
        query_string={
            "site": "gpu-lab",
            "device": "gpu0",
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
    )
    assert got.status_code == 200
    data = got.get_json()["data"]
    assert (data["provenance"], data["resets"]) == ("mixed", 1)
    assert data["filled_from_power_s"] == pytest.approx(15.0, abs=0.2)
    assert data["coverage"] == 1.0
    error = abs(data["joules"] - truth) / truth
    print(f"\nH100 read {data['joules']:.1f} J vs counter truth {truth:.1f} J: {error:.4%}")
    assert error < 0.001
    # The counter alone loses the 7 s before the reset: well over 0.1 % of three minutes.
    alone = store.query("device_energy_joules_total", start, end, agg="increase")
    assert abs(float(alone["value"].iloc[0]) - truth) / truth > 0.01
    direct = energy_read(store, "gpu-lab", start, end, device="gpu0")
    assert direct.joules == data["joules"]
