"""Shared fixtures: paths to real data, and the rule for tests that need a real server.

A test that needs a real server or browser calls :func:`need`: on a laptop without it the test
skips with the reason; under CI (``CI=true``) a missing server is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def need(condition: bool, reason: str) -> None:
    """Skip (laptop) or fail (CI=true) when a real dependency is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def need_binary(name: str, *candidates: str) -> str:
    """Path of an executable (first found of name and candidates), else skip/fail."""
    for cand in (name, *candidates):
        found = shutil.which(cand) or (cand if Path(cand).is_file() else None)
        if found:
            return found
    need(False, f"{name} is not installed (Debian package; .ci/run installs it)")
    raise AssertionError("unreachable")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def shared_data() -> Path:
    need(SHARED_DATA.is_dir(), f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA
