"""Redfish collector against the DMTF mockups and real Dell/HPE Power responses, on loopback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from greenwatch.collect import CollectorError, Target, build_collector, collect_once
from greenwatch.collect._redfish import REWALK_EVERY
from greenwatch.model import ConfigError
from tests.collect.conftest import assert_golden, fixed_clock
from tests.collect.servers import StaticServer, self_signed
from tests.conftest import need_binary

KWH = 3.6e6


def _value(batch, metric, device):
    rows = batch[(batch.metric == metric) & (batch.device == device)]
    assert len(rows) == 1, f"{metric} {device}: {len(rows)} rows"
    return float(rows.value.iloc[0])


def test_rackmount_prefers_new_resources_and_converts_kwh(redfish_tree: StaticServer) -> None:
    target = {"name": "bmc-1", "site": "guian-1", "url": redfish_tree.url}
    with build_collector("redfish", target, fixed_clock) as collector:
        batch = collector.collect()
    # EnvironmentMetrics PowerWatts (374) wins over legacy PowerControl (344).
    assert _value(batch, "device_power_watts", "bmc-1/1U") == 374.0
    # No EnergykWh in EnvironmentMetrics: the chassis TotalEnergy sensor (325675 kWh) is used.
    assert _value(batch, "device_energy_joules_total", "bmc-1/1U") == 325675 * KWH
    assert _value(batch, "device_power_watts", "bmc-1/1U/Bay1") == 937.4
    assert _value(batch, "device_energy_joules_total", "bmc-1/1U/Bay1") == 325675 * KWH
    # The legacy PSU (MemberId 0) is not read: the chassis has PowerSubsystem readings.
    assert "bmc-1/1U/0" not in set(batch.device)
    assert set(batch.site) == {"guian-1"}
    assert_golden(batch, "redfish/dmtf-rackmount1.expected")


def test_rack_pdu_outlets_and_totals(pdu_tree: StaticServer) -> None:
    target = {"name": "pdu-r5", "site": "guian-1", "url": pdu_tree.url, "labels": {"rack": "R5"}}
    batch = collect_once("redfish-pdu", target, clock=fixed_clock)
    assert _value(batch, "device_power_watts", "pdu-r5/RackPDUs/1") == 6438.0
    assert _value(batch, "device_energy_joules_total", "pdu-r5/RackPDUs/1") == 56438 * KWH
    assert _value(batch, "device_power_watts", "pdu-r5/RackPDUs/1/A1") == 197.4
    assert _value(batch, "device_energy_joules_total", "pdu-r5/RackPDUs/1/A1") == 36166 * KWH
    outlets = batch[(batch.metric == "device_power_watts") & (batch.device_kind == "pdu_outlet")]
    # 11 outlets listed; A4 and A5 report null readings and are skipped.
    assert len(outlets) == 9
    assert _value(batch, "device_power_watts", "pdu-r5/RackPDUs/1") > 0
    assert set(batch.rack) == {"R5"}
    assert_golden(batch, "redfish/dmtf-pdu.expected")


def _vendor_tree(tmp_path: Path, capture: Path) -> Path:
    """A minimal service root and chassis collection around one real Power capture."""
    power = json.loads(capture.read_text())
    power_uri = power["@odata.id"]
    chassis_uri = power_uri.rsplit("/", 1)[0]
    docs = {
        "/redfish/v1": {
            "@odata.id": "/redfish/v1",
            "Chassis": {"@odata.id": "/redfish/v1/Chassis"},
        },
        "/redfish/v1/Chassis": {"Members": [{"@odata.id": chassis_uri}]},
        chassis_uri: {
            "@odata.id": chassis_uri,
            "Id": chassis_uri.rsplit("/", 1)[1],
            "Power": {"@odata.id": power_uri},
        },
    }
    for uri, doc in docs.items():
        path = tmp_path / uri.lstrip("/") / "index.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
    out = tmp_path / power_uri.lstrip("/") / "index.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(capture.read_bytes())
    return tmp_path


@pytest.mark.parametrize(
    ("capture", "chassis", "watts"),
    [("dell_power.json", "System.Embedded.1", 429.0), ("hp_power.json", "1", 221.0)],
)
def test_vendor_legacy_power(
    shared_data: Path, tmp_path: Path, capture: str, chassis: str, watts: float
) -> None:
    src = shared_data / "redfish" / "vendor-captures" / "telegraf-testdata" / capture
    with StaticServer(_vendor_tree(tmp_path, src)) as server:
        target = {"name": "bmc", "site": "s1", "url": server.url}
        batch = collect_once("redfish", target, clock=fixed_clock)
    assert _value(batch, "device_power_watts", f"bmc/{chassis}") == watts
    got = batch[batch.device_kind == "psu"].set_index("device").value.to_dict()
    if capture == "dell_power.json":
        # Dell PSU "Model" has trailing spaces; MemberIds are used, stripped.
        assert got["bmc/System.Embedded.1/PSU.Slot.1"] == 900.0
    else:
        # HPE reports PowerInputWatts null for both PSUs: nothing, and no failure.
        assert got == {}
    assert_golden(batch, f"redfish/{capture.removesuffix('.json')}.expected")


def test_basic_auth_and_session_auth(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_BMC_PASSWORD", "s3cret")
    root = shared_data / "redfish" / "dmtf-public-rackmount1"
    creds = {"username": "admin", "password": {"env": "GW_TEST_BMC_PASSWORD"}}
    with StaticServer(root, users={"admin": "s3cret"}) as server:
        basic = {"name": "b", "site": "s1", "url": server.url, "credentials": creds}
        assert len(collect_once("redfish", basic)) > 0
    with StaticServer(root, users={"admin": "s3cret"}, allow_basic=False) as server:
        session = {**basic, "url": server.url, "credentials": {**creds, "method": "session"}}
        collector = build_collector("redfish", session)
        assert len(collector.collect()) > 0
        assert len(server.sessions) == 1
        collector.close()
        assert server.deleted == ["/redfish/v1/SessionService/Sessions/1"]


def test_wrong_password_is_auth_failed(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_TEST_BMC_PASSWORD", "wrong")
    root = shared_data / "redfish" / "dmtf-public-rackmount1"
    creds = {"username": "admin", "password": {"env": "GW_TEST_BMC_PASSWORD"}}
    for method in ("basic", "session"):
        with StaticServer(root, users={"admin": "s3cret"}) as server:
            spec = {"name": "b", "site": "s1", "url": server.url}
            spec["credentials"] = {**creds, "method": method}
            with pytest.raises(CollectorError) as err:
                collect_once("redfish", spec)
        assert err.value.reason == "auth failed"
        assert "wrong" not in str(err.value)


def test_malformed_root_and_implausible_values(tmp_path: Path, shared_data: Path) -> None:
    with StaticServer(routes={"/redfish/v1": (200, "application/json", b"<html>oops")}) as srv:
        with pytest.raises(CollectorError) as err:
            collect_once("redfish", {"name": "b", "site": "s1", "url": srv.url})
        assert err.value.reason == "malformed response"
    capture = shared_data / "redfish" / "vendor-captures" / "telegraf-testdata" / "dell_power.json"
    doc = json.loads(capture.read_text())
    doc["PowerControl"][0]["PowerConsumedWatts"] = -5  # a BMC glitch: negative power
    doc["PowerSupplies"][0]["PowerInputWatts"] = "  900 "  # numeric text with spaces
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    with StaticServer(_vendor_tree(tmp_path / "tree", broken)) as server:
        collector = build_collector("redfish", {"name": "b", "site": "s1", "url": server.url})
        batch = collector.collect()
    assert "b/System.Embedded.1" not in set(batch.device)
    assert any("implausible" in p for p in collector.problems)
    assert _value(batch, "device_power_watts", "b/System.Embedded.1/PSU.Slot.1") == 900.0


def test_never_follows_links_to_other_hosts(tmp_path: Path, shared_data: Path) -> None:
    # rackmount1 itself links to https://redfishpdu.contoso.com/... (an absolute URL); here a
    # chassis collection lists such a member: it is skipped and noted, loopback is never left.
    capture = shared_data / "redfish" / "vendor-captures" / "telegraf-testdata" / "hp_power.json"
    tree = _vendor_tree(tmp_path, capture)
    collection = tree / "redfish" / "v1" / "Chassis" / "index.json"
    doc = json.loads(collection.read_text())
    doc["Members"].insert(0, {"@odata.id": "https://redfishpdu.contoso.com/redfish/v1/Chassis/9"})
    collection.write_text(json.dumps(doc))
    with StaticServer(tree) as server:
        collector = build_collector("redfish", {"name": "b", "site": "s1", "url": server.url})
        batch = collector.collect()
    assert set(batch.device) == {"b/1"}
    assert any("another host" in p and "contoso" in p for p in collector.problems)


def test_profile_rejects_unbound_template(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "family: redfish\nrules:\n  - resource: Chassis/{chassis}/Power\n"
        "    property: PowerControl[0].PowerConsumedWatts\n    metric: device_power_watts\n"
        "    labels: {device: '{psu}'}\n"
    )
    with pytest.raises(ConfigError) as err:
        collect_once(bad, Target(name="b", site="s1", url="http://127.0.0.1:9"))
    assert "bad.yaml:3" in str(err.value)
    assert "psu" in str(err.value)


def test_tls_is_verified_by_default(tmp_path: Path, shared_data: Path) -> None:
    cert, context = self_signed(need_binary("openssl"), tmp_path)
    root = shared_data / "redfish" / "dmtf-public-rackmount1"
    with StaticServer(root, tls=context) as server:
        target = {"name": "bmc", "site": "s1", "url": server.url}
        with pytest.raises(CollectorError) as err:
            collect_once("redfish", target)
        assert err.value.reason == "tls error"
        assert len(collect_once("redfish", {**target, "ca_file": str(cert)})) > 0
        assert len(collect_once("redfish", {**target, "verify_tls": False})) > 0


def test_polls_read_only_the_remembered_resources_until_one_fails(
    shared_data: Path, tmp_path: Path
) -> None:
    """After a full walk a poll requests only the resources rules read; a remembered one that
    fails sends that same poll through a full walk, so every poll's batch and problems equal
    a fresh collector's on the tree as it is; members added show up at the next full walk."""
    root = tmp_path / "tree"
    shutil.copytree(shared_data / "redfish" / "dmtf-public-rackmount1", root)
    target = {"name": "bmc-1", "site": "guian-1"}

    def fresh(url: str) -> tuple[object, list[str]]:
        with build_collector("redfish", target | {"url": url}, fixed_clock) as other:
            batch = other.collect()
            return batch, list(other.problems)

    with (
        StaticServer(root) as server,
        build_collector("redfish", target | {"url": server.url}, fixed_clock) as collector,
    ):
        first = collector.collect()
        walked = len(server.requests)
        server.requests.clear()
        again = collector.collect()
        assert len(server.requests) < walked
        assert "/redfish/v1" not in server.requests
        assert "/redfish/v1/Chassis" not in server.requests
        assert again.equals(first)
        sensor = "/redfish/v1/Chassis/1U/Sensors/TotalEnergy"
        server.routes[sensor] = (404, "application/json", b"{}")
        server.requests.clear()
        gone = collector.collect()
        assert "/redfish/v1" in server.requests  # walked again, in the same poll
        expected, problems = fresh(server.url)
        assert gone.equals(expected)
        assert not gone.equals(first)
        assert collector.problems == problems
        assert any(sensor in p for p in problems)
        assert collector.collect().equals(expected)  # remembered again, the skip reported
        assert collector.problems == problems
        del server.routes[sensor]
        polls = 0
        while not collector.collect().equals(first):
            polls += 1
            assert polls <= REWALK_EVERY
