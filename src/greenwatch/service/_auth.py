"""Who may call which API route: the policy per route and method, the token a request carries,
and the 401, 403 and 429 answers.

Scopes and site bindings: :mod:`greenwatch.service._tokens`.

Clients send ``Authorization: Token <t>`` (InfluxDB clients, Telegraf) or
``Authorization: Bearer <t>`` (OTel exporters, Prometheus, vmagent). Only the InfluxDB v1 write
API (``/write``, ``/query``) also takes the token in the URL (``?p=<t>``, ``?u=…&p=<t>``,
``?token=<t>``), because v1 clients send it there (basic auth's password works anywhere);
anywhere else a token in the URL is refused (URLs end up in proxy logs and browser history).
HEAD and OPTIONS follow GET's rules. The dashboard (its own login), ``/healthz`` and
``/readyz`` stay open. With no token file every API request is refused (401): greenwatch never
serves its APIs open.

Repeated failures from one client address (``FAILURE_LIMIT`` invalid tokens within
``FAILURE_WINDOW_S``) get 429 with ``Retry-After`` for every request needing a token until the
window has passed; the table of addresses is bounded (:class:`~greenwatch.model.FailureThrottle`).
"""

from __future__ import annotations

import base64
from pathlib import Path

import flask

from greenwatch.model import FailureThrottle
from greenwatch.service._context import ApiContext, bad_request
from greenwatch.service._tokens import TokenStore

URL_TOKEN_PATHS = ("/write", "/query")  # InfluxDB v1: clients put credentials in the URL
URL_TOKEN_PARAMS = ("p", "token")


def _url_token(request: flask.Request) -> str | None:
    for name in URL_TOKEN_PARAMS:
        if request.args.get(name):
            return request.args[name]
    return None


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
    return _url_token(request) if request.path in URL_TOKEN_PATHS else None


INGEST_PATHS = ("/api/v2/write", "/write", "/v1/metrics", "/api/v1/write")
READ_METHODS = ("GET", "HEAD", "OPTIONS")


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def required_scope(method: str, path: str) -> str | None:
    """The scope a request needs, or None for open routes (dashboard, health, ``/metrics``).

    Every method of a push route needs write (a wrong method is then told 405); under
    ``/api/``, GET, HEAD and OPTIONS need read (so does ``POST /api/v1/alerts/test``, which
    changes nothing), anything else write, pools admin; an edge agent posts verification
    records with its write token.
    """
    if path in INGEST_PATHS:
        return "write"
    if not _under(path, "/api"):
        return None
    if _under(path, "/api/v1/audit"):  # names people and their addresses
        return "admin"
    if _under(path, "/api/v1/backup"):  # the whole data directory, token hashes included
        return "admin"
    if method in READ_METHODS or path == "/api/v1/alerts/test":  # a replay changes nothing
        return "read"
    if _under(path, "/api/v1/resources/verifications"):
        return "write"
    if _under(path, "/api/v1/resources"):
        return "admin"
    # Every other change through the API (acknowledge, silences) needs write: fail closed.
    return "write"


def _too_many(wait: int) -> tuple[flask.Response, int]:
    response, status = bad_request(
        f"too many failed authentication attempts from this address; retry in {wait} s", 429
    )
    response.headers["Retry-After"] = str(wait)
    return response, status


def authorise(
    scope: str, tokens: TokenStore, throttle: FailureThrottle
) -> tuple[flask.Response, int] | None:
    """A 401/403/429 answer when the current request may not use ``scope``, else None (and
    ``flask.g.token`` is the caller's token)."""
    request = flask.request
    client = request.remote_addr or "-"
    wait = throttle.retry_after(client)
    if wait is not None:
        return _too_many(wait)
    if request.path not in URL_TOKEN_PATHS and _url_token(request) is not None:
        return bad_request("send the token in the Authorization header, never in the URL", 401)
    token = presented_token(request)
    if token is None:
        return bad_request("missing token: send 'Authorization: Token <token>'", 401)
    info = tokens.check(token)
    if info is None:
        throttle.failed(client)
        return bad_request("invalid token", 401)
    throttle.succeeded(client)
    if not info.allows(scope):
        return bad_request(f"token {info.name!r} lacks the {scope} scope", 403)
    flask.g.token = info
    return None


def register(app: flask.Flask, ctx: ApiContext) -> None:
    """Check the context's tokens before every request that :func:`required_scope` names
    (``/metrics`` too when the exports ask for a token)."""

    @app.before_request
    def _authorise() -> tuple[flask.Response, int] | None:
        request = flask.request
        scope = required_scope(request.method, request.path)
        if _under(request.path, "/metrics") and ctx.exports and ctx.exports.settings.metrics_token:
            scope = "read"
        return authorise(scope, ctx.tokens, ctx.throttle) if scope is not None else None


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
