"""Prometheus scrape collector: real dcgm-exporter pages and node_exporter pages over loopback
HTTP, and a real prometheus-node-exporter process reading a RAPL/hwmon sysfs fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.collect import CollectorError, build_collector, collect_once
from greenwatch.collect import _prom as prom_module
from tests.collect.conftest import TESTDATA, assert_golden, fixed_clock
from tests.collect.servers import StaticServer, node_exporter
from tests.conftest import free_port, need_binary

TEXT = "text/plain; version=0.0.4; charset=utf-8"


@pytest.fixture
def pages(shared_data: Path) -> Iterator[StaticServer]:
    folder = shared_data / "prometheus"
    routes = {
        f"/{name}/metrics": (200, TEXT, (folder / f"{name}.prom").read_bytes())
        for name in (
            "dcgm-exporter-nvidia-l4",
            "dcgm-exporter-nvidia-l40s",
            "node-exporter-1.5.0-debian12",
        )
    }
    routes["/broken/metrics"] = (200, TEXT, b'DCGM_FI_DEV_POWER_USAGE{gpu="0" 16.3\n')
    routes["/error/metrics"] = (500, TEXT, b"internal error")
    with StaticServer(routes=routes) as server:
        yield server


def _one(batch, metric, **labels):
    rows = batch[batch.metric == metric]
    for key, value in labels.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1, f"{metric} {labels}: {len(rows)} rows"
    return float(rows.value.iloc[0])


@pytest.mark.parametrize(
    ("page", "host", "watts", "millijoules"),
    [
        ("dcgm-exporter-nvidia-l4", "i-030791dc5a37cd257", 16.365, 4742776),
        ("dcgm-exporter-nvidia-l40s", None, 35.686, 5551899580),
    ],
)
def test_dcgm_exporter_pages(
    pages: StaticServer, page: str, host: str | None, watts: float, millijoules: float
) -> None:
    target = {"name": "gpu-node-1", "site": "wuhu-1", "url": f"{pages.url}/{page}/metrics"}
    batch = collect_once("dcgm-exporter", target, clock=fixed_clock)
    device_kind = "gpu"
    power = batch[(batch.metric == "device_power_watts") & (batch.device_kind == device_kind)]
    assert power.value.tolist() == [watts]
    if host is not None:
        assert power.device.iloc[0] == f"{host}/gpu0"
    energy = batch[batch.metric == "device_energy_joules_total"].value.tolist()
    assert energy == [pytest.approx(millijoules / 1000)]  # mJ -> J
    util = batch[batch.metric == "device_utilisation_ratio"]
    assert set(util.resource) == {"gpu", "memory"}
    assert ((util.value >= 0) & (util.value <= 1)).all()
    assert_golden(batch, f"prometheus/{page}.expected")


def test_node_exporter_page_without_rapl_maps_nothing(pages: StaticServer) -> None:
    # The captured VM exposes no powercap or hwmon: a valid, empty batch, not an error.
    target = {
        "name": "vm",
        "site": "s1",
        "url": f"{pages.url}/node-exporter-1.5.0-debian12/metrics",
    }
    batch = collect_once("node-exporter", target)
    assert len(batch) == 0


def _sysfs(root: Path) -> Path:
    """A sysfs fixture in the kernel's layout: RAPL package/core/dram zones and one hwmon chip."""
    zones = {
        "intel-rapl:0": ("package-0", 123456789, 262143328850),
        "intel-rapl:0:0": ("core", 2345678, 262143328850),
        "intel-rapl:0:1": ("dram", 3456789, 65712999613),
        "intel-rapl:1": ("package-1", 98765432, 262143328850),
    }
    for zone, (name, energy_uj, max_uj) in zones.items():
        folder = root / "class" / "powercap" / zone
        folder.mkdir(parents=True)
        (folder / "name").write_text(f"{name}\n")
        (folder / "energy_uj").write_text(f"{energy_uj}\n")
        (folder / "max_energy_range_uj").write_text(f"{max_uj}\n")
    chip = root / "class" / "hwmon" / "hwmon0"
    chip.mkdir(parents=True)
    (chip / "name").write_text("coretemp\n")
    (chip / "temp1_input").write_text("45000\n")
    (chip / "temp1_label").write_text("Package id 0\n")
    return root


@pytest.mark.integration
def test_real_node_exporter_rapl_and_hwmon(tmp_path: Path) -> None:
    binary = need_binary("prometheus-node-exporter", "node_exporter")
    sysfs = _sysfs(tmp_path / "sys")
    with node_exporter(binary, tmp_path, free_port(), sysfs) as url:
        target = {"name": "node-1", "site": "s1", "url": url}
        batch = collect_once("node-exporter", target, clock=fixed_clock)
    energy = batch[batch.metric == "device_energy_joules_total"].set_index("device").value
    # Package zones only (core overlaps package), plus DRAM; µJ counters -> J by the exporter.
    assert energy.to_dict() == {
        "node-1/cpu0": pytest.approx(123.456789),
        "node-1/cpu1": pytest.approx(98.765432),
        "node-1/dram0": pytest.approx(3.456789),
    }
    assert _one(batch, "temperature_celsius", sensor="node-1/coretemp/temp1") == 45.0
    assert_golden(batch, "prometheus/node-exporter-sysfs.expected")


def test_malformed_and_http_errors(pages: StaticServer) -> None:
    base = {"name": "x", "site": "s1"}
    with pytest.raises(CollectorError) as err:
        collect_once("dcgm-exporter", {**base, "url": f"{pages.url}/broken/metrics"})
    assert err.value.reason == "malformed response"
    with pytest.raises(CollectorError) as err:
        collect_once("dcgm-exporter", {**base, "url": f"{pages.url}/error/metrics"})
    assert err.value.reason == "server error"


def test_kepler_profile_maps_package_zone_and_node_level_only() -> None:
    page = (TESTDATA / "prometheus" / "kepler-synthetic.prom").read_bytes()
    with StaticServer(routes={"/metrics": (200, TEXT, page)}) as server:
        target = {"name": "kepler-1", "site": "s1", "url": server.url}
        batch = collect_once("kepler", target, clock=fixed_clock)
    assert _one(batch, "device_energy_joules_total", device="worker-1/cpu") == 51234.5
    assert _one(batch, "device_power_watts", device="worker-1/cpu") == 87.5
    assert _one(batch, "device_power_watts", device="worker-1/gpu0") == 138.16
    assert _one(batch, "device_utilisation_ratio", device="worker-1/cpu") == 0.42
    assert len(batch) == 4  # core/dram zones and container series are not mapped


@pytest.mark.parametrize("kept", [4096, 1])
def test_rules_remembered_per_sample_name_map_every_poll_alike(
    pages: StaticServer, monkeypatch: pytest.MonkeyPatch, kept: int
) -> None:
    monkeypatch.setattr(prom_module, "NAMES_KEPT", kept)  # 1: forgotten at every new name
    target = {
        "name": "gpu-node-1",
        "site": "wuhu-1",
        "url": f"{pages.url}/dcgm-exporter-nvidia-l4/metrics",
    }
    first = collect_once("dcgm-exporter", target, clock=fixed_clock)
    with build_collector("dcgm-exporter", target, fixed_clock) as collector:
        polls = [collector.collect() for _ in range(3)]
    for batch in polls:
        pd.testing.assert_frame_equal(batch, first)
