"""Computing power in the KPI snapshot and on ``/metrics``: a hand-built two-site store.

gpu-1 (west, hub guizhou) registers 100 test GPUs (1 PFLOPS FP16 each, pool ``train``, class
ai); its collectors see 96, busy at 50 %; facility 1,100 kW. cpu-1 (east, hub chengyu) registers
1,000 test CPUs (2 TFLOPS FP64, pool ``web``, class general), all seen, busy at 25 %; facility
20 kW. Over the 2-hour window gpu-1 delivers 100 PFLOPS x 2 h x 0.5 = 100 PFLOP-h for 2,200 kWh:
22 kWh (79.2 MJ) per PFLOP-h, 5e16 FLOPS / 1.1 MW = 45.45 GFLOPS/W. train passed a benchmark
ten days before the window's end, web failed one yesterday (its available FLOPS are 0).
"""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from greenwatch.export import (
    FIGURES,
    ExportStats,
    KpiExports,
    KpiSnapshot,
    ServiceHealth,
    build_registry,
    exposition,
    take_snapshot,
)
from greenwatch.inventory import DeviceModel, Inventory, Location, Site, Targets
from greenwatch.model import make_batch
from greenwatch.query import ComputeSource, compute_figures, declared_pools
from greenwatch.store import DuckDBStore
from tests.conftest import need_binary

T0 = pd.Timestamp("2026-06-01T00:00:00Z")
END = T0 + pd.Timedelta(hours=2)
WINDOW = {"2h": pd.Timedelta(hours=2)}
MINUTES = pd.date_range(T0, END, freq="1min")
MODELS = (
    DeviceModel.model_validate(
        {
            "id": "test-gpu",
            "vendor": "Test",
            "kind": "gpu",
            "names": ["Test GPU"],
            "peak_flops": {"fp64": 5e13, "fp16": 1e15},
            "rated_power_w": 500,
            "source": "made up",
        }
    ),
    DeviceModel.model_validate(
        {
            "id": "test-cpu",
            "vendor": "Test",
            "kind": "cpu",
            "names": ["Test CPU"],
            "peak_flops": {"fp64": 2e12},
            "rated_power_w": 10,
            "source": "made up",
        }
    ),
)


def _site(sid: str, hub: str, region: str, pool: dict[str, object]) -> Site:
    return Site.model_validate(
        {
            "id": sid,
            "name": sid,
            "kind": "hub_cluster",
            "hub": hub,
            "region": region,
            "province": "Guizhou",
            "location": Location(lat=26.4, lon=106.3),
            "it_capacity_kw": 2000,
            "targets": Targets(pue=1.25),
            "compute": [pool],
        }
    )


INVENTORY = Inventory(
    sites=(
        _site("gpu-1", "guizhou", "west", {"id": "train", "class": "ai", "model": "test-gpu",
                                           "count": 100}),
        _site("cpu-1", "chengyu", "east", {"id": "web", "class": "general", "model": "test-cpu",
                                           "count": 1000}),
    ),
    device_models=MODELS,
)  # fmt: skip


def _source() -> ComputeSource:
    records = pd.DataFrame(
        [
            ("gpu-1", "train", "hpl-mxp", "fp16", 8e16, 100, True, END - pd.Timedelta(days=10)),
            ("cpu-1", "web", "hpl", "fp64", np.nan, 1000, False, END - pd.Timedelta(days=1)),
        ],
        columns=["site", "pool", "benchmark", "precision", "measured_flops", "devices", "passed",
                 "at"],
    )  # fmt: skip
    pools = declared_pools(INVENTORY)
    return lambda: (pools, records)


@pytest.fixture(scope="module")
def store() -> DuckDBStore:
    store = DuckDBStore(":memory:")
    minutes = np.arange(len(MINUTES))
    for site, facility_kw, resource, busy, model, seen in (
        ("gpu-1", 1100.0, "gpu", 0.5, "Test GPU", 96.0),
        ("cpu-1", 20.0, "cpu", 0.25, "Test CPU", 1000.0),
    ):
        for meter, kw in (("facility", facility_kw), ("it_pdu_output", facility_kw / 1.1)):
            joules = minutes * kw * 1000 * 60
            store.write(
                make_batch(MINUTES, "energy_joules_total", joules, {"site": site, "meter": meter})
            )
        labels = {"site": site, "resource": resource}
        store.write(make_batch(MINUTES, "utilisation_ratio", np.full(len(MINUTES), busy), labels))
        labels = {"site": site, "device_kind": resource, "model": model}
        store.write(make_batch(MINUTES, "compute_devices", np.full(len(MINUTES), seen), labels))
    return store  # fmt: skip


@pytest.fixture(scope="module")
def snapshot(store: DuckDBStore) -> KpiSnapshot:
    return take_snapshot(store, INVENTORY, END, WINDOW, compute=_source())


def _one(snapshot: KpiSnapshot, figure: str, **labels: str) -> float:
    (point,) = snapshot.find(figure, **labels)
    return point.value


