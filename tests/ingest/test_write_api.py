"""InfluxDB write APIs: influxdb-client and Telegraf's own output read back exactly."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pandas as pd
import pytest
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS, WriteOptions

from greenwatch.ingest import ext_name
from tests.ingest.conftest import Server

T0 = pd.Timestamp("2026-03-01T00:00:00Z")


def test_influxdb_client_write_api_reads_back(server: Server) -> None:
    ts = pd.date_range(T0, periods=500, freq="1s")
    with InfluxDBClient(url=server.url, token=server.tokens["write"], org="any") as client:
        write_api = client.write_api(write_options=SYNCHRONOUS)
        points = [
            Point("power_watts")
            .tag("site", "guian-1")
            .tag("meter", "facility")
            .field("value", 1000.0 + i / 7)
            .time(t, WritePrecision.NS)
            for i, t in enumerate(ts)
        ]
        write_api.write(bucket="b", record=points)
        write_api.write(
            bucket="b",
            record="energy_joules_total,site=guian-1,meter=it_input value=1.5e9 1772323200",
            write_precision=WritePrecision.S,
        )
    got = server.query("power_watts", site="guian-1")
    assert len(got) == 500
    assert list(got["value"]) == [1000.0 + i / 7 for i in range(500)]
    assert list(got["ts"]) == list(ts)
    energy = server.query("energy_joules_total")
    assert list(energy["value"]) == [1.5e9]
    assert energy["ts"].iloc[0] == T0


def test_influxdb_client_batching_mode(server: Server) -> None:
    options = WriteOptions(batch_size=100, flush_interval=200, max_retries=3)
    lines = [f"temperature_celsius,site=a,sensor=s{i % 3} value={i % 100} {i}" for i in range(300)]
    with (
        InfluxDBClient(url=server.url, token=server.tokens["write"], org="o") as client,
        client.write_api(write_options=options) as write_api,
    ):
        write_api.write(bucket="b", record=lines, write_precision=WritePrecision.S)
    assert len(server.query("temperature_celsius")) == 300


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def mapped_by_profile(measurement: str, field: str, tags: dict[str, str]) -> bool:
    """What the shipped Telegraf push profiles map onto canonical metrics."""
    if measurement == "ipmi_sensor":
        return field == "value" and tags.get("unit") in ("watts", "degrees_c")
    if measurement == "nvidia_smi":
        return field in ("utilization_gpu", "utilization_memory", "memory_used", "temperature_gpu")
    if measurement == "cpu":
        return field == "usage_active" and tags.get("cpu") == "cpu-total"
    return (measurement, field) in {
        ("redfish_power_powersupplies", "last_power_output_watts"),
        ("redfish_thermal_temperatures", "reading_celsius"),
        ("interface", "ifInOctets"),
        ("interface", "ifOutOctets"),
    }


def telegraf_expectation(
    path: Path, seen: set[tuple[str, str, pd.Timestamp]]
) -> dict[str, list[tuple[pd.Timestamp, float]]]:
    """ext_ samples an .lp file must give, by a parser independent of greenwatch's.

    The samples have escapes only in tag values and no commas inside strings, so splitting on
    unescaped spaces and on commas is enough here. A (series, ts) in ``seen`` (an earlier
    line or file) is stored once.
    """
    out: dict[str, list[tuple[pd.Timestamp, float]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        series, fields, stamp = re.split(r"(?<!\\) ", line)
        measurement, *pairs = (_unescape(p) for p in re.split(r"(?<!\\),", series))
        tags = dict(p.split("=", 1) for p in pairs)
        ts = pd.Timestamp(int(stamp), tz="UTC")
        for pair in fields.split(","):
            key, raw = pair.split("=", 1)
            if raw.startswith('"'):
                continue
            value = float(raw.rstrip("iu"))
            if mapped_by_profile(measurement, key, tags):
                continue
            metric = ext_name(measurement, key)
            if (metric, series, ts) in seen:
                continue
            seen.add((metric, series, ts))
            out.setdefault(metric, []).append((ts, value))
    return out


TELEGRAF_FILES = [
    "cpu.lp",
    "ipmi_sensor-v1-local.lp",
    "ipmi_sensor-v1-remote.lp",
    "ipmi_sensor-v2-local.lp",
    "mem.lp",
    "mem-extended-linux.lp",
    "nvidia_smi.lp",
    "redfish.lp",
    "snmp-interface.lp",
]


@pytest.mark.parametrize("encoding", ["v2", "v2-gzip", "v1"])
def test_telegraf_samples_read_back_identical(
    server: Server, shared_data: Path, encoding: str
) -> None:
    expected: dict[str, list[tuple[pd.Timestamp, float]]] = {}
    seen: set[tuple[str, str, pd.Timestamp]] = set()
    with server.client("site") as client:  # a token whose default site is test-1
        for name in TELEGRAF_FILES:
            path = shared_data / "telegraf" / name
            body = path.read_bytes()
            if encoding == "v1":
                answer = client.post("/write", params={"db": "telegraf"}, content=body)
            elif encoding == "v2-gzip":
                answer = client.post(
                    "/api/v2/write",
                    params={"org": "o", "bucket": "telegraf", "precision": "ns"},
                    content=gzip.compress(body),
                    headers={"Content-Encoding": "gzip"},
                )
            else:
                answer = client.post("/api/v2/write", params={"bucket": "b"}, content=body)
            assert answer.status_code == 204, answer.text
            for metric, samples in telegraf_expectation(path, seen).items():
                expected.setdefault(metric, []).extend(samples)
    for metric, samples in expected.items():
        got = server.query(metric)
        want = sorted(samples)
        assert sorted(zip(got["ts"], got["value"], strict=True)) == want, metric
        assert set(got["site"]) == {"test-1"}
    # Profile-mapped readings, scaled to base units (ipmi W, nvidia-smi %, MiB, redfish W/°C).
    power = server.query("device_power_watts")
    assert sorted(power["value"]) == [110.0, 110.0, 110.0, 120.0, 120.0, 125.0, 325.0]
    gpu = server.query("device_utilisation_ratio", resource="gpu")
    assert sorted(gpu["value"]) == [1.0, 1.0, 1.0]
    memory = server.query("device_memory_used_bytes")
    assert sorted(memory["value"]) == [549 * 2**20, 557 * 2**20, 557 * 2**20]
    temps = server.query("temperature_celsius")
    assert {41.0, 25.0, 53.0, 50.0, 58.0} <= set(temps["value"])
    cpu = server.query("device_utilisation_ratio", resource="cpu")
    assert cpu["device"].iloc[0] == "loaner"
    assert cpu["value"].iloc[0] == 17.616580305880305 * 0.01


def test_string_fields_are_counted_not_stored(server: Server) -> None:
    with server.client("site") as client:
        answer = client.post("/api/v2/write", content='m,host=h note="up since \\"now\\"",v=1i 1\n')
    assert answer.status_code == 204
    assert answer.headers["X-Greenwatch-Strings"] == "1"
    assert answer.headers["X-Greenwatch-Stored"] == "1"
    assert list(server.query("ext_m_v")["value"]) == [1.0]
    assert server.query("ext_m_note").empty


def test_canonical_names_are_stored_as_they_are(server: Server) -> None:
    with server.client("write") as client:
        answer = client.post(
            "/api/v2/write",
            params={"precision": "s"},
            content="link_up,site=a,link=a--b value=1 1772323200\n"
            "link_up,site=a,link=a--b extra=3 1772323200\n",
        )
    assert answer.status_code == 204, answer.text
    assert list(server.query("link_up")["value"]) == [1.0]
    assert list(server.query("ext_link_up_extra")["value"]) == [3.0]


def test_v1_precisions_and_query_token(server: Server) -> None:
    with server.client("site") as client:
        for precision, stamp in (("h", 491_200), ("m", 29_472_000), ("u", 1_768_320_000_000_000)):
            answer = client.post(
                "/write",
                params={"db": "x", "rp": "autogen", "precision": precision},
                content=f"p,host=h v=1 {stamp}",
            )
            assert answer.status_code == 204, answer.text
    got = server.query("ext_p_v")  # the same instant three times: stored once
    assert list(got["ts"]) == [pd.Timestamp("2026-01-13T16:00:00Z")]


def test_telegraf_samples_through_influxdb_client_keep_their_tags(
    server: Server, shared_data: Path
) -> None:
    """Telegraf's tags land under their own names (``unit``, ``name``, ``host``, ``index``),
    and device ids built from them have no empty parts when a tag (``server``) is absent."""
    with InfluxDBClient(url=server.url, token=server.tokens["site"], org="o") as client:
        write_api = client.write_api(write_options=SYNCHRONOUS)
        for name in TELEGRAF_FILES:
            lines = (shared_data / "telegraf" / name).read_text(encoding="utf-8").splitlines()
            write_api.write(bucket="telegraf", record=[x for x in lines if x.strip()])
    status = server.query(ext_name("ipmi_sensor", "status"))
    supply = status[status["name"] == "power_supply_1"]
    assert set(supply["unit"]) == {"watts"}
    assert "tag_unit" not in status.columns
    power = server.query("device_power_watts", device_kind="power_supply")
    assert sorted(set(power["device"])) == [
        "10.20.2.203/power_supply_1",
        "10.20.2.203/power_supply_2",
        "power_supply_1",
        "power_supply_2",
        "web483/Power Supply Bay",  # redfish
    ]
    fans = server.query(ext_name("nvidia_smi", "fan_speed"))
    assert set(fans["index"]) == {"0", "1", "2"}
    assert set(fans["host"]) == {"8218cf"}
    assert set(fans["name"]) == {"GeForce GTX 1070", "GeForce GTX 1080"}
    interfaces = server.query(ext_name("interface", "ifMtu"))
    assert set(interfaces["ifDescr"]) == {"wlan0", "eth0", "lo"}


def test_a_bad_multi_field_line_is_one_error_and_a_write_answers_204_without_a_body_type(
    server: Server, shared_data: Path
) -> None:
    body = (shared_data / "telegraf" / "mem.lp").read_bytes()
    with server.client("write") as client:  # no site tag and no default site
        bad = client.post("/api/v2/write", params={"bucket": "b"}, content=body)
        line = b"power_watts,site=guian-1,meter=facility value=1"
        good = client.post("/api/v2/write", params={"bucket": "b"}, content=line)
    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert len(errors) == 1, errors
    assert errors[0]["line"] == 1
    assert good.status_code == 204
    assert "Content-Type" not in good.headers
    assert good.content == b""
