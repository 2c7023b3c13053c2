"""Argument parsing that scripts well: the sub-command's usage and a suggestion on a wrong flag,
relative times, ``GREENWATCH_DATA_DIR`` and its default in ``--help``, progress lines in logs."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.cli import build_parser, main
from greenwatch.cli._common import Progress
from greenwatch.model import GreenwatchError, parse_time_range

NOW = pd.Timestamp("2026-03-04T10:17:42Z")


def _exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "usage", "suggestion"),
    [
        (["kpi", "pue", "--strat", "-1d"], "usage: greenwatch kpi ", "did you mean --start?"),
        (["alerts", "export", "--formt=vmalert"], "usage: greenwatch alerts export ", "--format?"),
        (
            ["report", "--period", "2026-10", "--scpoe=national"],
            "usage: greenwatch report ",
            "did you mean --scope?",
        ),
        (["kpl", "pue"], "usage: greenwatch [-h]", "did you mean kpi?"),
    ],
)
def test_a_wrong_flag_shows_the_sub_commands_usage_and_a_suggestion(
    argv: list[str], usage: str, suggestion: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _exit_2(argv, capsys)
    assert err.startswith(usage)
    assert suggestion in err
    assert "Traceback" not in err


def test_relative_start_and_end_parse_as_option_values() -> None:
    args = build_parser().parse_args(["kpi", "pue", "--start", "-1d", "--end", "now-2h"])
    assert (args.start, args.end) == ("-1d", "now-2h")
    args = build_parser().parse_args(["export", "--start", "-90m"])
    assert args.start == "-90m"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("-1d", None, ("2026-03-03T10:17Z", "2026-03-04T10:17Z")),
        ("now-7d", "now", ("2026-02-25T10:17Z", "2026-03-04T10:17Z")),
        ("now-1h30m", "-30m", ("2026-03-04T08:47Z", "2026-03-04T09:47Z")),
        ("2026-03-01", "now", ("2026-03-01T00:00Z", "2026-03-04T10:17Z")),
        ("2026-03-01T08:00+08:00", "-1d", ("2026-03-01T00:00Z", "2026-03-03T10:17Z")),
    ],
)
def test_relative_times_count_back_from_now_to_the_minute(
    start: str, end: str | None, expected: tuple[str, str]
) -> None:
    begin, stop = parse_time_range(start, end, NOW)
    assert (begin, stop) == tuple(pd.Timestamp(t) for t in expected)


@pytest.mark.parametrize("bad", ["-1x", "now+1d", "yesterday", "now-"])
def test_a_bad_time_says_what_it_takes(bad: str) -> None:
    with pytest.raises(GreenwatchError, match="bad time"):
        parse_time_range(bad, None, NOW)


def test_the_data_dir_comes_from_the_environment_and_help_shows_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GREENWATCH_DATA_DIR", "/srv/gw")
    for argv in (["kpi", "pue"], ["serve"], ["token", "list"], ["resources", "list"]):
        assert build_parser().parse_args(argv).data_dir == Path("/srv/gw"), argv
    assert build_parser().parse_args(["serve", "--data-dir", "x"]).data_dir == Path("x")
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "(default: $GREENWATCH_DATA_DIR, else ./greenwatch-data; now /srv/gw)" in help_text
    monkeypatch.delenv("GREENWATCH_DATA_DIR")
    assert build_parser().parse_args(["serve"]).data_dir == Path("greenwatch-data")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_plain_lines_in_a_log_and_a_bar_on_a_terminal() -> None:
    log = io.StringIO()
    with Progress(1000, "backfill", "samples", stream=log) as progress:
        for _ in range(40):
            progress.update(25)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0] == "backfill: 10% (100 of 1,000 samples)"
    assert lines[-1] == "backfill: 100% (1,000 of 1,000 samples)"
    assert len(lines) == 10
    terminal = _Terminal()
    with Progress(1000, "backfill", "samples", stream=terminal) as progress:
        progress.update(1000)
    assert "\r" in terminal.getvalue()
    assert "1.00k/1.00k" in terminal.getvalue()


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_the_store_memory_limit_is_a_size(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args([command])
    assert args.store_memory_limit == "1GiB"
    assert build_parser().parse_args([command, "--store-memory-limit", "4GB"]).store_memory_limit
    err = _exit_2([command, "--store-memory-limit", "lots"], capsys)
    assert err.startswith(f"usage: greenwatch {command} ")
    assert "'lots' is not a size such as 512MiB or 4GB" in err
