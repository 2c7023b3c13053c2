"""The core commands: exit codes, error messages naming file/line/key, idempotent demo backfill."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from greenwatch.cli import main

GOOD = """\
sites:
  - id: a-1
    name: A one
    kind: hub_cluster
    hub: guizhou
    region: west
    province: Guizhou
    location: {lat: 26.4, lon: 106.3}
    it_capacity_kw: 1000
  - id: b-1
    name: B one
    kind: ai
    region: east
    province: Hubei
    location: {lat: 30.5, lon: 114.3}
    it_capacity_kw: 800
links:
  - id: a-1--b-1
    a: a-1
    b: b-1
    capacity_bps: 1.0e+11
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_accepts_a_good_inventory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inventory", "validate", str(_write(tmp_path, GOOD))]) == 0
    assert "2 sites, 1 links, 0 compute pools" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    it_capacity_kw: 800\n",
            "    it_capacity_kw: 800\n    colour: red\n",
            ":17: sites[1].colour: unknown key",
        ),
        ("  - id: b-1\n", "  - id: a-1\n", ":10: sites[1].id: duplicate site id 'a-1'"),
        ("    b: b-1\n", "    b: zz-9\n", ":20: links[0].b: unknown site 'zz-9'"),
        (
            "{lat: 30.5,",
            "{lat: 95,",
            ":15: sites[1].location.lat: Input should be less than or equal to 90",
        ),
    ],
)
def test_bad_inventory_exits_2_naming_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, expected: str
) -> None:
    path = _write(tmp_path, GOOD.replace(old, new))
    assert main(["inventory", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}{expected}" in err


def test_bad_inventory_stops_demo_before_anything_starts(tmp_path: Path) -> None:
    bad = _write(tmp_path, GOOD.replace("kind: ai", "kind: quantum"))
    data = tmp_path / "data"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "greenwatch.cli",
            "demo",
            "--inventory",
            str(bad),
            "--data-dir",
            str(data),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert f"{bad}:12: sites[1].kind" in proc.stderr
    assert not data.exists(), "nothing may be created when the inventory is bad"


def test_demo_backfill_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = _write(tmp_path, GOOD)
    args = [
        "demo",
        "--days",
        "1",
        "--no-serve",
        "--inventory",
        str(inv),
        "--data-dir",
        str(tmp_path / "d"),
    ]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert main(args) == 0
    second = capsys.readouterr().out
    state = json.loads((tmp_path / "d" / "demo.json").read_text(encoding="utf-8"))
    assert state["seed"] == 0
    assert "newly stored" in first
    stored_again = second.split("samples generated, ")[1].split(" newly stored")[0]
    # The second run regenerates the same history (plus any new minutes) and stores only the new.
    assert int(stored_again.replace(",", "")) < 20_000
