"""SNMP collector against net-snmp's snmpd (this machine's interfaces, v2c and v3 authPriv) and
snmpsim serving real recordings: net-snmp IF-MIB walks, an APC and two Raritan PDUs."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from greenwatch.collect import CollectorError, build_collector, collect_once
from tests.collect.conftest import assert_golden, fixed_clock
from tests.collect.servers import snmpd, snmpsim
from tests.conftest import free_port, need_binary

pytestmark = pytest.mark.integration

USER, AUTH, PRIV = "gwuser", "gw-auth-pass-1", "gw-priv-pass-1"
KWH = 3.6e6


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    binary = need_binary("snmpd", "/usr/sbin/snmpd")
    with snmpd(binary, tmp_path_factory.mktemp("snmpd"), free_port(), USER, AUTH, PRIV) as port:
        yield port


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    data = Path(__file__).resolve().parents[3] / "shared" / "data" / "snmp"
    if not data.is_dir():
        pytest.skip(f"shared data folder {data} is absent")
    work = tmp_path_factory.mktemp("snmpsim")
    walks = work / "walks"
    walks.mkdir()
    # snmpsim reads `snmpwalk -On` output as .snmpwalk files; ifTable then ifXTable is in order.
    for name, parts in {
        "ifwalk": ("ifTable", "ifXTable"),
        "ifwalk2": ("ifTable", "ifXTable-t2"),
    }.items():
        text = "".join((data / f"netsnmp-{p}.walk").read_text() for p in parts)
        (walks / f"{name}.snmpwalk").write_text(text)
    records = {
        "apc": data / "librenms-apc_ap8959eu3.snmprec",
        "px3": data / "librenms-raritan-pdu_px3.trimmed.snmprec",
        "px2": data / "librenms-raritan-pdu_px2.snmprec",
        "ifwalk": walks / "ifwalk.snmpwalk",
        "ifwalk2": walks / "ifwalk2.snmpwalk",
    }
    with snmpsim(sys.executable, records, free_port()) as port:
        yield port


def _target(port: int, **extra: object) -> dict[str, object]:
    return {"name": "sw-1", "site": "s1", "address": f"127.0.0.1:{port}", "timeout_s": 2, **extra}


def _community(monkeypatch: pytest.MonkeyPatch, value: str) -> dict[str, object]:
    monkeypatch.setenv("GW_TEST_COMMUNITY", value)
    return {"community": {"env": "GW_TEST_COMMUNITY"}}


def _v3(monkeypatch: pytest.MonkeyPatch, auth: str = AUTH, priv: str = PRIV) -> dict[str, object]:
    monkeypatch.setenv("GW_TEST_AUTH", auth)
    monkeypatch.setenv("GW_TEST_PRIV", priv)
    return {
        "username": USER,
        "auth_key": {"env": "GW_TEST_AUTH"},
        "priv_key": {"env": "GW_TEST_PRIV"},
        "auth_protocol": "SHA",
        "priv_protocol": "AES",
    }


def _machine_interfaces() -> set[str]:
    return {name for _, name in socket.if_nameindex()}


def test_snmpd_if_mib_v2c_is_this_machine(agent: int) -> None:
    batch = collect_once("snmp-if-mib", _target(agent))
    assert set(batch.interface) == _machine_interfaces()
    lo = batch[batch.interface == "lo"].set_index("metric").value
    assert lo["link_up"] == 1.0
    assert lo["link_capacity_bits_per_second"] == 10e6  # ifHighSpeed 10 Mbit/s for lo
    assert lo["link_receive_bytes_total"] > 0


def test_snmpd_v3_authpriv(agent: int, monkeypatch: pytest.MonkeyPatch) -> None:
    v2c = collect_once("snmp-if-mib", _target(agent))
    v3 = collect_once("snmp-if-mib", _target(agent, credentials=_v3(monkeypatch)))
    assert set(v3.interface) == _machine_interfaces()
    series = ["metric", "interface"]
    assert sorted(map(tuple, v3[series].values)) == sorted(map(tuple, v2c[series].values))
    # snmpd caches interface counters for a few seconds; they never go backwards.
    key = ["metric", "interface"]
    both = v2c.merge(v3, on=key, suffixes=("_v2c", "_v3"))
    counters = both[both.metric.str.endswith("_total")]
    assert (counters.value_v3 >= counters.value_v2c).all()


def test_snmpd_wrong_community_times_out(agent: int, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _target(agent, timeout_s=0.6, credentials=_community(monkeypatch, "not-public"))
    with pytest.raises(CollectorError) as err:
        collect_once("snmp-if-mib", target)
    assert err.value.reason == "timeout"
    assert "not-public" not in str(err.value)


def test_snmpd_v3_wrong_auth_key_is_auth_failed(
    agent: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _target(agent, credentials=_v3(monkeypatch, auth="wrong-auth-pass"))
    with pytest.raises(CollectorError) as err:
        collect_once("snmp-if-mib", target)
    assert err.value.reason == "auth failed"


def test_recorded_if_mib_walk_and_delta(sim: int, monkeypatch: pytest.MonkeyPatch) -> None:
    first = collect_once(
        "snmp-if-mib",
        _target(sim, credentials=_community(monkeypatch, "ifwalk")),
        clock=fixed_clock,
    )
    later = collect_once(
        "snmp-if-mib", _target(sim, credentials=_community(monkeypatch, "ifwalk2"))
    )
    assert set(first.interface) == {"lo", "ifb0", "ifb1", "eth0"}
    caps = first[first.metric == "link_capacity_bits_per_second"]
    assert caps.interface.tolist() == ["lo"]  # eth0 reports ifHighSpeed 0: unknown, dropped
    up = first[first.metric == "link_up"].set_index("interface").value.to_dict()
    assert up == {"lo": 1.0, "ifb0": 0.0, "ifb1": 0.0, "eth0": 1.0}

    def lo_rx(batch):
        rows = batch[(batch.metric == "link_receive_bytes_total") & (batch.interface == "lo")]
        return float(rows.value.iloc[0])

    assert lo_rx(later) - lo_rx(first) == 87173 - 62893  # README: only lo moved
    assert_golden(first, "snmp/netsnmp-if-mib.expected")


def test_apc_rack_pdu(sim: int, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _target(sim, name="pdu-apc", credentials=_community(monkeypatch, "apc"))
    batch = collect_once("apc-rpdu2", target, clock=fixed_clock)
    power = batch[batch.metric == "device_power_watts"].set_index("device").value.to_dict()
    # 27 hundredths of kW = 270 W (and the legacy rPDUIdentDevicePowerWatts, 270 W, is not used)
    assert power == {"pdu-apc/1": 270.0, "pdu-apc/phase1": 250.0}
    energy = batch[batch.metric == "device_energy_joules_total"].value.tolist()
    assert energy == [pytest.approx(1967.7 * KWH)]  # 19677 tenths of kWh
    assert_golden(batch, "snmp/apc-ap8959eu3.expected")


def test_raritan_px3_decimal_digits(sim: int, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _target(sim, name="pdu-px3", credentials=_community(monkeypatch, "px3"))
    batch = collect_once("raritan-pdu2", target, clock=fixed_clock)
    inlet = batch[batch.device == "pdu-px3/1/inlet1"].set_index("metric").value
    assert inlet["device_power_watts"] == 1665.0
    assert inlet["device_energy_joules_total"] == 74057676 * 3600.0  # Wh -> J
    outlets = batch[(batch.device_kind == "pdu_outlet") & (batch.metric == "device_power_watts")]
    assert len(outlets) == 24
    assert outlets.set_index("device").value["pdu-px3/1/outlet1"] == 143.0
    assert_golden(batch, "snmp/raritan-px3.expected")


def test_raritan_px2_without_energy(sim: int, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _target(sim, name="pdu-px2", credentials=_community(monkeypatch, "px2"))
    batch = collect_once("raritan-pdu2", target, clock=fixed_clock)
    assert "device_energy_joules_total" not in set(batch.metric)
    power = batch[batch.metric == "device_power_watts"].set_index("device").value
    assert power["pdu-px2/1/inlet1"] == 138.0
    assert power["pdu-px2/1/outlet3"] == 68.0
    assert_golden(batch, "snmp/raritan-px2.expected")


def test_polls_share_one_socket_or_engine_until_a_poll_fails_or_the_collector_closes(
    agent: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with build_collector("snmp-if-mib", _target(agent, credentials=_v3(monkeypatch))) as v3:
        first = v3.collect()
        engine, loop = v3._engine, v3._loop
        second = v3.collect()
        assert v3._engine is engine
        assert v3._loop is loop
        series = ["metric", "interface"]
        assert sorted(map(tuple, second[series].values)) == sorted(map(tuple, first[series].values))
    assert v3._engine is None
    assert loop is not None
    assert loop.is_closed()
    with build_collector("snmp-if-mib", _target(agent)) as v2c:  # v2c: one socket, no engine
        v2c.collect()
        client = v2c._client
        v2c.collect()
        assert v2c._client is client is not None
        assert v2c._engine is None
    assert v2c._client is None
    wrong = _target(agent, timeout_s=0.6, credentials=_community(monkeypatch, "not-public"))
    with build_collector("snmp-if-mib", wrong) as collector:
        with pytest.raises(CollectorError):
            collector.collect()
        assert collector._client is None
        assert collector._engine is None
        assert collector._loop is None
