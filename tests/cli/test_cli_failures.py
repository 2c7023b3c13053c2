"""Every failure a user meets first is one sentence and an exit status: 2 for bad input, 1 for
the system; a traceback only with --debug; read commands never create a data directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tests.store.test_store_file import release_0

GW = [sys.executable, "-m", "greenwatch.cli"]
READS = [
    ["kpi", "pue", "--national"],
    ["compute"],
    ["export-kpis", "--format", "none"],
    ["report", "--period", "2026-10", "--format", "csv"],
    ["alerts", "test", "--at", "2026-11-01T00:00Z"],
    ["store", "check"],
    ["backup", "--out", "b.tar.gz"],
]


def gw(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GW, *args], capture_output=True, text=True, timeout=300, check=False, cwd=cwd
    )


def one_sentence(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("greenwatch: ")
    return lines[0]


@pytest.mark.parametrize("command", READS, ids=lambda c: " ".join(c[:2]))
def test_reads_never_create_a_store(tmp_path: Path, command: list[str]) -> None:
    where = tmp_path / "no" / "such"
    if command[0] == "alerts":
        rules = Path(__file__).parents[2] / "src/greenwatch/alerts/rules/national.yaml"
        command = ["alerts", "test", str(rules), *command[2:]]
    line = one_sentence(gw(*command, "--data-dir", str(where), cwd=tmp_path), 2)
    assert f"no store at {where}" in line
    assert not (tmp_path / "no").exists()


def test_a_damaged_store_names_the_file_and_what_to_do(tmp_path: Path) -> None:
    path = release_0(tmp_path)
    path.write_bytes(b"not a database" + path.read_bytes()[14:])
    line = one_sentence(gw("kpi", "pue", "--data-dir", str(path.parent)), 1)
    assert f"the store {path} is damaged" in line
    assert "greenwatch restore" in line
    debug = gw("--debug", "kpi", "pue", "--data-dir", str(path.parent))
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr


def test_store_check_reads_every_table(tmp_path: Path) -> None:
    path = release_0(tmp_path)
    check = gw("store", "check", "--data-dir", str(path.parent))
    assert check.returncode == 0, check.stderr
    assert "ok (schema version" in check.stdout
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    line = one_sentence(gw("store", "check", "--data-dir", str(path.parent)), 1)
    assert "is damaged" in line


def test_a_bad_backup_is_refused_and_nothing_is_restored(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"\x1f\x8b not really gzip")
    line = one_sentence(gw("restore", str(bogus), "--data-dir", str(tmp_path / "d")), 2)
    assert f"{bogus} cannot be read as a greenwatch backup" in line
    assert not (tmp_path / "d" / "greenwatch.duckdb").exists()


def test_backup_and_restore_without_a_server(tmp_path: Path) -> None:
    path = release_0(tmp_path)
    out = tmp_path / "b.tar.gz"
    assert gw("backup", "--data-dir", str(path.parent), "--out", str(out)).returncode == 0
    target = tmp_path / "again"
    assert gw("restore", str(out), "--data-dir", str(target)).returncode == 0
    assert gw("store", "check", "--data-dir", str(target)).returncode == 0
    line = one_sentence(gw("restore", str(out), "--data-dir", str(target)), 2)
    assert "already holds a store" in line


@pytest.mark.skipif(
    sys.platform != "linux" or shutil.which("id") is None or Path("/proc/self").stat().st_uid == 0,
    reason="root may write to a read-only directory",
)
def test_a_read_only_data_dir_is_named(tmp_path: Path) -> None:
    data = tmp_path / "ro"
    data.mkdir()
    data.chmod(0o500)
    try:
        line = one_sentence(gw("serve", "--data-dir", str(data), "--port", "0"), 1)
    finally:
        data.chmod(0o700)
    assert f"data directory {data} is read-only" in line
