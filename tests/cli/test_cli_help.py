"""``--help`` answers at once: building the parser and formatting every command's help imports
none of the heavy modules (pandas, DuckDB, Flask, …); each command's handler is imported only
when the command runs. Checked by what is imported, not by timing (bench/help.py times it)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

from greenwatch.cli import build_parser

HEAVY = ("pandas", "numpy", "duckdb", "dash", "plotly", "flask", "waitress", "httpx", "pyarrow",
         "pydantic", "yaml", "tqdm")  # fmt: skip


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*path, name))
    return found


COMMANDS = _commands(build_parser())


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys, argparse\n"
        "from greenwatch.cli import build_parser\n"
        "def walk(p):\n"
        "    p.format_help()\n"
        "    for a in p._actions:\n"
        "        if isinstance(a, argparse._SubParsersAction):\n"
        "            for c in a.choices.values(): walk(c)\n"
        "walk(build_parser())\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    ).stdout.split()
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    assert heavy == []
    # of greenwatch's stages only the light faces and their _names modules are loaded
    stages = [m for m in loaded if m.count(".") >= 2 and m.startswith("greenwatch.")]
    assert [m for m in stages if not m.startswith(("greenwatch.cli.", "greenwatch.model."))
            and not m.endswith("._names")] == []  # fmt: skip


def test_every_command_has_help() -> None:
    assert ("token", "create") in COMMANDS
    assert ("alerts", "test") in COMMANDS
    assert len(COMMANDS) > 25


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "greenwatch")
def test_help_exits_0(command: tuple[str, ...]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "greenwatch.cli", *command, "--help"],
        capture_output=True,
        text=True,
        env=os.environ,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: greenwatch")
    assert done.stderr == ""


def test_a_handler_loads_its_module_when_the_command_runs() -> None:
    args = build_parser().parse_args(["token", "list", "--data-dir", "x"])
    assert args.handler.__name__ == "_cmd_token_list"
    assert args.handler.module == "_token"
