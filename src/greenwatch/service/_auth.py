"""API tokens: scopes, hashed storage, constant-time checks, and the policy per route.

Tokens look like ``gw_<id>_<secret>`` and are shown once, when created. The token file
(``tokens.json`` in the data directory, mode 0600) keeps only each token's SHA-256, its id,
name, scopes, optional default site and creation time. A presented token is hashed and
compared with every stored hash using :func:`hmac.compare_digest`, so neither the comparison
nor an early exit leaks how much of a guess was right. The file is re-read when it changes, so
``greenwatch token create`` works against a running server.

Scopes: ``write`` (push APIs), ``read`` (read APIs, KPIs), ``admin`` (everything). Clients send
``Authorization: Token <t>`` (InfluxDB clients, Telegraf) or ``Authorization: Bearer <t>``
(OTel exporters, Prometheus, vmagent); InfluxDB v1 clients may send ``?p=<t>`` or basic auth
with the token as password. The dashboard (``/``), ``/healthz`` and ``/readyz`` stay open.
With no token file every API request is refused (401): greenwatch never serves its APIs open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import flask
import pandas as pd

from greenwatch.model import GreenwatchError
from greenwatch.service._context import bad_request

SCOPES = ("write", "read", "admin")
TOKEN_FILE = "tokens.json"


@dataclass(frozen=True)
class TokenInfo:
    """A stored token (never the token itself)."""

    id: str
    name: str
    scopes: tuple[str, ...]
    sha256: str
    created: str
    site: str | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """Tokens in a JSON file; ``path`` None keeps them in memory (tests, embedding)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._tokens: list[TokenInfo] = []
        self._stamp: tuple[float, int] | None = None

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> TokenStore:
        return cls(data_dir / TOKEN_FILE)

    def _load(self) -> list[TokenInfo]:
        if self.path is None:
            return self._tokens
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._tokens, self._stamp = [], None
            return self._tokens
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self._tokens = [
                TokenInfo(**{**t, "scopes": tuple(t["scopes"])}) for t in raw.get("tokens", [])
            ]
            self._stamp = stamp
        return self._tokens

    def tokens(self) -> list[TokenInfo]:
        with self._lock:
            return list(self._load())

    def create(self, scopes: list[str], name: str = "", site: str | None = None) -> str:
        """A new token with ``scopes``; returns the token text (shown once, stored hashed)."""
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise GreenwatchError(f"scopes must be among {', '.join(SCOPES)}, not {unknown}")
        token_id = secrets.token_hex(4)
        token = f"gw_{token_id}_{secrets.token_urlsafe(32)}"
        info = TokenInfo(
            token_id,
            name or token_id,
            tuple(dict.fromkeys(scopes)),
            _digest(token),
            pd.Timestamp.now(tz="UTC").isoformat(),
            site,
        )
        with self._lock:
            tokens = [*self._load(), info]
            self._save(tokens)
        return token

    def _save(self, tokens: list[TokenInfo]) -> None:
        if self.path is None:
            self._tokens = tokens
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = json.dumps({"tokens": [asdict(t) for t in tokens]}, indent=2)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
        tmp.replace(self.path)

    def check(self, token: str) -> TokenInfo | None:
        """The token's info if it is valid (constant-time comparison of SHA-256 digests)."""
        digest = _digest(token).encode("ascii")
        found = None
        for info in self.tokens():
            if hmac.compare_digest(digest, info.sha256.encode("ascii")):
                found = info
        return found


def presented_token(request: flask.Request) -> str | None:
    """The token a request carries: Authorization Token/Bearer/Basic, or v1 ``?p=``."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme in ("token", "bearer") and value.strip():
        return value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return request.args.get("p") or None


# (method, path prefix) → scope; first match wins. Anything else is open.
POLICY: tuple[tuple[str, str, str], ...] = (
    ("POST", "/api/v2/write", "write"),
    ("POST", "/write", "write"),
    ("POST", "/v1/metrics", "write"),
    ("POST", "/api/v1/write", "write"),
    # Edge agents post benchmark results with write tokens; changing pools takes admin.
    ("POST", "/api/v1/resources/verifications", "write"),
    ("POST", "/api/v1/resources", "admin"),
    ("DELETE", "/api/v1/resources", "admin"),
    ("GET", "/api/", "read"),
    # Every other change through the API (acknowledge, silences) needs write: fail closed.
    ("POST", "/api/", "write"),
    ("PUT", "/api/", "write"),
    ("PATCH", "/api/", "write"),
    ("DELETE", "/api/", "write"),
)


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs, or None for open routes (dashboard, health)."""
    for verb, prefix, scope in POLICY:
        if method == verb and (path == prefix or path.startswith(prefix.rstrip("/") + "/")):
            return scope
    return None


def install(app: flask.Flask, tokens: TokenStore) -> None:
    """Check tokens before every request that :func:`required_scope` names."""

    @app.before_request
    def _authorise() -> tuple[flask.Response, int] | None:
        request = flask.request
        scope = required_scope(request.method, request.path)
        if scope is None:
            return None
        token = presented_token(request)
        if token is None:
            return bad_request("missing token: send 'Authorization: Token <token>'", 401)
        info = tokens.check(token)
        if info is None:
            return bad_request("invalid token", 401)
        if not info.allows(scope):
            return bad_request(f"token {info.name!r} lacks the {scope} scope", 403)
        flask.g.token = info
        return None


TOKENS_KEY = "GREENWATCH_TOKENS"


def default_tokens(data_dir: Path | None, store: object) -> TokenStore:
    """``tokens.json`` in the data directory — by default the embedded store file's folder.

    A service with neither (e.g. over a remote store, no data directory) has no tokens, and
    every API request is refused until one is given.
    """
    if data_dir is None:
        path = getattr(store, "path", None)
        if isinstance(path, str) and path != ":memory:":
            data_dir = Path(path).parent
    return TokenStore.for_data_dir(data_dir) if data_dir is not None else TokenStore(None)


def register(app: flask.Flask, ctx: object) -> None:
    """API module hook: install the token check with the service's token store."""
    del ctx
    install(app, app.config[TOKENS_KEY])
