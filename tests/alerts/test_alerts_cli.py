"""``greenwatch alerts check | test | export``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from greenwatch.alerts import load_rules
from greenwatch.cli import main
from greenwatch.inventory import Inventory
from tests.alerts._network import after, simulated_store

PACK = Path(load_rules.__code__.co_filename).parent / "rules" / "national.yaml"
CONFIG = PACK.parent / "alerting.yaml"


def test_check_accepts_the_shipped_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "check", str(PACK)]) == 0
    assert "ok — 19 rules (absent 4, compute 3, kpi 5, metric 6, submeter 1)" in (
        capsys.readouterr().out
    )
    assert main(["alerts", "check", str(CONFIG)]) == 0
    assert "alerting config with 1 receivers, 4 inhibit rules" in capsys.readouterr().out


def test_check_names_file_line_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n  - alert: X\n    kind: metric\n    metric: link_up\n    op: '=='\n"
        "    threshold: 0\n    for: soon\n",
        encoding="utf-8",
    )
    assert main(["alerts", "check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:7: rules[0].for: " in err
    assert "a duration like" in err
    config = tmp_path / "alerting.yaml"
    config.write_text("route: {receiver: nobody}\nreceivers: [{name: noc}]\n", encoding="utf-8")
    assert main(["alerts", "check", str(config)]) == 2
    assert "unknown receiver 'nobody'" in capsys.readouterr().err


def test_export_prometheus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "export", "--format", "prometheus"]) == 0
    out = capsys.readouterr()
    doc = yaml.safe_load(out.out)
    assert len(doc["groups"][0]["rules"]) == 9  # metric and absent rules (not by hub)
    assert "skipped SitePueAboveTarget" in out.err
    target = tmp_path / "greenwatch.rules.yml"
    assert main(["alerts", "export", str(PACK), "--format", "vmalert", "--out", str(target)]) == 0
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["groups"]


def test_test_shows_what_would_fire(
    tmp_path: Path, inventory: Inventory, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    simulated_store(inventory, until=after(27, 30), path=data_dir / "greenwatch.duckdb").close()
    inv = tmp_path / "inventory.yaml"
    inv.write_text(yaml.safe_dump(inventory.model_dump(mode="json")), encoding="utf-8")
    rules = tmp_path / "rules.yaml"
    pack = yaml.safe_load(PACK.read_text(encoding="utf-8"))
    wanted = {"SitePueAboveTarget", "SiteDown", "MeterSilent"}
    rules.write_text(
        yaml.safe_dump({"rules": [r for r in pack["rules"] if r["alert"] in wanted]}),
        encoding="utf-8",
    )
    argv = [
        "alerts",
        "test",
        str(rules),
        "--at",
        str(after(27)),
        "--data-dir",
        str(data_dir),
        "--inventory",
        str(inv),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "FIRING   warning  SitePueAboveTarget site=guian-1" in out
    assert "FIRING   warning  MeterSilent site=shaoguan-1 meter=facility" in out
    assert "KpiDataIncomplete site=shaoguan-1" in out
    assert "SiteDown" not in out  # qingyang-2 came back at 26:40
    assert main([*argv[:-4], "--data-dir", str(tmp_path / "none"), *argv[-2:]]) == 2
