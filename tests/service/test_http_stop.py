"""``HttpServer.stop``: idempotent, safe from any thread, while clients keep requesting."""

from __future__ import annotations

import errno
import logging
import threading
import time

import flask
import httpx
import pytest
from tests.conftest import free_port

from greenwatch.service._http import HttpServer


def _app() -> flask.Flask:
    app = flask.Flask("stop-test")

    @app.get("/slow")
    def slow() -> str:
        time.sleep(0.02)
        return "x" * 100_000

    return app


def _hammer(url: str, stop: threading.Event, errors: list[BaseException]) -> None:
    with httpx.Client(timeout=5) as client:  # keep-alive: connections open during stop
        while not stop.is_set():
            try:
                client.get(url)
            except httpx.TransportError:
                continue  # refused or cut by the stop: what a client sees
            except BaseException as exc:  # any other failure fails the test
                errors.append(exc)


@pytest.mark.parametrize("round_", range(5))
def test_stop_under_load_from_many_threads(round_: int, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="waitress")
    server = HttpServer(_app(), "127.0.0.1", free_port(), threads=4)
    server.start()
    url = f"http://127.0.0.1:{server.port}/slow"
    done, errors = threading.Event(), list[BaseException]()
    clients = [
        threading.Thread(target=_hammer, args=(url, done, errors), daemon=True) for _ in range(6)
    ]
    for client in clients:
        client.start()
    time.sleep(0.2 + 0.05 * round_)
    failures: list[BaseException] = []

    def stop() -> None:
        try:
            server.stop()
        except BaseException as exc:
            failures.append(exc)

    stoppers = [threading.Thread(target=stop) for _ in range(3)]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join()
    done.set()
    for client in clients:
        client.join()
    server.stop()  # once more: returns at once
    assert failures == []
    assert errors == []
    assert not [r for r in caplog.records if "trigger" in r.getMessage() or r.exc_info]
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=2)


def test_stop_before_start_is_clean() -> None:
    server = HttpServer(_app(), "127.0.0.1", free_port())
    server.stop()
    server.stop()


def test_stop_when_the_trigger_cannot_be_pulled(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI run once saw EBADF from the trigger's pipe inside stop(): stop must not depend on
    waking the loop through it."""
    server = HttpServer(_app(), "127.0.0.1", free_port(), threads=2)
    server.start()
    url = f"http://127.0.0.1:{server.port}/slow"
    assert httpx.get(url, timeout=5).status_code == 200

    def bad_descriptor() -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(server._server.trigger, "_physical_pull", bad_descriptor)  # type: ignore[union-attr]
    server.stop()
    assert not server._thread.is_alive()
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=2)
