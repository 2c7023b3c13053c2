"""Identify: devices collectors see against the registry, end to end.

A Redfish BMC (the DMTF rack-mount mockup with eight H100 processors, two of them absent or
disabled, served on loopback) and an NVML host (the real H100 trace replayed for three GPUs)
report fewer devices than their sites register; the batches go through a real DuckDB store and
the query layer, which must name the mismatch.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from greenwatch.collect import build_collector, collect_once
from greenwatch.inventory import ComputePool, DeviceModel, Inventory, Location, Site
from greenwatch.query import compute_figures
from greenwatch.store import DuckDBStore
from tests.collect.conftest import T0, fixed_clock
from tests.collect.nvml_trace import TraceNvml
from tests.collect.servers import StaticServer

XEON = "Multi-Core Intel(R) Xeon(R) processor 7xxx Series"  # the DMTF mockup's CPU model


def _site(site_id: str, *pools: dict[str, object]) -> Site:
    return Site(
        id=site_id,
        name=site_id,
        kind="ai",
        region="west",
        province="Guizhou",
        location=Location(lat=26.4, lon=106.3),
        it_capacity_kw=100,
        compute=tuple(ComputePool.model_validate(p) for p in pools),
    )


INVENTORY = Inventory(
    sites=(
        _site(
            "bmc-site",
            {"id": "hgx", "class": "ai", "model": "nvidia-h100-sxm", "count": 8},
            {"id": "hosts", "class": "general", "model": "dmtf-xeon", "count": 2},
        ),
        _site("gpu-site", {"id": "node", "class": "ai", "model": "nvidia-h100-sxm", "count": 4}),
    ),
    # The mockup's illustrative CPU, added to the catalogue as an inventory would add a model.
    device_models=(
        DeviceModel(
            id="dmtf-xeon",
            vendor="DMTF mockup",
            kind="cpu",
            names=(XEON,),
            peak_flops={"fp64": 1.0e11},
            rated_power_w=150,
            source="DMTF public-rackmount1 mockup (illustrative)",
        ),
    ),
)


def _findings(store: DuckDBStore, at: pd.Timestamp) -> dict[tuple[str, str], pd.Series]:
    figures = compute_figures(store, INVENTORY, at - pd.Timedelta(hours=1), at)
    return {(row["site"], row["model"]): row for _, row in figures.findings.iterrows()}


def test_redfish_bmc_reporting_fewer_gpus_than_registered(
    gpu_tree: StaticServer, tmp_path: Path
) -> None:
    target = {"name": "bmc-1", "site": "bmc-site", "url": gpu_tree.url}
    with build_collector("redfish", target, fixed_clock) as collector:
        batch = collector.collect()
    store = DuckDBStore(tmp_path / "greenwatch.duckdb")
    try:
        store.write(batch)
        found = _findings(store, pd.Timestamp(T0) + pd.Timedelta(minutes=1))
    finally:
        store.close()
    gpus = found[("bmc-site", "nvidia-h100-sxm")]
    assert (gpus["registered"], gpus["seen"], gpus["finding"]) == (8, 6.0, "missing")
    assert gpus["message"] == (
        "bmc-site: registered 8 x nvidia-h100-sxm (hgx), collectors see 6: 2 missing"
    )
    # The mockup's second CPU socket is empty (State Absent): 1 of 2 registered.
    cpus = found[("bmc-site", "dmtf-xeon")]
    assert (cpus["registered"], cpus["seen"], cpus["finding"]) == (2, 1.0, "missing")
    # Its FPGA is in no pool.
    assert found[("bmc-site", "stratix 10")]["finding"] == "unregistered"


def test_nvml_host_reporting_fewer_gpus_than_registered(trace: TraceNvml, tmp_path: Path) -> None:
    trace.names = [str(trace.meta["name"])] * 3
    batch = collect_once(
        "nvml", {"name": "gpu-host", "site": "gpu-site"}, clock=trace.clock, nvml=trace
    )
    store = DuckDBStore(tmp_path / "greenwatch.duckdb")
    try:
        store.write(batch)
        found = _findings(store, batch["ts"].max() + pd.Timedelta(minutes=1))
        # All four back: no finding.
        trace.names.append(trace.names[0])
        store.write(
            collect_once(
                "nvml", {"name": "gpu-host", "site": "gpu-site"}, clock=trace.clock, nvml=trace
            )
        )
        later = _findings(store, pd.Timestamp(trace.clock()) + pd.Timedelta(minutes=1))
    finally:
        store.close()
    gpus = found[("gpu-site", "nvidia-h100-sxm")]
    assert (gpus["registered"], gpus["seen"], gpus["finding"]) == (4, 3.0, "missing")
    assert ("gpu-site", "nvidia-h100-sxm") not in later


def test_a_bmc_and_host_nvml_seeing_the_same_gpus_count_once(
    gpu_tree: StaticServer, trace: TraceNvml, tmp_path: Path
) -> None:
    # The BMC (Redfish) sees 6 of bmc-site's 8 H100s; the same servers' NVML, on two hosts,
    # sees 3 + 4. Protocols overlap (same GPUs), hosts of one protocol add up: 7 seen, not 13.
    target = {"name": "bmc-1", "site": "bmc-site", "url": gpu_tree.url}
    with build_collector("redfish", target, fixed_clock) as collector:
        bmc = collector.collect()
    h100 = str(trace.meta["name"])
    hosts = []
    for host, gpus in (("node-1", 3), ("node-2", 4)):
        trace.names = [h100] * gpus
        batch = collect_once(
            "nvml", {"name": host, "site": "bmc-site"}, clock=trace.clock, nvml=trace
        )
        # Replayed at the BMC poll's time, so both protocols report within one window.
        hosts.append(batch.assign(ts=pd.Timestamp(T0)))
    store = DuckDBStore(tmp_path / "greenwatch.duckdb")
    try:
        for batch in (bmc, *hosts):
            store.write(batch)
        found = _findings(store, pd.Timestamp(T0) + pd.Timedelta(minutes=1))
    finally:
        store.close()
    gpus = found[("bmc-site", "nvidia-h100-sxm")]
    assert (gpus["registered"], gpus["seen"], gpus["finding"]) == (8, 7.0, "missing")
