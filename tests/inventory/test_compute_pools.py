"""Compute pools in the inventory: the catalogue, validation naming file/line/key, real figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.inventory._edits import assert_one_problem, write_inventory

from greenwatch.inventory import (
    CLASS_PRECISION,
    ComputeClass,
    Precision,
    builtin_catalogue,
    load_inventory,
    pool_peak_flops,
)

VALID = """\
sites:
  - id: gpu-site
    name: GPU site
    kind: ai
    region: west
    province: Guizhou
    location: {lat: 26.4, lon: 106.3}
    it_capacity_kw: 1000
    compute:
      - id: training
        class: ai
        model: NVIDIA H100 80GB HBM3
        count: 512
        in_service: 2025-01-01
      - id: lab
        class: ai
        model: acme-x1
        count: 4
device_models:
  - id: acme-x1
    vendor: ACME
    kind: npu
    names: ["ACME X1"]
    peak_flops: {fp16: 1.0e14}
    rated_power_w: 300
    source: "test model"
"""


def test_pools_resolve_through_catalogue_and_inventory_models(tmp_path: Path) -> None:
    inv = load_inventory(write_inventory(tmp_path, VALID))
    catalogue = inv.catalogue()
    training, lab = inv.sites[0].compute
    h100 = catalogue.find(training.model)
    assert h100 is not None
    assert h100.id == "nvidia-h100-sxm"
    # 512 x 989.4 TFLOPS FP16 = 506.5728 PFLOPS
    assert pool_peak_flops(training, h100) == pytest.approx(506.5728e15)
    acme = catalogue.find("acme x1")
    assert acme is not None
    assert pool_peak_flops(lab, acme) == pytest.approx(4.0e14)
    assert CLASS_PRECISION[ComputeClass.SUPERCOMPUTING] is Precision.FP64


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "message"),
    [
        pytest.param(
            "model: NVIDIA H100 80GB HBM3",
            "model: NVIDIA H999",
            12,
            "sites[0].compute[0].model",
            "unknown device model 'NVIDIA H999'",
            id="unknown-accelerator",
        ),
        pytest.param(
            "count: 512",
            "count: 0",
            13,
            "sites[0].compute[0].count",
            "greater than or equal to 1",
            id="zero-count",
        ),
        pytest.param(
            "count: 512",
            "count: 7.5",
            13,
            "sites[0].compute[0].count",
            "fractional part",
            id="fractional-count",
        ),
        pytest.param(
            "count: 512",
            "count: 1500",
            13,
            "sites[0].compute[0].count",
            "1500 x nvidia-h100-sxm at 700 W is 1,050 kW, more than the site's IT capacity "
            "of 1,000 kW",
            id="more-power-than-the-site-has",
        ),
        pytest.param(
            "count: 4\n",
            "count: 2200\n",
            18,
            "sites[0].compute[1].count",
            "660 kW (site total 1,018 kW)",
            id="site-total-over-capacity",
        ),
        pytest.param(
            "      - id: lab\n",
            "      - id: training\n",
            15,
            "sites[0].compute[1].id",
            "duplicate pool id 'training' at site gpu-site",
            id="duplicate-pool",
        ),
        pytest.param(
            "        class: ai\n        model: acme-x1",
            "        class: supercomputing\n        model: acme-x1",
            16,
            "sites[0].compute[1].class",
            "counted in fp64, and acme-x1 has no fp64 peak",
            id="class-precision-missing",
        ),
        pytest.param(
            "in_service: 2025-01-01",
            "in_service: 2025-01-01\n        retired: 2024-01-01",
            10,
            "sites[0].compute[0]",
            "retired 2024-01-01 is not after in_service 2025-01-01",
            id="retired-before-service",
        ),
    ],
)
def test_bad_pool_names_file_line_and_key(
    tmp_path: Path, *, old: str, new: str, line: int, key: str, message: str
) -> None:
    assert_one_problem(tmp_path, VALID, (old, new), line, key, message)


def test_builtin_network_carries_realistic_pools() -> None:
    inv = load_inventory()
    catalogue = inv.catalogue()
    sites = {s.id: s for s in inv.sites}
    assert all(site.compute for site in inv.sites)
    wuhan = sites["ai-wuhan"].compute[0]
    model = catalogue.find(wuhan.model)
    assert model is not None
    # Wuhan AI Computing Centre phase 1: 400 Ascend 910 x 256 TFLOPS FP16 = 102.4 PFLOPS
    assert pool_peak_flops(wuhan, model) == pytest.approx(102.4e15)
    taihulight = sites["sc-wuxi"].compute[0]
    sunway = catalogue.find(taihulight.model)
    assert sunway is not None
    # TOP500 June 2016: Rpeak 125.436 PFLOPS
    assert pool_peak_flops(taihulight, sunway) == pytest.approx(125.436e15, rel=1e-4)


def test_every_catalogued_model_cites_a_source_and_has_a_headline_precision() -> None:
    for model in builtin_catalogue().device_models:
        assert model.source
        assert {Precision.FP64, Precision.FP16} & set(model.peak_flops), model.id
