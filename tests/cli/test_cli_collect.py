"""``greenwatch collect`` against real loopback servers, and ``greenwatch simulate serve``."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from tests.collect.servers import SilentServer, StaticServer, modbus_server
from tests.conftest import free_port

from greenwatch.cli import main
from greenwatch.collect import shipped_profiles

TEXT = "text/plain; version=0.0.4; charset=utf-8"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["collect", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _float_registers(values: dict[int, float]) -> dict[int, int]:
    out = {}
    for address, value in values.items():
        raw = struct.pack(">f", value)
        out[address], out[address + 1] = (int.from_bytes(raw[i : i + 2], "big") for i in (0, 2))
    return out


@pytest.fixture
def exporter(shared_data: Path) -> Iterator[StaticServer]:
    page = (shared_data / "prometheus" / "dcgm-exporter-nvidia-l4.prom").read_bytes()
    with StaticServer(routes={"/metrics": (200, TEXT, page)}) as server:
        yield server


def test_list_profiles_names_every_shipped_profile(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "--list-profiles")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines()[1:]]
    assert listed == shipped_profiles()
    assert "redfish-meters  redfish" in out


@pytest.mark.parametrize("name", ["redfish", "greenwatch", "eastron-sdm630"])
def test_check_accepts_shipped_profiles(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, _ = _run(capsys, "--check", "--profile", name)
    assert code == 0
    assert ": ok — " in out


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("family: snmp\nrules:\n  - metric: link_up\n    oid: 1.3.6.x.1\n", ":4: rules[0].oid"),
        (
            "family: modbus\nrules:\n  - metric: power_watts\n    address: 52\n    colour: red\n",
            ":5: rules[0].colour: unknown key",
        ),
        ("family: modbus\nrules:\n  - metric: power_watts\n    address: 70000\n", ":4:"),
    ],
)
def test_check_rejects_a_bad_profile_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, needle: str
) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(body)
    code, _, err = _run(capsys, "--check", "--profile", str(path))
    assert code == 2
    assert f"{path}{needle}" in err


@pytest.mark.integration
def test_once_polls_a_modbus_meter_inline(capsys: pytest.CaptureFixture[str]) -> None:
    registers = _float_registers({52: 3712.5, 72: 12345.5})
    with modbus_server(registers, free_port(), device_id=3) as port:
        code, out, err = _run(
            capsys,
            "--once",
            "--profile",
            "eastron-sdm630",
            "--target",
            f"127.0.0.1:{port}",
            "--site",
            "guian-1",
            "--device-id",
            "3",
            "--label",
            "meter=it_input",
            "--format",
            "json",
        )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["family"] == "modbus"
    values = {s["metric"]: s["value"] for s in doc["samples"]}
    assert values == {"power_watts": 3712.5, "energy_joules_total": 12345.5 * 3.6e6}
    assert all(s["labels"] == {"site": "guian-1", "meter": "it_input"} for s in doc["samples"])


@pytest.mark.integration
def test_once_takes_a_target_and_its_profile_from_a_targets_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], exporter: StaticServer
) -> None:
    targets = tmp_path / "targets.yaml"
    targets.write_text(
        "targets:\n"
        f"  - {{name: gpu-1, site: wuhu-1, profile: dcgm-exporter, url: '{exporter.url}'}}\n"
    )
    code, out, _ = _run(capsys, "--once", "--targets", str(targets), "--target", "gpu-1")
    assert code == 0
    header, columns, *rows = out.splitlines()
    assert header.startswith("gpu-1 (site wuhu-1) with profile dcgm-exporter [prometheus]: ")
    assert columns.split()[:2] == ["metric", "site"]
    power = [r for r in rows if r.split()[0] == "device_power_watts"]
    assert power
    assert power[0].split()[-1] == "16.365"
    code, _, err = _run(capsys, "--once", "--targets", str(targets), "--target", "gpu-9")
    assert code == 2
    assert "no target 'gpu-9'" in err


@pytest.mark.integration
def test_a_failed_poll_prints_the_reason_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    code, _, err = _run(
        capsys, "--once", "--profile", "node-exporter", "--target", f"127.0.0.1:{port}",
        "--site", "a-1",
    )  # fmt: skip
    assert code == 1
    assert f"poll of 127.0.0.1:{port} failed: connection refused" in err
    with SilentServer() as silent:
        code, _, err = _run(
            capsys, "--once", "--profile", "redfish", "--target", f"http://127.0.0.1:{silent.port}",
            "--site", "a-1", "--timeout", "0.3",
        )  # fmt: skip
    assert code == 1
    assert "failed: timeout" in err


def test_inline_target_needs_a_site(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--once", "--profile", "redfish", "--target", "10.0.0.1")
    assert code == 2
    assert "--site" in err


@pytest.mark.integration
def test_simulate_serve_writes_targets_the_collect_command_polls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = tmp_path / "sim-targets.yaml"
    args = [sys.executable, "-m", "greenwatch.cli", "simulate", "serve", "--sites", "2"]
    args += ["--base-port", "0", "--targets-out", str(targets)]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "serving until" not in log.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        specs = yaml.safe_load(targets.read_text())["targets"]
        assert {s["profile"] for s in specs} == {
            "greenwatch",
            "redfish-meters",
            "eastron-sdm630",
            "snmp-if-mib",
        }
        for spec in specs:
            code, out, err = _run(
                capsys, "--once", "--targets", str(targets), "--target", spec["name"]
            )
            assert code == 0, err
            header = out.splitlines()[0]
            assert f"(site {spec['site']}) with profile {spec['profile']}" in header
            assert " 0 samples" not in header
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(20) == 0
    assert "greenwatch simulate: stopped" in log.read_text()
