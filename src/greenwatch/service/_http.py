"""The HTTP side of ``greenwatch serve``: health endpoints, the dashboard, a production server."""

from __future__ import annotations

import contextlib
import errno
import threading
from collections.abc import Callable
from typing import Any

import flask
from waitress import wasyncore
from waitress.server import create_server

from greenwatch.model import SystemFailureError

Ready = Callable[[], bool]
Trouble = Callable[[], str | None]  # why the service is degraded, None when it is not


def _untroubled() -> str | None:
    return None


def create_flask(ready: Ready, trouble: Trouble = _untroubled) -> flask.Flask:
    """The Flask app carrying the API routes; the Dash app mounts on it.

    ``/healthz`` answers 200 while the process runs (``degraded`` with the reason when the
    store cannot be read); ``/readyz`` answers 503 until started and while degraded.
    """
    app = flask.Flask("greenwatch")

    @app.get("/healthz")
    def healthz() -> flask.Response:
        reason = trouble()
        if reason is not None:
            return flask.jsonify(status="degraded", reason=reason)
        return flask.jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> tuple[flask.Response, int]:
        reason = trouble()
        if reason is not None:
            return flask.jsonify(status="degraded", reason=reason), 503
        ok = ready()
        return flask.jsonify(status="ready" if ok else "starting"), 200 if ok else 503

    return app


class ListenError(SystemFailureError):
    """The HTTP port cannot be bound (in use, not allowed): a failure of the system."""

    def __init__(self, host: str, port: int, cause: OSError) -> None:
        what = "is in use" if cause.errno == errno.EADDRINUSE else f"cannot be used ({cause})"
        super().__init__(
            f"port {port} on {host} {what}: stop what listens there (another greenwatch "
            "serve?) or pass --port"
        )


_TICK_S = 0.5  # the event loop looks at the stop flags at least this often


class HttpServer:
    """A waitress server (production WSGI) on a background thread, stoppable once from any
    thread (later calls return at once)."""

    def __init__(self, app: flask.Flask, host: str, port: int, threads: int = 8) -> None:
        # Proxy headers (X-Forwarded-For/-Proto) reach the app untouched: the dashboard believes
        # them only from its configured trusted proxies (CIDRs), which waitress cannot express.
        try:
            self._server = create_server(
                app,
                host=host,
                port=port,
                threads=threads,
                ident="greenwatch",
                clear_untrusted_proxy_headers=False,
            )
        except OSError as exc:
            raise ListenError(host, port, exc) from None
        self._channels: dict[int, Any] = self._server._map  # type: ignore[union-attr]
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)
        self._stop_lock = threading.Lock()
        self._stopped = False
        self._draining = threading.Event()  # stop accepting, let responses in flight go out
        self._closing = threading.Event()  # close every connection and end the loop

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[union-attr]

    def _run(self) -> None:
        """The event loop. It alone closes the listener and the connections, so no socket
        closes under its select(); stop() only sets flags and wakes it."""
        while not self._closing.is_set():
            if self._draining.is_set():
                self._stop_accepting()
            if self._channels:
                wasyncore.loop(timeout=_TICK_S, map=self._channels, count=1)
            else:
                self._closing.wait(_TICK_S)
        self._close_all()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish, then close every connection.

        Worker threads pull waitress' trigger (a pipe) when a response is ready, so the trigger
        closes only once no worker runs, and only in the loop thread. Idempotent and safe from
        any thread but the server's own workers.
        """
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        if not self._thread.is_alive():  # never started, or its loop has ended
            self._stop_accepting()
            self._server.task_dispatcher.shutdown(timeout=5)
            self._close_all()
            return
        self._draining.set()
        self._wake()
        self._server.task_dispatcher.shutdown(timeout=5)
        self._closing.set()
        self._wake()
        self._thread.join(timeout=10)

    def _wake(self) -> None:
        trigger: Any = self._server.trigger  # type: ignore[union-attr]
        # A closed trigger cannot wake the loop; it sees the flags within a tick anyway.
        with contextlib.suppress(OSError):
            trigger.pull_trigger()

    def _stop_accepting(self) -> None:
        server: Any = self._server
        if server.socket is not None:
            # The listener only: BaseWSGIServer.close would close the trigger as well.
            wasyncore.dispatcher.close(server)
        for channel in list(self._channels.values()):
            if channel is not server.trigger:
                channel.will_close = True  # closes once its response is out

    def _close_all(self) -> None:
        trigger: Any = self._server.trigger  # type: ignore[union-attr]
        for channel in list(self._channels.values()):
            if channel is not trigger:
                channel.close()
        trigger.close()
