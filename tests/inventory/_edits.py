"""Inventory tests' one move: edit a valid document, load it, expect one named problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from greenwatch.inventory import load_inventory
from greenwatch.model import ConfigError


def write_inventory(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def assert_one_problem(
    tmp_path: Path, valid: str, edit: tuple[str, str], line: int, key: str, message: str
) -> None:
    """``valid`` with ``edit`` (old, new) applied fails to load naming exactly one problem at
    ``key`` on ``line`` whose text contains ``message``, reported as ``file:line: key: …``."""
    old, new = edit
    assert old in valid
    path = write_inventory(tmp_path, valid.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_inventory(path)
    err = caught.value
    assert err.source == str(path)
    matching = [p for p in err.problems if p[1] == key]
    assert len(matching) == 1, err.problems
    assert matching[0][0] == line
    assert message in matching[0][2]
    assert f"{path}:{line}: {key}: " in str(err)
