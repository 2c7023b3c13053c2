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
        # Proxy headers (X-Forwarded-For/-Proto) reach the app untouched: the dashboard believes
        # them only from its configured trusted proxies (CIDRs), which waitress cannot express.
        self._server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="greenwatch",
            clear_untrusted_proxy_headers=False,
        )
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.effective_port)  # type: ignore[union-attr]

    def _run(self) -> None:
        self._server.run()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the listener and every open connection from the loop thread, then join.

        Closing from this thread would race the loop's select() (EBADF) and leave keep-alive
        connections served after stop; the trigger runs the close inside the loop instead.
        """
        server = self._server
        channels = server._map  # type: ignore[union-attr]  # waitress keeps no public list

        def close_all() -> None:
            for channel in list(channels.values()):
                if channel is not server.trigger:  # type: ignore[union-attr]
                    channel.close()
            server.close()  # the listener, and the trigger with it: the loop ends

        if self._thread.is_alive():
            server.trigger.pull_trigger(close_all)  # type: ignore[union-attr]
            self._thread.join(timeout=5)
        else:
            close_all()
        server.task_dispatcher.shutdown(timeout=5)
