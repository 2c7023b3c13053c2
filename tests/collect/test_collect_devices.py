"""Counting computing devices (``compute_devices``): the ``constant`` / ``aggregate`` rule keys,
Redfish ``bind``, Redfish Processors on loopback and a multi-GPU dcgm-exporter page."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.collect import Rule, Target, build_collector, check_profile, collect_once
from greenwatch.collect._rows import BatchBuilder
from greenwatch.model import ConfigError
from tests.collect.conftest import T0, assert_golden, fixed_clock
from tests.collect.servers import StaticServer

TEXT = "text/plain; version=0.0.4; charset=utf-8"
H100 = "NVIDIA H100 80GB HBM3"
PROCESSORS = Path("redfish/v1/Systems/437XR1138R2/Processors")


def _devices(batch: pd.DataFrame) -> dict[tuple[str, str], float]:
    """``compute_devices`` of a batch as {(device_kind, model): count}."""
    rows = batch[batch.metric == "compute_devices"]
    return {(k, m): v for k, m, v in zip(rows.device_kind, rows.model, rows.value, strict=True)}


# -- constant and aggregate in the batch builder -----------------------------------------------

TARGET = Target(name="host-1", site="s1")
COUNT = Rule(
    metric="compute_devices",
    constant=1,
    aggregate="sum",
    labels={"device_kind": "gpu", "model": "{name}", "source": "{target}"},
)


def test_constant_counts_present_readings_and_aggregate_sums_them() -> None:
    out = BatchBuilder(TARGET, [COUNT])
    for raw in (71.0, "Enabled", 0, " OK ", None, math.nan, "  ", b"\x00"):
        out.add(COUNT, raw, {"name": H100})
    out.add(COUNT, 1, {"name": " NVIDIA L40S "})  # labels are stripped
    batch = out.build(T0)
    assert _devices(batch) == {("gpu", H100): 4.0, ("gpu", "NVIDIA L40S"): 1.0}
    assert set(batch.source) == {"host-1"}


def test_without_aggregate_the_first_reading_of_a_series_is_kept() -> None:
    power = Rule(metric="device_power_watts", labels={"device": "d", "device_kind": "gpu"})
    summed = Rule(
        metric="device_power_watts", aggregate="sum", labels={"device": "d", "device_kind": "gpu"}
    )
    out = BatchBuilder(TARGET, [power, summed])
    for raw in (100, 200):
        out.add(summed, raw)  # the later rule: loses to the earlier one below
        out.add(power, raw)
    assert out.build(T0).value.tolist() == [100.0]
    out = BatchBuilder(TARGET, [summed])
    for raw in (100, 200, None):
        out.add(summed, raw)
    assert out.build(T0).value.tolist() == [300.0]


def test_an_implausible_sum_is_dropped_and_noted() -> None:
    ratio = Rule(
        metric="device_utilisation_ratio",
        aggregate="sum",
        labels={"device": "d", "device_kind": "gpu", "resource": "gpu"},
    )
    out = BatchBuilder(TARGET, [ratio])
    out.add(ratio, 0.5)
    out.add(ratio, 0.75)
    assert len(out.build(T0)) == 0
    assert out.problems == ["device_utilisation_ratio: implausible sum 1.25 dropped"]


def _check(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        check_profile(path)
    return str(err.value)


PROM = "family: prometheus\nrules:\n  - match: DCGM_FI_DEV_GPU_TEMP\n    metric: compute_devices\n"
REDFISH = (
    "family: redfish\nrules:\n  - resource: Systems/{system}/Processors/{proc}\n"
    "    property: Status.State\n    metric: compute_devices\n"
)


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        (PROM + "    constant: 1\n    map: {'1': 1}\n", 3, "drop map"),
        (PROM + "    constant: 1\n    map_default: 0\n", 3, "drop map_default"),
        (PROM + "    constant: 1\n    scale: 2\n", 3, "drop scale"),
        (PROM + "    constant: .inf\n", 5, "constant must be finite"),
        (PROM + "    aggregate: mean\n", 5, "'sum'"),
        (REDFISH + "    labels: {model: '{model}'}\n", 3, "not bound"),
        (REDFISH + "    bind: {model: 'Models[*]'}\n", 3, "not [*]"),
        (REDFISH + "    bind: {proc: Model}\n", 3, "not a free variable"),
        (REDFISH + "    bind: {model: 'Model..x'}\n", 3, "bad property path"),
    ],
)
def test_profile_mistakes_name_the_line(tmp_path: Path, body: str, line: int, needle: str) -> None:
    message = _check(tmp_path, body)
    assert f"p.yaml:{line}" in message, message
    assert needle in message, message


# -- Redfish Processors ---------------------------------------------------------------------


def test_redfish_counts_enabled_processors_by_kind_and_model(gpu_tree: StaticServer) -> None:
    target = {"name": "bmc-1", "site": "guian-1", "url": gpu_tree.url}
    with build_collector("redfish", target, fixed_clock) as collector:
        batch = collector.collect()
    # GPU3 (Absent) and GPU6 (Disabled, Critical) are not counted; nor is the DMTF mockup's
    # CPU2, an empty socket (State Absent, no Model).
    assert _devices(batch) == {
        ("gpu", H100): 6.0,
        ("cpu", "Multi-Core Intel(R) Xeon(R) processor 7xxx Series"): 1.0,
        ("fpga", "Stratix 10"): 1.0,
    }
    assert set(batch[batch.metric == "compute_devices"].source) == {"redfish:bmc-1"}
    assert not [p for p in collector.problems if "Processors" in p]
    assert_golden(batch, "redfish/rackmount1-gpus.expected")


def test_redfish_processor_without_model_is_skipped_and_noted(gpu_tree: StaticServer) -> None:
    assert gpu_tree.root is not None
    folder = gpu_tree.root / PROCESSORS
    for gpu, model in (("GPU0", None), ("GPU1", f"  {H100} ")):
        path = folder / gpu / "index.json"
        doc = json.loads(path.read_text())
        doc["Model"] = model
        path.write_text(json.dumps(doc))
    target = {"name": "bmc-1", "site": "guian-1", "url": gpu_tree.url}
    with build_collector("redfish", target, fixed_clock) as collector:
        batch = collector.collect()
    assert _devices(batch)[("gpu", H100)] == 5.0  # GPU1's padded model is stripped
    assert f"/{PROCESSORS}/GPU0: no Model" in collector.problems


# -- dcgm-exporter ----------------------------------------------------------------------------


def _eight_gpu_page(l4_page: str) -> bytes:
    """The real L4 page with every sample repeated for GPUs 1-7 (5 more L4s and two L40S), and
    one GPU-instance sample as a MIG-partitioned GPU would add."""
    lines = []
    for line in l4_page.splitlines():
        lines.append(line)
        if line.startswith("#"):
            continue
        for gpu in range(1, 8):
            copy = line.replace('gpu="0"', f'gpu="{gpu}"').replace("nvidia0", f"nvidia{gpu}")
            copy = copy.replace("GPU-c2f76b33", f"GPU-c2f76b3{gpu}")
            lines.append(copy.replace("NVIDIA L4", "NVIDIA L40S") if gpu >= 6 else copy)
        if line.startswith("DCGM_FI_DEV_GPU_TEMP{"):
            lines.append(line.replace("}", ',GPU_I_PROFILE="1g.6gb",GPU_I_ID="1"}', 1))
    return ("\n".join(lines) + "\n").encode()


def test_dcgm_exporter_counts_gpus_per_model(shared_data: Path) -> None:
    page = (shared_data / "prometheus" / "dcgm-exporter-nvidia-l4.prom").read_text()
    with StaticServer(routes={"/metrics": (200, TEXT, _eight_gpu_page(page))}) as server:
        target = {"name": "gpu-node-1", "site": "wuhu-1", "url": server.url}
        batch = collect_once("dcgm-exporter", target, clock=fixed_clock)
    assert _devices(batch) == {("gpu", "NVIDIA L4"): 6.0, ("gpu", "NVIDIA L40S"): 2.0}
    assert len(batch[batch.metric == "device_power_watts"]) == 8
