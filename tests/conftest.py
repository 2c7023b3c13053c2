"""Shared fixtures: paths to real data, and the rule for tests that need a real server.

A test that needs a real server or browser calls :func:`need`: on a laptop without it the test
skips with the reason; under CI (``CI=true``) a missing server is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
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


def wait_until(
    condition: Callable[[], bool], timeout_s: float = 120.0, poll_s: float = 0.05
) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout_s`` (generous: a busy machine is
    slow, and a test waits on what happens, never on how fast)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached in {timeout_s:.0f} s")
        time.sleep(poll_s)


def runs_when_asked_at_once(ask: Callable[[Callable[[], object]], object], answer: object) -> int:
    """How many times a slow computation of ``answer`` ran while four threads called
    ``ask(slow)`` at once (the computation held back until all had asked)."""
    runs: list[int] = []
    gate = threading.Event()

    def slow() -> object:
        runs.append(1)
        gate.wait(5)
        return answer

    threads = [threading.Thread(target=ask, args=(slow,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    gate.set()
    for thread in threads:
        thread.join()
    return len(runs)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def shared_data() -> Path:
    need(SHARED_DATA.is_dir(), f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@contextmanager
def daemon(
    args: list[str],
    log: Path,
    ready_url: str,
    poll_s: float = 0.1,
    env: dict[str, str] | None = None,
) -> Iterator[None]:
    """A server process on loopback, ready when ``ready_url`` answers 200; stopped on exit.

    Its output goes to ``log``, shown if it dies before it is ready; ``env``: its environment
    (default: this process's).
    """
    out = log.open("wb")
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{args[0]} did not get ready"
            time.sleep(poll_s)
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        out.close()


@contextmanager
def http_handler_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """A threaded HTTP server on a free loopback port for ``handler``; yields the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