def test_rated_and_available_per_scope_and_class(snapshot: KpiSnapshot) -> None:
    for scope in (
        {"site": "gpu-1"},
        {"scope": "hub", "hub": "guizhou"},
        {"scope": "region", "region": "west"},
    ):
        assert _one(snapshot, "compute_rated", **scope) == pytest.approx(1e17)
    (point,) = snapshot.find("compute_available", site="gpu-1")
    assert (point.value, point.coverage) == (pytest.approx(0.96e17), 1.0)
    assert dict(point.labels) == {
        "scope": "site",
        "site": "gpu-1",
        "hub": "guizhou",
        "region": "west",
        "class": "ai",
    }
    assert _one(snapshot, "compute_available", scope="national", **{"class": "general"}) == 0.0
    assert _one(snapshot, "compute_verified_share", scope="national", **{"class": "ai"}) == 1.0
    # classes are never added: one national point per class
    national = snapshot.find("compute_rated", scope="national")
    assert sorted(p.label_dict()["class"] for p in national) == ["ai", "general"]


def test_delivered_and_what_it_costs_in_base_units(
    store: DuckDBStore, snapshot: KpiSnapshot
) -> None:
    (delivered,) = snapshot.find("compute_delivered", site="gpu-1", window="2h")
    assert (delivered.value, delivered.coverage) == (pytest.approx(5e16), pytest.approx(1.0))
    assert _one(snapshot, "compute_flops_per_watt", site="gpu-1") == pytest.approx(5e16 / 1.1e6)
    joules = _one(snapshot, "compute_energy_per_pflop_hour", site="gpu-1")
    assert joules == pytest.approx(22 * 3.6e6)
    figures = compute_figures(store, INVENTORY, T0, END, source=_source())
    kg = figures.efficiency("site").set_index("key").at["gpu-1", "kg_co2_per_pflop_hour"]
    assert _one(snapshot, "compute_carbon_per_pflop_hour", site="gpu-1") == pytest.approx(kg * 1000)
    assert FIGURES["compute_energy_per_pflop_hour"].prom.endswith("_joules")


def test_pool_verification_and_devices(snapshot: KpiSnapshot) -> None:
    states = {
        (p.label_dict()["pool"], p.label_dict()["state"]): p.value
        for p in snapshot.find("compute_pool_verification")
    }
    assert {k for k, v in states.items() if v == 1.0} == {("train", "ok"), ("web", "failed")}
    assert len(states) == 8  # every state of both pools: absent and 0 read differently
    (age,) = snapshot.find("compute_verification_age", pool="train")
    assert age.value == 10 * 86400
    assert age.label_dict() == {
        "site": "gpu-1",
        "hub": "guizhou",
        "region": "west",
        "pool": "train",
        "class": "ai",
        "model": "test-gpu",
    }
    assert _one(snapshot, "compute_devices_registered", site="gpu-1") == 100.0
    (missing,) = snapshot.find("compute_devices_missing")
    assert (missing.label_dict()["model"], missing.value) == ("test-gpu", 4.0)


def test_points_at_the_snapshot_time_come_once_for_all_windows(store: DuckDBStore) -> None:
    windows = {"1h": pd.Timedelta(hours=1), "2h": pd.Timedelta(hours=2)}
    snapshot = take_snapshot(store, INVENTORY, END, windows)
    assert len(snapshot.find("compute_rated", site="gpu-1")) == 1
    assert len(snapshot.find("compute_pool_verification", pool="train")) == 4
    assert {p.label_dict()["window"] for p in snapshot.find("compute_delivered", site="gpu-1")} == {
        "1h",
        "2h",
    }
    # the inventory alone has no verification records: never verified, no age
    assert _one(snapshot, "compute_pool_verification", pool="train", state="never") == 1.0
    assert not snapshot.find("compute_verification_age")


def test_exports_take_their_compute_source(store: DuckDBStore) -> None:
    exports = KpiExports(store, INVENTORY, lambda: END, compute=_source())
    snapshot = exports.refresh()
    assert snapshot is not None
    assert _one(snapshot, "compute_pool_verification", pool="web", state="failed") == 1.0


def test_metrics_page_families_units_and_help(snapshot: KpiSnapshot) -> None:
    registry = build_registry(lambda: snapshot, ServiceHealth, ExportStats())
    body, _ = exposition(registry, "application/openmetrics-text;version=1.0.0")
    text = body.decode()
    families = {f.name: f for f in text_string_to_metric_families(exposition(registry)[0].decode())}
    for name in (
        "greenwatch_site_compute_rated_flops",
        "greenwatch_national_compute_available_flops",
        "greenwatch_hub_compute_available_coverage_ratio",
        "greenwatch_region_compute_delivered_2h_flops",
        "greenwatch_site_compute_delivered_2h_coverage_ratio",
        "greenwatch_national_compute_2h_flops_per_watt",
        "greenwatch_site_compute_energy_per_pflop_hour_2h_joules",
        "greenwatch_hub_compute_carbon_per_pflop_hour_2h_grams",
        "greenwatch_compute_verification_age_seconds",
        "greenwatch_compute_pool_verification",
        "greenwatch_compute_devices_registered",
        "greenwatch_compute_devices_missing",
    ):
        assert families[name].type == "gauge", name
        assert families[name].documentation, name
    assert "# UNIT greenwatch_site_compute_energy_per_pflop_hour_2h_joules joules" in text
    assert "# UNIT greenwatch_national_compute_rated_flops flops" in text
    assert families["greenwatch_site_compute_available_coverage_ratio"].documentation.startswith(
        "Share of the rated FLOPS whose devices collectors identify"
    )


@pytest.mark.integration
def test_promtool_finds_nothing_to_lint(snapshot: KpiSnapshot) -> None:
    promtool = need_binary("promtool")
    body, _ = exposition(build_registry(lambda: snapshot, ServiceHealth, ExportStats()))
    assert b"greenwatch_compute_devices_missing{" in body
    done = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=30, check=False
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, b"")
