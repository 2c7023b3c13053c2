"""``greenwatch report``: outputs, byte-identical CSV, and exit 2 on bad input."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from greenwatch.cli import main
from greenwatch.reports import list_reports, render_pdf
from tests.reports._golden import INVENTORY, golden_store


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_command_writes_all_formats(
    golden_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        "--period", "2026-10-05",
        "--data-dir", str(golden_data_dir),
        "--inventory", str(INVENTORY),
    )  # fmt: skip
    assert code == 0
    assert "[2026-10-05T00:00+08:00, 2026-10-06T00:00+08:00) (Asia/Shanghai)" in out
    (report,) = list_reports(golden_data_dir / "reports")  # the default archive
    assert [f.format for f in report.files] == ["html", "pdf"] + ["csv"] * 12
    pdf = (report.path / "greenwatch-national-2026-10-05.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    # rendered by the child process the command starts: the same as rendered here
    html = (report.path / "greenwatch-national-2026-10-05.html").read_text(encoding="utf-8")
    assert pdf == render_pdf(html)


def test_same_data_and_configuration_give_byte_identical_csv(
    golden_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A second store built from the same samples, in another directory, at another time.
    other = tmp_path / "other"
    golden_store(other / "greenwatch.duckdb").close()
    outputs = []
    for data, out in ((golden_data_dir, tmp_path / "a"), (other, tmp_path / "b")):
        code, _, _ = _run(
            capsys,
            "--period", "2026-10-05",
            "--scope", "hub:guizhou",
            "--format", "csv",
            "--data-dir", str(data),
            "--inventory", str(INVENTORY),
            "--out", str(out),
        )  # fmt: skip
        assert code == 0
        folder = out / "greenwatch-hub-guizhou-2026-10-05"
        outputs.append({p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))})
    assert len(outputs[0]) == 11  # a hub report has no west share of the nation
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--period", "2026-13"], "bad period '2026-13': month must be in 1..12"),
        (["--period", "2026-W54"], "bad period '2026-W54'"),
        (["--period", "2026-02-30"], "bad period '2026-02-30'"),
        (["--period", "October"], "use YYYY, YYYY-MM, YYYY-Www (ISO week) or YYYY-MM-DD"),
        (["--period", "2026-10", "--scope", "hub:atlantis"], "unknown hub 'atlantis'"),
        (["--period", "2026-10", "--scope", "site:nowhere"], "unknown site 'nowhere'"),
        (["--period", "2026-10", "--scope", "region:east"], "use national, hub:ID or site:ID"),
        (["--period", "2026-10", "--scope", "planet"], "bad scope 'planet'"),
        (["--period", "2026-10", "--format", "html,docx"], "bad format 'docx'"),
        (["--period", "2026-10", "--email", "a@b.cn"], "--email needs --smtp HOST:PORT"),
        (["--period", "2026-10", "--smtp", "mailhost"], "bad --smtp 'mailhost'"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    golden_data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    code, _, err = _run(
        capsys, *argv, "--data-dir", str(golden_data_dir), "--inventory", str(INVENTORY)
    )
    assert code == 2
    assert err.startswith("greenwatch: ")
    assert message in err
    assert not (golden_data_dir / "reports").exists()


def test_missing_store_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "--period", "2026-10", "--data-dir", str(tmp_path / "empty"))
    assert code == 2
    assert "no store at" in err
    assert not (tmp_path / "empty").exists()


def test_missing_period_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["report"])
    assert exit_.value.code == 2
    assert "--period" in capsys.readouterr().err


def test_the_collector_is_off_for_the_command_and_back_after_it_in_process(
    golden_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--period", "2026-10-05", "--format", "csv", "--data-dir", str(golden_data_dir),
            "--inventory", str(INVENTORY)]  # fmt: skip
    assert gc.isenabled()
    assert _run(capsys, *args, "--out", str(tmp_path / "in-process"))[0] == 0
    assert gc.isenabled()
    # As the process's own command (main() without argv) it stays off until the process ends,
    # which it does in main() once the command is done: exit functions run, output flushed.
    code = (
        "import atexit, gc, sys\n"
        "from greenwatch.cli import main\n"
        "atexit.register(lambda: print('at exit, collector on:', gc.isenabled()))\n"
        f"sys.argv = ['greenwatch', 'report', *{[*args, '--out', str(tmp_path / 'own')]!r}]\n"
        "main()\n"
        "print('after main')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    lines = run.stdout.splitlines()
    assert lines[-1] == "at exit, collector on: False"
    assert "after main" not in lines
    assert lines[0].startswith("Daily efficiency report")  # what the command printed
    assert len(list((tmp_path / "own").glob("*/*.csv"))) == 12  # every file written
