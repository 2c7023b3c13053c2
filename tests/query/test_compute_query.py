"""Computing-power figures read from a real DuckDB store agree with the hand-computed values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from greenwatch.inventory import ComputePool, Inventory, Location, Site
from greenwatch.model import make_batch
from greenwatch.query import compute_figures
from greenwatch.resources import verification_frame
from greenwatch.store import DuckDBStore

T0 = pd.Timestamp("2026-06-01T00:00:00Z")
END = T0 + pd.Timedelta(hours=2)
H100_FP16 = 989.4e12

POOL = ComputePool.model_validate(
    {"id": "training", "class": "ai", "model": "NVIDIA H100 80GB HBM3", "count": 8}
)
SITE = Site(
    id="gpu-1",
    name="GPU site",
    kind="ai",
    region="west",
    province="Guizhou",
    location=Location(lat=26.4, lon=106.3),
    it_capacity_kw=1000,
    compute=(POOL,),
)
INVENTORY = Inventory(sites=(SITE,))


def _fill(store: DuckDBStore) -> None:
    ts = pd.date_range(T0, END, freq="1min")  # 121 samples, both ends
    minutes = np.arange(len(ts))
    site = {"site": "gpu-1"}
    for meter, kw in (("facility", 1100.0), ("it_pdu_output", 1000.0)):
        joules = minutes * kw * 1000 * 60
        store.write(make_batch(ts, "energy_joules_total", joules, {**site, "meter": meter}))
    util = np.full(len(ts), 0.5)
    store.write(make_batch(ts, "utilisation_ratio", util, {**site, "resource": "gpu"}))
    # Two hosts report 4 and 2 H100s: 6 of the 8 registered.
    for host, n in (("node-1", 4.0), ("node-2", 2.0)):
        labels = {**site, "device_kind": "gpu", "model": "NVIDIA H100 80GB HBM3", "source": host}
        store.write(make_batch(ts, "compute_devices", np.full(len(ts), n), labels))


def test_figures_from_the_store(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "greenwatch.duckdb")
    try:
        _fill(store)
        figures = compute_figures(store, INVENTORY, T0, END)
    finally:
        store.close()
    finding = figures.findings.iloc[0]
    assert (finding["registered"], finding["seen"], finding["finding"]) == (8, 6.0, "missing")
    nation = figures.power("national").set_index("class").loc["ai"]
    assert nation["rated_flops"] == pytest.approx(8 * H100_FP16)
    assert nation["available_flops"] == pytest.approx(6 * H100_FP16)
    eff = figures.efficiency("site").set_index("class").loc["ai"]
    # 2 h x 8 x 989.4 TFLOPS x 0.5 = 7.9152 PFLOP-h; facility 1,100 kW x 2 h = 2,200 kWh
    assert eff["delivered_pflop_hours"] == pytest.approx(7.9152)
    assert eff["energy_kwh"] == pytest.approx(2200.0)
    assert eff["kwh_per_pflop_hour"] == pytest.approx(2200.0 / 7.9152)
    assert eff["coverage"] == pytest.approx(1.0)
    free = figures.free.set_index(["site", "class"]).loc[("gpu-1", "ai")]
    assert free["free_flops"] == pytest.approx(6 * H100_FP16 * 0.5)
    assert figures.status["verification"].tolist() == ["never"]


def test_empty_store_gives_figures_without_coverage(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "greenwatch.duckdb")
    try:
        figures = compute_figures(
            store, INVENTORY, T0, END, source=lambda: ([("gpu-1", POOL)], verification_frame(()))
        )
    finally:
        store.close()
    assert figures.findings.empty
    eff = figures.efficiency("national").set_index("class").loc["ai"]
    assert eff["coverage"] == 0.0
    assert np.isnan(eff["kwh_per_pflop_hour"])
    assert figures.power("national").set_index("class").loc["ai", "identified_share"] == 0.0
