"""The compose deployment: structure, images by name and tag, mounts that exist, loopback ports,
secrets out of git, and a Dockerfile whose sources exist (no image is built here)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.conftest import ROOT
from tests.deploy.conftest import DEPLOY, read

COMPOSE = DEPLOY / "compose"
SERVICES = {"greenwatch", "victoriametrics", "vmalert", "alertmanager", "grafana"}
IMAGE = re.compile(r"^(\$\{GREENWATCH_IMAGE:-)?[a-z0-9./-]+:[A-Za-z0-9._-]+\}?$")


def _compose() -> dict[str, Any]:
    return yaml.safe_load(read("compose/compose.yaml"))  # type: ignore[no-any-return]


def test_top_level_structure() -> None:
    compose = _compose()
    assert set(compose) <= {"name", "services", "volumes", "secrets", "networks"}
    assert set(compose["services"]) == SERVICES
    for name, service in compose["services"].items():
        assert IMAGE.match(service["image"]), f"{name}: image {service['image']!r}"
        assert ":latest" not in service["image"]
        assert not service.get("privileged"), name
        for dep in service.get("depends_on", []):
            assert dep in compose["services"], f"{name} depends on unknown {dep}"


def test_ports_are_published_on_loopback_only() -> None:
    for name, service in _compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"


def test_mounts_exist_and_named_volumes_are_declared() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source, target = mount.split(":")[:2]
            assert target.startswith("/"), f"{name}: {mount}"
            if source.startswith("."):
                assert (COMPOSE / source).resolve().exists(), f"{name}: {source} is missing"
            else:
                assert source in compose["volumes"], f"{name}: undeclared volume {source}"
        for secret in service.get("secrets", []):
            source = secret if isinstance(secret, str) else secret["source"]
            assert source in compose["secrets"], f"{name}: undeclared secret {source}"


def test_secrets_are_files_kept_out_of_git() -> None:
    for name, secret in _compose()["secrets"].items():
        assert secret["file"].startswith("./secrets/"), name
    assert "secrets/" in read("compose/.gitignore").split()


def test_the_wiring_between_services() -> None:
    services = _compose()["services"]
    assert services["greenwatch"]["command"][:1] == ["serve"]
    assert "--host" in services["greenwatch"]["command"]
    scrape = yaml.safe_load(read("victoriametrics/scrape.yml"))
    assert scrape["scrape_configs"][0]["static_configs"][0]["targets"] == ["greenwatch:8050"]
    vm_flags = services["victoriametrics"]["command"]
    assert "-promscrape.config=/etc/victoriametrics/scrape.yml" in vm_flags
    vmalert = services["vmalert"]
    assert "-notifier.url=http://alertmanager:9093" in vmalert["command"]
    mounted = {m.split(":")[1] for m in vmalert["volumes"]}
    assert all(path.startswith("/etc/vmalert/rules/") for path in mounted)
    alertmanager = yaml.safe_load(read("alertmanager/alertmanager.yml"))
    targets = {s["target"] for s in services["alertmanager"]["secrets"]}
    assert alertmanager["global"]["smtp_auth_password_file"] in targets
    for receiver in alertmanager["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            assert hook["http_config"]["authorization"]["credentials_file"] in targets


def test_dockerfile() -> None:
    instructions = []
    for raw in read("compose/Dockerfile").replace("\\\n", " ").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            instructions.append(line.split(None, 1))
    known = {"FROM", "RUN", "COPY", "USER", "WORKDIR", "VOLUME", "EXPOSE", "HEALTHCHECK"}
    known |= {"ENTRYPOINT", "CMD", "ENV", "ARG", "LABEL"}
    assert {op for op, _ in instructions} <= known
    assert instructions[0][0] == "FROM"
    assert instructions[-2:] == [["ENTRYPOINT", '["greenwatch"]'], instructions[-1]]
    assert instructions[-1][0] == "CMD"
    assert '"serve"' in instructions[-1][1]
    users = [arg for op, arg in instructions if op == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    build = _compose()["services"]["greenwatch"]["build"]
    context = (COMPOSE / build["context"]).resolve()
    assert context == ROOT
    assert (context / build["dockerfile"]).resolve() == COMPOSE / "Dockerfile"
    for op, arg in instructions:
        if op == "COPY":
            for source in arg.split()[:-1]:
                assert (context / source).exists(), f"COPY {source}: not in the build context"
