"""Profiles and targets: every shipped profile is valid; every mistake names file, line, key."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenwatch.collect import (
    FAMILIES,
    CollectorError,
    Target,
    check_profile,
    collect_once,
    load_profile,
    load_targets,
    shipped_profiles,
)
from greenwatch.collect._oids import resolve_oid
from greenwatch.model import ConfigError, shipped_dir


@pytest.mark.parametrize("name", shipped_profiles())
def test_shipped_profiles_are_valid(name: str) -> None:
    check_profile(shipped_dir("collectors") / f"{name}.yaml")
    profile = load_profile(name)
    assert profile.family in FAMILIES
    assert profile.name == name
    assert profile.description


def test_every_family_has_a_shipped_profile() -> None:
    assert {load_profile(n).family for n in shipped_profiles()} == set(FAMILIES)


def _check(tmp_path: Path, text: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        check_profile(path)
    return str(err.value)


SNMP_HEAD = "family: snmp\nrules:\n  - metric: link_up\n"


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        (SNMP_HEAD + "    oid: 1.3.6.1.2.1.2.2.1.8\n    colour: blue\n", 5, "unknown key"),
        (SNMP_HEAD + "    oid: 1.3.6.x.1\n", 4, "bad OID"),
        (SNMP_HEAD + "    oid: .1.3.6.1.2.1.2.2.1..8\n", 4, "bad OID"),
        (SNMP_HEAD + "    oid: IF-MIB::ifNoSuchThing\n", 4, "unknown OID symbol"),
        (SNMP_HEAD + "    oid: PowerNet-MIB::rPDU2DeviceStatusPower\n", 4, "unknown OID symbol"),
        (SNMP_HEAD + "    oid: ifOperStatus\n    index: '{a}.{a}'\n", 5, "bad index pattern"),
        (
            "family: snmp\nrules:\n  - metric: power_wats\n    oid: 1.3.6.1.2.1.1.3\n",
            3,
            "unknown metric",
        ),
        (
            "family: snmp\nrules:\n  - metric: power_watts\n    unit: kilowatts\n"
            "    oid: 1.3.6.1.2.1.1.3\n",
            3,
            "in watts, not kilowatts",
        ),
        ("family: snmpx\nrules: []\n", 1, "unknown family"),
        ("family: snmp\nsymbols: {x: 1.3.six}\nrules: []\n", 2, "not a dotted numeric"),
    ],
)
def test_profile_errors_name_the_line(tmp_path: Path, body: str, line: int, needle: str) -> None:
    message = _check(tmp_path, body)
    assert f"p.yaml:{line}" in message, message
    assert needle in message, message


def test_symbols_and_standard_names_resolve() -> None:
    assert resolve_oid("IF-MIB::ifHCInOctets") == "1.3.6.1.2.1.31.1.1.1.6"
    assert resolve_oid("ifHighSpeed") == "1.3.6.1.2.1.31.1.1.1.15"
    assert resolve_oid("sysUpTime.0") == "1.3.6.1.2.1.1.3.0"
    assert resolve_oid("rPDU2X", {"rPDU2X": "1.3.6.1.4.1.318.1.1.26.4.3.1.5"}).endswith(".5")
    assert resolve_oid(".1.3.6.1") == "1.3.6.1"


def test_labels_must_suit_the_metric(tmp_path: Path) -> None:
    message = _check(
        tmp_path,
        "family: nvml\nrules:\n  - field: temp_c\n    metric: temperature_celsius\n"
        "    labels: {device: x}\n",
    )
    assert "p.yaml:3" in message
    assert "does not take label" in message


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    message = _check(
        tmp_path,
        "family: modbus\nrules:\n  - metric: power_watts\n    address: -4\n"
        "  - metric: energy_joules_total\n    address: 99999\n",
    )
    assert "p.yaml:4" in message
    assert "p.yaml:6" in message


def test_targets_file_and_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(
        "targets:\n"
        "  - name: bmc-1\n    site: guian-1\n    url: https://10.0.0.5\n"
        "    credentials: {username: root, password: {env: BMC_PASSWORD}}\n"
        "  - name: bmc-1\n    site: guian-1\n    url: https://10.0.0.6\n"
    )
    with pytest.raises(ConfigError) as err:
        load_targets(path)
    assert "targets.yaml:6" in str(err.value)
    assert "duplicate" in str(err.value)
    path.write_text(
        "targets:\n  - name: bmc-1\n    site: guian-1\n    url: https://10.0.0.5\n"
        "    credentials: {username: root, password: hunter2}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_targets(path)
    assert "targets.yaml:5" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_secret_values_never_appear(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("p4ssw0rd\n")
    target = Target.model_validate(
        {
            "name": "bmc",
            "site": "s1",
            "url": "http://127.0.0.1:9",
            "credentials": {"username": "root", "password": {"file": str(secret)}},
        }
    )
    assert target.credentials.password is not None
    assert target.credentials.password.reveal() == "p4ssw0rd"
    assert "p4ssw0rd" not in repr(target)
    assert "p4ssw0rd" not in target.model_dump_json()
    monkeypatch.delenv("GW_TEST_MISSING", raising=False)
    missing = {"name": "b", "site": "s1", "url": "http://127.0.0.1:9"}
    missing["credentials"] = {"username": "u", "password": {"env": "GW_TEST_MISSING"}}
    with pytest.raises(CollectorError) as err:
        collect_once("redfish", missing)
    assert err.value.reason == "bad config"


def test_target_spec_errors() -> None:
    with pytest.raises(ConfigError) as err:
        collect_once("redfish", {"name": "b", "url": "http://127.0.0.1:9"})
    assert "site" in str(err.value)
    with pytest.raises(ConfigError) as err:
        collect_once("redfish", {"name": "b", "site": "s1", "url": "ftp://x"})
    assert "url" in str(err.value)
    with pytest.raises(ConfigError) as err:
        collect_once("redfish", {"name": "b", "site": "s1"})
    assert "url" in str(err.value)
    with pytest.raises(ConfigError) as err:  # device_power_watts takes no meter label
        collect_once(
            "redfish",
            {
                "name": "b",
                "site": "s1",
                "url": "http://127.0.0.1:9",
                "labels": {"meter": "facility"},
            },
        )
    assert "meter" in str(err.value)
