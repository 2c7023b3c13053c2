"""Modbus TCP collector against a pymodbus server on loopback holding Eastron SDM630 input
registers (addresses from the Eastron register map in shared/data/modbus)."""

from __future__ import annotations

import csv
import struct
from pathlib import Path

import pytest

from greenwatch.collect import CollectorError, build_collector, check_profile, collect_once
from greenwatch.collect._modbus import decode
from greenwatch.model import ConfigError
from tests.collect.conftest import TESTDATA, assert_golden, fixed_clock
from tests.collect.servers import SilentServer, modbus_server
from tests.conftest import free_port

READINGS = TESTDATA / "modbus" / "sdm630-readings.csv"


def _registers(word_order: str, byte_order: str) -> dict[int, int]:
    """The meter's input registers: each reading as float32 in the given word/byte order."""
    out: dict[int, int] = {}
    with READINGS.open() as f:
        for row in csv.DictReader(f):
            raw = struct.pack(">f", float(row["value"]))
            words = [int.from_bytes(raw[i : i + 2], byte_order) for i in (0, 2)]
            if word_order == "little":
                words.reverse()
            address = int(row["address"])
            out[address], out[address + 1] = words
    return out


def _profile(tmp_path: Path, word_order: str, byte_order: str) -> Path:
    src = Path(__file__).resolve().parents[2] / "collectors" / "eastron-sdm630.yaml"
    body = src.read_text().replace("word_order: big", f"word_order: {word_order}")
    body = body.replace("byte_order: big", f"byte_order: {byte_order}")
    path = tmp_path / f"sdm630-{word_order}-{byte_order}.yaml"
    path.write_text(body)
    return path


def test_eastron_manual_example_decodes() -> None:
    # SDM630 manual: 240.5 is 0x43708000, sent as 43 70 80 00.
    assert decode([0x4370, 0x8000], "float32", "big", "big") == 240.5
    assert decode([0x8000, 0x4370], "float32", "little", "big") == 240.5
    assert decode([0x7043, 0x0080], "float32", "big", "little") == 240.5


@pytest.mark.integration
@pytest.mark.parametrize(
    ("word_order", "byte_order"), [("big", "big"), ("little", "big"), ("little", "little")]
)
def test_sdm630_power_and_energy(tmp_path: Path, word_order: str, byte_order: str) -> None:
    with modbus_server(_registers(word_order, byte_order), free_port()) as port:
        target = {
            "name": "meter-it",
            "site": "s1",
            "address": f"127.0.0.1:{port}",
            "labels": {"meter": "it_input"},
            "timeout_s": 2,
        }
        batch = collect_once(_profile(tmp_path, word_order, byte_order), target, clock=fixed_clock)
    values = batch.set_index("metric").value
    assert values["power_watts"] == 3712.5
    assert values["energy_joules_total"] == 12345.5 * 3.6e6
    assert set(batch.meter) == {"it_input"}
    assert_golden(batch, "modbus/sdm630.expected")


@pytest.mark.integration
def test_wrong_word_order_gives_garbage_the_range_check_partly_drops(tmp_path: Path) -> None:
    # Big-endian words read as little: 3712.5 W decodes to ~3.9e-34 W (kept: not negative) and
    # 12345.5 kWh to a negative energy (dropped and noted). Word order is a profile fact.
    with modbus_server(_registers("big", "big"), free_port()) as port:
        target = {"name": "m", "site": "s1", "address": f"127.0.0.1:{port}", "timeout_s": 2}
        collector = build_collector(_profile(tmp_path, "little", "big"), target)
        batch = collector.collect()
        collector.close()
    assert batch.set_index("metric").value["power_watts"] < 1e-30
    assert "energy_joules_total" not in set(batch.metric)
    assert any("implausible" in p for p in collector.problems)


@pytest.mark.integration
def test_exception_response_is_malformed_response() -> None:
    # A device id the server does not have: it answers with a Modbus exception (code 4).
    with modbus_server(_registers("big", "big"), free_port()) as port:
        target = {"name": "m", "site": "s1", "address": f"127.0.0.1:{port}", "timeout_s": 1}
        with pytest.raises(CollectorError) as err:
            collect_once("eastron-sdm630", {**target, "device_id": 7})
    assert err.value.reason == "malformed response"


def test_refused_and_silent_devices() -> None:
    target = {"name": "m", "site": "s1", "address": f"127.0.0.1:{free_port()}", "timeout_s": 0.5}
    with pytest.raises(CollectorError) as err:
        collect_once("eastron-sdm630", target)
    assert err.value.reason == "connection refused"
    with SilentServer() as silent, pytest.raises(CollectorError) as err:
        collect_once("eastron-sdm630", {**target, "address": f"127.0.0.1:{silent.port}"})
    assert err.value.reason == "timeout"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("address: -1", "greater than or equal to 0"),
        ("address: 70000", "less than or equal to 65535"),
        ("address: 10\n    count: 3", "odd"),
        ("address: 65535", "pass 65535"),
    ],
)
def test_check_rejects_bad_registers(tmp_path: Path, rule: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"family: modbus\nrules:\n  - metric: power_watts\n    {rule}\n")
    with pytest.raises(ConfigError) as err:
        check_profile(path)
    assert "bad.yaml:3" in str(err.value) or "bad.yaml:4" in str(err.value)
    assert message in str(err.value)
