"""The report template's compiled code kept on disk for the next process: loaded instead of
compiled, and a cache that cannot be read or written changes nothing in the HTML."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest

from greenwatch.inventory import Inventory
from greenwatch.reports import Report, _render, render_html
from greenwatch.reports._render import kept_bytecode
from greenwatch.store import DuckDBStore
from tests.reports._golden import golden_day_report

GENERATED = pd.Timestamp("2026-11-01T02:00+08:00")


@pytest.fixture
def report(golden: tuple[DuckDBStore, Inventory]) -> Report:
    return golden_day_report(*golden)


def _html_with_cache(report: Report, directory: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The report's HTML from a new template environment (as in a new process) whose
    bytecode cache is ``directory``."""
    env = _render._environment()
    env.bytecode_cache = kept_bytecode(str(directory))
    monkeypatch.setattr(_render, "_ENV", env)
    return render_html(report, GENERATED)


def test_a_new_process_loads_the_compiled_template(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = render_html(report, GENERATED)
    assert _html_with_cache(report, tmp_path, monkeypatch) == expected  # compiled, kept
    assert len(list(tmp_path.iterdir())) == 1
    env = _render._environment()
    env.bytecode_cache = kept_bytecode(str(tmp_path))

    def not_compiled(*args: object, **kwargs: object) -> None:
        raise AssertionError("compiled again")

    monkeypatch.setattr(env, "compile", not_compiled)
    monkeypatch.setattr(_render, "_ENV", env)
    assert render_html(report, GENERATED) == expected


@pytest.mark.parametrize("content", [b"", b"j2\x00garbage", b"\x00" * 64, b"not code at all"])
def test_a_damaged_cache_file_is_compiled_over(
    report: Report, content: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = render_html(report, GENERATED)
    _html_with_cache(report, tmp_path, monkeypatch)
    (kept,) = tmp_path.iterdir()
    kept.write_bytes(kept.read_bytes()[:24] + content)  # Jinja's header kept, the code not
    assert _html_with_cache(report, tmp_path, monkeypatch) == expected
    kept.write_bytes(content)
    assert _html_with_cache(report, tmp_path, monkeypatch) == expected


def test_a_cache_that_cannot_be_written_or_made_changes_nothing(
    report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = render_html(report, GENERATED)
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    assert _html_with_cache(report, not_a_directory, monkeypatch) == expected
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(not_a_directory))
    assert kept_bytecode() is None  # no default directory to be made: no cache
