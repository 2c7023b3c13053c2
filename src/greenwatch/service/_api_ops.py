"""``POST /api/v1/backup`` (admin scope): a backup of the server's data directory, streamed
back as ``application/gzip`` (see :mod:`greenwatch.service._backup`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import flask

from greenwatch.service._backup import write_backup
from greenwatch.service._context import ApiContext, bad_request
from greenwatch.store import DuckDBStore


def register(app: flask.Flask, ctx: ApiContext) -> None:
    @app.post("/api/v1/backup")
    def backup() -> flask.Response | tuple[flask.Response, int]:
        token = flask.g.get("token")
        if token is None or not token.allows("admin"):
            return bad_request("a backup needs a token with the admin scope", 403)
        store = ctx.store
        if ctx.data_dir is None or not isinstance(store, DuckDBStore) or store.path == ":memory:":
            return bad_request("this server has no embedded store to back up", 409)
        with tempfile.TemporaryDirectory(prefix="greenwatch-backup-") as tmp:
            out = Path(tmp) / "backup.tar.gz"
            write_backup(store, ctx.data_dir, out)
            body = out.read_bytes()
        return flask.Response(body, mimetype="application/gzip")
