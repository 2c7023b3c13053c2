"""How commands on the same machine find a running server of a data directory.

``greenwatch serve`` leaves two files in its data directory while it runs:
``server.json`` (its URL and process id; removed on a clean stop) and ``admin.token`` (a token
with the admin scope, kept across restarts). Both are readable by their owner only (mode
0600): whoever can read the data directory's files can already read the store. A command
given ``--data-dir`` finds the server there, checks its process is alive (a file left by a
killed server is stale and ignored), and asks it over HTTP with that token.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greenwatch.service._tokens import TokenStore

SERVER_FILE = "server.json"
ADMIN_TOKEN_FILE = "admin.token"
_ADMIN_NAME = "local-admin"


@dataclass(frozen=True)
class LocalServer:
    """A server found through its data directory (or named with ``--url``)."""

    url: str
    token: str | None
    pid: int | None = None


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    tmp.replace(path)


def admin_token(data_dir: Path, tokens: TokenStore) -> str:
    """The local admin token in ``data_dir``: the one kept there if ``tokens`` still knows it,
    else a new one (written with mode 0600)."""
    path = data_dir / ADMIN_TOKEN_FILE
    if path.exists():
        kept = path.read_text(encoding="utf-8").strip()
        info = tokens.check(kept)
        if info is not None and info.allows("admin"):
            return kept
    token = tokens.create(["admin"], _ADMIN_NAME)
    _write_private(path, token + "\n")
    return token


def publish(data_dir: Path, url: str) -> None:
    """Leave the server's address in ``data_dir`` (``server.json``)."""
    _write_private(data_dir / SERVER_FILE, json.dumps({"url": url, "pid": os.getpid()}))


def withdraw(data_dir: Path) -> None:
    """Remove ``server.json`` if it is this process's."""
    found = _read_server_file(data_dir)
    if found is not None and found[1] == os.getpid():
        (data_dir / SERVER_FILE).unlink(missing_ok=True)


def _read_server_file(data_dir: Path) -> tuple[str, int] | None:
    try:
        raw = json.loads((data_dir / SERVER_FILE).read_text(encoding="utf-8"))
        return str(raw["url"]), int(raw["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


def stored_token(data_dir: Path) -> str | None:
    """The local admin token kept in ``data_dir``, if readable."""
    try:
        return (data_dir / ADMIN_TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def running_server(data_dir: Path) -> LocalServer | None:
    """The server serving ``data_dir`` now, if one left its address there and still runs."""
    found = _read_server_file(data_dir)
    if found is None or not _alive(found[1]):
        return None
    return LocalServer(found[0], stored_token(data_dir), found[1])
