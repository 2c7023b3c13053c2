"""systemd units: hardened, and accepted by ``systemd-analyze verify`` where it is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, need
from tests.deploy.conftest import read

UNITS = ["systemd/greenwatch.service", "systemd/greenwatch-agent.service"]
GPU_CHECK = "systemd/greenwatch-gpu-check.service"
TIMER = "systemd/greenwatch-gpu-check.timer"
HARDENING = {
    "DynamicUser": "yes",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "CapabilityBoundingSet": "",
    "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
    "SystemCallFilter": "@system-service",
    "UMask": "0077",
}
EXEC = "/opt/greenwatch/bin/greenwatch"


def _sections(text: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as section -> key -> values (keys may repeat); comments dropped."""
    out: dict[str, dict[str, list[str]]] = {}
    section = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1], {})
            continue
        assert section is not None, f"key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not KEY=VALUE: {line}"
        section.setdefault(key.strip(), []).append(value.strip())
    return out


@pytest.mark.parametrize("unit", [*UNITS, GPU_CHECK])
def test_unit_is_hardened(unit: str) -> None:
    sections = _sections(read(unit))
    service = sections["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{unit}: {key}={service.get(key)}"
    assert service["StateDirectory"][0].startswith("greenwatch")
    assert "AF_PACKET" not in service["RestrictAddressFamilies"][0]
    (command,) = service["ExecStart"]
    assert command.startswith(EXEC + " ")
    if unit == GPU_CHECK:  # started by its timer, no [Install]
        assert set(sections) == {"Unit", "Service"}
        assert "gpu-check --site ${GREENWATCH_SITE}" in command
        assert service["SuccessExitStatus"] == ["3"]  # "no GPU" is not a failure
    else:
        assert set(sections) == {"Unit", "Service", "Install"}
        assert sections["Install"]["WantedBy"] == ["multi-user.target"]


def test_gpu_check_runs_daily_and_catches_up() -> None:
    timer = _sections(read(TIMER))
    assert timer["Timer"]["Persistent"] == ["true"]
    assert timer["Timer"]["OnCalendar"] == ["*-*-* 03:00:00"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def test_serve_listens_on_loopback_in_its_state_directory() -> None:
    (command,) = _sections(read(UNITS[0]))["Service"]["ExecStart"]
    assert "serve --data-dir /var/lib/greenwatch --host 127.0.0.1" in command
    agent = _sections(read(UNITS[1]))["Service"]
    assert agent["LoadCredential"] == ["agent.token:/etc/greenwatch/agent.token"]
    assert agent["DevicePolicy"] == ["closed"]


def local_greenwatch() -> Path:
    """This checkout's greenwatch (verify checks that ExecStart is executable)."""
    greenwatch = ROOT / ".venv" / "bin" / "greenwatch"
    need(greenwatch.exists(), "no .venv/bin/greenwatch (make test builds it)")
    return greenwatch


def assert_verified(unit_file: Path) -> None:
    """``systemd-analyze verify`` prints nothing on the unit (skips without systemd)."""
    analyze = shutil.which("systemd-analyze")
    need(analyze is not None, "systemd-analyze is not installed (Debian package systemd)")
    assert analyze is not None
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(unit_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # unknown or misspelt keys are only warnings: any output is a failure
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@pytest.mark.integration
@pytest.mark.parametrize("unit", [*UNITS, TIMER])
def test_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    greenwatch = local_greenwatch()
    copy = tmp_path / Path(unit).name
    copy.write_text(read(unit).replace(EXEC, str(greenwatch)), encoding="utf-8")
    if unit == TIMER:  # a timer is verified with the service it starts beside it
        service = tmp_path / Path(GPU_CHECK).name
        service.write_text(read(GPU_CHECK).replace(EXEC, str(greenwatch)), encoding="utf-8")
    assert_verified(copy)


@pytest.mark.integration
def test_systemd_analyze_verify_catches_a_misspelt_key(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    need(analyze is not None, "systemd-analyze is not installed (Debian package systemd)")
    assert analyze is not None
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nProtectSystm=strict\n", encoding="utf-8")
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Unknown key" in done.stderr
