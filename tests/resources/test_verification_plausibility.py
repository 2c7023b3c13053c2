"""Verification records that cannot be real runs are refused with the reason, never counted.

Golden figures, by hand from the shipped catalogue: guian-1's ``ai`` pool is 15,000
nvidia-a800-sxm (fp64 1.95e13, fp16 3.12e14 FLOPS per device, no fp8), its ``general`` pool
175,000 huawei-kunpeng-920-6426 (fp64 1.3312e12). The margin is 1.2 x rated peak per device x
devices tested.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from greenwatch.cli import main
from greenwatch.inventory import load_inventory
from greenwatch.resources import RegistrationError, ResourceRegistry
from tests.resources import NOW, serving, verification

SITE = "guian-1"


@pytest.fixture
def registry() -> Iterator[ResourceRegistry]:
    with ResourceRegistry(None, load_inventory(), clock=lambda: NOW) as reg:
        yield reg


_record = verification
# 1024 x 1.95e13 = 1.9968e16 FLOPS rated; 1.2 x that = 2.39616e16.
ACCEPTED = [
    _record(measured_flops=2.39e16),  # 1.197 x rated: a good run on boost clocks
    _record(measured_flops=1.5e16),
    _record(benchmark="probe", measured_flops=None, precision="fp16", devices=15_000),
    _record(benchmark="gpu-matmul", precision="bf16", measured_flops=2.5e15, devices=8),
    _record(pool="general", precision="fp64", measured_flops=1.0e15, devices=1000),
    _record(pool="general", precision="fp32", measured_flops=2.0e15, devices=1000),
]
REFUSED = [
    (
        _record(measured_flops=2.4e16),
        "measured_flops",
        "2.4e+16 FLOPS is 1.2x the rated fp64 peak of 1024 x nvidia-a800-sxm (1.997e+16 FLOPS); "
        "more than 1.2x is refused",
    ),
    (  # the claim of the field: 10,000 times the rated peak, 8 x 3.12e14 = 2.496e15
        _record(benchmark="gpu-matmul", precision="fp16", measured_flops=2.496e19, devices=8),
        "measured_flops",
        "2.496e+19 FLOPS is 10,000.0x the rated fp16 peak of 8 x nvidia-a800-sxm "
        "(2.496e+15 FLOPS); more than 1.2x is refused",
    ),
    (
        _record(precision="fp8", measured_flops=1.0e15, devices=8),
        "precision",
        "nvidia-a800-sxm has no rated fp8 peak (rated: fp64, fp32, fp16, bf16)",
    ),
    (
        _record(pool="general", precision="fp16", measured_flops=1.0e15, devices=1000),
        "precision",
        "pool general is general (counted in fp64): it is verified at fp64 or fp32, not fp16",
    ),
    (
        _record(benchmark="probe", measured_flops=None, devices=15_001),
        "devices",
        "15001 devices, but pool ai has 15000",
    ),
]


@pytest.mark.parametrize("record", ACCEPTED)
def test_plausible_records_are_kept(registry: ResourceRegistry, record: dict[str, Any]) -> None:
    kept = registry.record_verification(record, "edge-agent")
    assert registry.verifications() == [kept]


@pytest.mark.parametrize(("record", "key", "reason"), REFUSED)
def test_implausible_records_are_refused_with_the_reason(
    registry: ResourceRegistry, record: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(RegistrationError) as refused:
        registry.record_verification(record, "edge-agent")
    assert refused.value.problems == [(key, reason)]
    assert registry.verifications() == []  # never counted as verified


def test_every_problem_at_once(registry: ResourceRegistry) -> None:
    record = _record(precision="fp16", measured_flops=1.0e20, devices=20_000)
    with pytest.raises(RegistrationError) as refused:
        registry.record_verification(record, "edge-agent")
    keys = [key for key, _ in refused.value.problems]
    assert keys == ["devices", "measured_flops"]


def test_the_api_answers_400_with_the_reason(tmp_path: Path) -> None:
    record, key, reason = REFUSED[1]
    with serving(tmp_path) as server, server.client("write") as client:
        answer = client.post("/api/v1/resources/verifications", json=record)
        assert answer.status_code == 400
        assert answer.json()["problems"] == [{"key": key, "message": reason}]
    with serving(tmp_path) as server, server.client("read") as reader:
        listed = reader.get("/api/v1/resources/verifications").json()["verifications"]
        assert listed == []


def test_the_cli_exits_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["resources", "verify", "--site", SITE, "--pool", "general", "--benchmark", "hpl",
            "--precision", "fp16", "--devices", "1000", "--measured-flops", "1e15", "--passed",
            "--data-dir", str(tmp_path), "--by", "ops"]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "precision: pool general is general (counted in fp64)" in err
    assert "Traceback" not in err
