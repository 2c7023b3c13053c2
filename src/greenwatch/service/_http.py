"""The HTTP side of ``greenwatch serve``: health endpoints, the dashboard, a production server."""

from __future__ import annotations

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
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)
        self._stop_lock = threading.Lock()
        self._stopped = False

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[union-attr]

    def _run(self) -> None:
        self._server.run()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish, then close every connection.

        The order matters: worker threads pull waitress' trigger (a pipe) when a response is
        ready, so the trigger may close only once no worker runs (else EBADF, or a write into
        a reused descriptor); and sockets close inside the loop thread, never under its
        select(). Idempotent and safe from any thread but the server's own workers.
        """
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            self._stop()

    def _stop(self) -> None:
        server = self._server
        channels = server._map  # type: ignore[union-attr]  # waitress keeps no public list
        trigger: Any = server.trigger  # type: ignore[union-attr]
        running = self._thread.is_alive()

        def stop_accepting() -> None:
            # The listener only: BaseWSGIServer.close would close the trigger as well.
            wasyncore.dispatcher.close(server)  # type: ignore[arg-type]
            for channel in list(channels.values()):
                if channel is not trigger:
                    channel.will_close = True  # closes once its response is out

        def close_all() -> None:
            for channel in list(channels.values()):
                if channel is not trigger:
                    channel.close()
            trigger.close()  # the map is empty now: the loop ends

        if running:
            trigger.pull_trigger(stop_accepting)
        else:
            stop_accepting()
        server.task_dispatcher.shutdown(timeout=5)
        if running:
            trigger.pull_trigger(close_all)
            self._thread.join(timeout=10)
        else:
            close_all()
