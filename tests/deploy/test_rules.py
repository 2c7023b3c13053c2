"""Rule files: the generated ones match ``greenwatch alerts export``; promtool and vmalert
accept every rule file; the KPI rules pass their promtool unit tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from greenwatch.cli import main
from tests.conftest import need_binary
from tests.deploy.conftest import DEPLOY, read

GENERATED = {
    "prometheus": "prometheus/rules/greenwatch-alerts.yml",
    "vmalert": "vmalert/greenwatch-alerts.yml",
}
RULE_FILES = [*GENERATED.values(), "prometheus/rules/greenwatch-kpi.yml"]


def _run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd, check=False)


@pytest.mark.parametrize(("flavour", "path"), sorted(GENERATED.items()))
def test_committed_rule_file_is_what_greenwatch_exports(
    flavour: str, path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rules.yml"
    assert main(["alerts", "export", "--format", flavour, "--out", str(out)]) == 0
    capsys.readouterr()
    assert out.read_text(encoding="utf-8") == read(path), (
        f"deploy/{path} is stale: greenwatch alerts export --format {flavour} --out deploy/{path}"
    )


@pytest.mark.integration
@pytest.mark.parametrize("path", RULE_FILES)
def test_promtool_check_rules(path: str) -> None:
    promtool = need_binary("promtool")
    done = _run(promtool, "check", "rules", str(DEPLOY / path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.integration
def test_promtool_unit_tests_of_the_kpi_rules() -> None:
    promtool = need_binary("promtool")
    rules = DEPLOY / "prometheus" / "rules"
    done = _run(promtool, "test", "rules", "greenwatch-kpi.test.yml", cwd=rules)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
@pytest.mark.parametrize(
    "path", ["vmalert/greenwatch-alerts.yml", "prometheus/rules/greenwatch-kpi.yml"]
)
def test_vmalert_loads_the_rules(path: str) -> None:
    vmalert = need_binary("vmalert")
    done = _run(vmalert, f"-rule={DEPLOY / path}", "-dryRun", "-loggerLevel=ERROR")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
def test_vmalert_rejects_a_broken_rule(tmp_path: Path) -> None:
    """The check above means something: vmalert -dryRun parses every expression."""
    vmalert = need_binary("vmalert")
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n- name: x\n  rules:\n  - alert: A\n    expr: up ==\n", "utf-8")
    assert _run(vmalert, f"-rule={bad}", "-dryRun", "-loggerLevel=ERROR").returncode != 0
