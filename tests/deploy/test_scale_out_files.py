"""The scale-out deployment files: the compose file, the systemd units and the vmauth configs.

Every greenwatch command line in them is parsed by greenwatch's own parser (a misspelt flag
fails here, not at 3 a.m.); the units pass ``systemd-analyze verify``; vmauth starts on each of
its configs; the wiring (roles, the store URL, de-duplication, replicas behind vmauth) holds.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from greenwatch.cli import build_parser
from tests.conftest import daemon, free_port, need, need_binary
from tests.deploy.conftest import DEPLOY, read
from tests.deploy.test_systemd import EXEC, HARDENING, _sections, assert_verified, local_greenwatch

UNITS = sorted(p.name for p in (DEPLOY / "systemd" / "scale-out").iterdir())
SERVICES = {"ingest-1", "ingest-2", "ui", "vmauth", "victoriametrics", "vmagent", "vmalert"}
SERVICES |= {"alertmanager"}


def compose() -> dict[str, Any]:
    return yaml.safe_load(read("compose/scale-out.yaml"))  # type: ignore[no-any-return]


def serve_args(argv: list[str]) -> Any:
    """``greenwatch`` arguments parsed as the command line would (SystemExit on a bad flag)."""
    return build_parser().parse_args(argv)


def test_compose_topology() -> None:
    services = compose()["services"]
    assert set(services) == SERVICES
    roles = {}
    for name in ("ingest-1", "ingest-2", "ui"):
        args = serve_args(services[name]["command"])
        assert args.store == "victoriametrics"
        assert args.store_write_url == "http://victoriametrics:8428"
        roles[name] = args.role
    assert roles == {
        "ingest-1": frozenset({"ingest"}),
        "ingest-2": frozenset({"ingest"}),
        "ui": frozenset({"ui", "jobs"}),
    }
    assert "-dedup.minScrapeInterval=1ms" in services["victoriametrics"]["command"]
    vmauth = yaml.safe_load(read("compose/vmauth-ingest.yml"))
    assert vmauth["users"][0]["url_prefix"] == ["http://ingest-1:8050", "http://ingest-2:8050"]
    scrape = yaml.safe_load(read("compose/vmagent-scrape.yml"))
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["ui:8050"]
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / "compose" / source).resolve().exists(), f"{name}: {source}"
            else:
                assert source in compose()["volumes"], f"{name}: {source}"
        assert ":latest" not in service["image"]


@pytest.mark.parametrize("unit", UNITS)
def test_unit_is_hardened_and_its_command_parses(unit: str) -> None:
    sections = _sections(read(f"systemd/scale-out/{unit}"))
    service = sections["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == [value], f"{unit}: {key}={service.get(key)}"
    (command,) = service["ExecStart"]
    argv = shlex.split(command.replace("%i", "8051"))
    if argv[0] == EXEC:
        args = serve_args(argv[1:])
        assert args.store_write_url == "http://127.0.0.1:8428"
        assert args.host == "127.0.0.1"
    else:
        assert argv[0].startswith("/usr/bin/")
    if "victoria-metrics" in command:
        assert "-dedup.minScrapeInterval=1ms" in argv


@pytest.mark.integration
@pytest.mark.parametrize("unit", UNITS)
def test_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    text = read(f"systemd/scale-out/{unit}").replace(EXEC, str(local_greenwatch()))
    (command,) = _sections(text)["Service"]["ExecStart"]
    need(Path(command.split()[0]).exists(), f"{command.split()[0]} is not installed")
    copy = tmp_path / unit.replace("@.service", "@8051.service")
    copy.write_text(text, encoding="utf-8")
    if "@" in unit:  # an instance is verified next to its template
        (tmp_path / unit).write_text(text, encoding="utf-8")
    assert_verified(copy)


@pytest.mark.integration
@pytest.mark.parametrize(
    "config", ["vmauth/ingest.yml", "vmauth/cluster.yml", "compose/vmauth-ingest.yml"]
)
def test_vmauth_starts_on_the_config(config: str, tmp_path: Path) -> None:
    binary = need_binary("vmauth", "/usr/bin/vmauth")
    port = free_port()
    args = [binary, f"-auth.config={DEPLOY / config}", f"-httpListenAddr=127.0.0.1:{port}"]
    env_names = ("GREENWATCH_TOKEN_GUIAN_1", "GREENWATCH_VM_TOKEN")
    env = {"PATH": "/usr/bin:/bin", **dict.fromkeys(env_names, "token")}
    with daemon(args, tmp_path / "vmauth.log", f"http://127.0.0.1:{port}/health", env=env):
        answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/import", timeout=10)
        assert answer.status_code in (400, 401)  # no token: refused at the door
