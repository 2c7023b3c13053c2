"""greenwatch.metrics is pure: no I/O, no wall clock, no mutable globals (STYLE.md 4).

Static: every module's AST may import only numeric/typing modules and the shared model, and may
not call file, network, process or clock functions. Dynamic: the engine runs with files,
sockets and subprocesses made to fail.
"""

from __future__ import annotations

import ast
import builtins
import socket
import subprocess
from pathlib import Path

import pytest

from greenwatch import metrics
from tests.metrics._frames import at, frame

PACKAGE = Path(metrics.__file__).parent
ALLOWED_IMPORTS = {
    "__future__",
    "collections.abc",
    "dataclasses",
    "enum",
    "math",
    "typing",
    "numpy",
    "numpy.typing",
    "pandas",
}
# The inventory is allowed for its value types (GridFactor); its loaders are never called here.
# greenwatch._lazy is the package face's loader: it imports the package's own modules on first
# use (so ``greenwatch --help`` does not load pandas), nothing else.
ALLOWED_PREFIXES = (
    "greenwatch.metrics.",
    "greenwatch.model",
    "greenwatch.inventory",
    "greenwatch._lazy",
)
FORBIDDEN_CALLS = {
    # files and processes
    "open",
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "read_csv",
    "read_parquet",
    "read_json",
    "read_sql",
    "to_csv",
    "to_parquet",
    "to_json",
    "system",
    "popen",
    "urlopen",
    "connect",
    # clocks
    "now",
    "utcnow",
    "today",
    "time",
    "monotonic",
    "perf_counter",
    # dynamic code
    "eval",
    "exec",
    "__import__",
    "import_module",
    "files",
}


def _modules() -> list[Path]:
    found = sorted(PACKAGE.glob("*.py"))
    assert len(found) >= 8, found
    return found


def _violations(source: str) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [("." * node.level) + (node.module or "")]
        else:
            names = []
        for name in names:
            if name not in ALLOWED_IMPORTS and not name.startswith(ALLOWED_PREFIXES):
                problems.append(f"line {node.lineno}: imports {name}")
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if called in FORBIDDEN_CALLS:
                problems.append(f"line {node.lineno}: calls {called}()")
        if isinstance(node, ast.Global | ast.Nonlocal):
            problems.append(f"line {node.lineno}: rebinds a global")
    return problems


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_module_does_no_io(path: Path) -> None:
    assert _violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        "import os\n",
        "import socket\n",
        "from urllib.request import urlopen\n",
        "import duckdb\n",
        "import sqlite3\n",
        "import subprocess\n",
        "import requests\n",
        "from pathlib import Path\n",
        "from importlib import resources\n",
        "x = open('f')\n",
        "import pandas as pd\ndf = pd.read_csv('f')\n",
        "from datetime import datetime\nx = datetime.now()\n",
        "import time\nx = time.time()\n",
        "def f(p):\n    return p.read_text()\n",
        "X = 1\ndef f():\n    global X\n    X = 2\n",
    ],
)
def test_the_checker_catches_io(source: str) -> None:
    assert _violations(source), source


def test_package_exports_only_what_it_declares() -> None:
    assert sorted(metrics.__all__) == sorted(set(metrics.__all__))
    for name in metrics.__all__:
        assert hasattr(metrics, name), name


def test_engine_runs_with_io_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"I/O attempted: {args!r}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    counter = frame([(0, 1000), (10, 1500), (20, 300), (30, 800)])
    power = frame([(s, 50) for s in range(0, 35, 5)])
    got = metrics.interval_energy(counter, power, start=at(0), end=at(30), max_gap="60s")
    assert got.source == "counter+power"
    per = metrics.energy_per_bucket(counter, power, bucket="10s", max_gap="60s")
    assert per["value"].sum() == pytest.approx(got.value)
    kpi = metrics.pue(got, metrics.Measured(got.value / 1.5), category=2, start=at(0), end=at(30))
    assert kpi.value == pytest.approx(1.5)
