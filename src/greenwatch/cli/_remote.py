"""Asking a running greenwatch server instead of opening its store (which it holds locked).

A command with ``--url`` asks that server; one with only ``--data-dir`` asks the server that
serves that directory, found through ``DATA_DIR/server.json`` (see
:mod:`greenwatch.service._local`); the token is ``--token``, ``$GREENWATCH_TOKEN`` or the
server's local admin token in the data directory.
"""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from greenwatch.model import GreenwatchError, SystemFailureError
from greenwatch.service import LocalServer, running_server, stored_token

if TYPE_CHECKING:
    import httpx

TOKEN_ENV = "GREENWATCH_TOKEN"


def find_server(args: argparse.Namespace) -> LocalServer | None:
    """The server a command should ask, or None to open the store itself."""
    token = getattr(args, "token", None) or os.environ.get(TOKEN_ENV)
    url = getattr(args, "url", None)
    if url:
        return LocalServer(url.rstrip("/"), token or stored_token(args.data_dir))
    found = running_server(args.data_dir)
    if found is None:
        return None
    return LocalServer(found.url.rstrip("/"), token or found.token, found.pid)


def ask(server: LocalServer, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to ``server``. A refusal (4xx) is a GreenwatchError (exit 2); an unreachable
    or failing (5xx) server a SystemFailureError (exit 1)."""
    if not server.token:
        raise GreenwatchError(f"{server.url} needs a token: pass --token or set ${TOKEN_ENV}")
    # Imported here: a command that opens the store itself never asks a server.
    import httpx  # noqa: PLC0415

    headers = {"Authorization": f"Token {server.token}"}
    try:
        answer = httpx.request(method, server.url + path, headers=headers, timeout=600, **kwargs)
    except httpx.HTTPError as exc:
        raise SystemFailureError(
            f"cannot reach the greenwatch server at {server.url}: {exc}"
        ) from None
    if answer.status_code >= 400:
        try:
            message = answer.json().get("message", answer.text)
        except ValueError:
            message = answer.text
        failed = SystemFailureError if answer.status_code >= 500 else GreenwatchError
        raise failed(f"{server.url}: HTTP {answer.status_code}: {message}")
    return answer
