"""The HTTP side of ``greenwatch serve``: health endpoints, the dashboard, a production server."""

from __future__ import annotations

import threading
from collections.abc import Callable

import flask
from waitress.server import create_server

Ready = Callable[[], bool]


def create_flask(ready: Ready) -> flask.Flask:
    """The Flask app carrying the API routes; the Dash app mounts on it."""
    app = flask.Flask("greenwatch")

    @app.get("/healthz")
    def healthz() -> flask.Response:
        return flask.jsonify(status="ok")

    @app.get("/readyz")
    def readyz() -> tuple[flask.Response, int]:
        ok = ready()
        return flask.jsonify(status="ready" if ok else "starting"), 200 if ok else 503

    return app


class HttpServer:
    """A waitress server (production WSGI) on a background thread, stoppable."""

    def __init__(self, app: flask.Flask, host: str, port: int, threads: int = 8) -> None:
        self._server = create_server(app, host=host, port=port, threads=threads, ident="greenwatch")
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[union-attr]

    def _run(self) -> None:
        self._server.run()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.close()
        self._thread.join(timeout=5)
