"""Who is looking: dashboard login from a users file (scrypt hashes), or a reverse proxy's header.

Two roles: ``viewer`` (read-only) and ``operator`` (may acknowledge and silence alerts). With
neither a users file nor a proxy header configured there is no login and everyone has the
anonymous role: ``operator`` only when the server is bound to the loopback address itself
(``127.0.0.1``, ``::1``, ``localhost``: the demo on one's own machine), ``viewer`` on any other
bind address (``0.0.0.0``, a LAN address, even another ``127.x`` address), whatever
``anonymous_role`` says. The decision is made on the bind address, never on the client's.

Behind a reverse proxy, its user header, ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are
believed only from ``trusted_proxies``. Logins are throttled: ``login_failures`` failures for
one user name, or from one client, within ``login_window_s`` answer 429 (``Retry-After``)
without checking the password. The session cookie is HttpOnly, SameSite=Lax, and Secure when
the request came over TLS (or ``secure_cookie: true``). Actions that change state (acknowledge,
silence, expire) carry a CSRF token: the page sets a ``_csrf_token`` cookie, the Dash renderer
sends it back as ``X-CSRFToken``, and the server compares it with the one in the signed
session; an action without it is refused. Only the dashboard is guarded here: pages, their
callbacks and report downloads; the HTTP APIs keep their own token auth. A users file looks
like::

    users:
      - name: alice
        role: operator
        password: "scrypt$16384$8$1$<salt, base64>$<hash, base64>"   # hash_password("…")
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import ipaddress
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlparse

import flask
from flask.sessions import SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from pydantic import Field

from greenwatch.dashboard._spec import AuthSettings
from greenwatch.model import FailureThrottle, StrictModel, load_yaml, parse_model

log = logging.getLogger("greenwatch.dashboard")
Role = Literal["viewer", "operator"]
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SESSION_KEY = "greenwatch_user"
CSRF_KEY = "greenwatch_csrf"
CSRF_COOKIE = "_csrf_token"  # the names the Dash renderer reads and sends
CSRF_HEADER = "X-CSRFToken"
LOOPBACK_BINDS = frozenset({"127.0.0.1", "::1", "localhost"})


class UserEntry(StrictModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role = "viewer"
    password: str | None = Field(default=None, pattern=r"^scrypt\$\d+\$\d+\$\d+\$[^$]+\$[^$]+$")


class UsersFile(StrictModel):
    users: tuple[UserEntry, ...] = ()


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of a password, with a fresh 16-byte salt."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    salt_text, digest_text = (base64.b64encode(b).decode("ascii") for b in (salt, digest))
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt_text}${digest_text}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` string (constant-time compare)."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def load_users(path: Path) -> dict[str, UserEntry]:
    """Users by name; a bad file raises :class:`~greenwatch.model.ConfigError` with the line."""
    doc = load_yaml(path)
    users = parse_model(doc, UsersFile) if doc.data is not None else UsersFile()
    return {u.name: u for u in users.users}


@dataclass(frozen=True)
class User:
    """The person behind a request; ``name`` is empty when there is no login."""

    name: str
    role: Role

    @property
    def can_operate(self) -> bool:
        return self.role == "operator"


class _Session(SecureCookieSessionInterface):
    """Flask's signed-cookie session with the Secure flag decided per request."""

    def __init__(self, secure: Callable[[], bool]) -> None:
        self._secure = secure

    def get_cookie_secure(self, app: flask.Flask) -> bool:
        del app  # decided per request: the same app answers over TLS and over loopback
        return self._secure()


class Auth:
    """The dashboard's login rules and the Flask hooks that apply them.

    ``bind_host`` is the address the server listens on: it alone decides whether anonymous
    visitors may operate (see the module's docstring).
    """

    def __init__(self, settings: AuthSettings, bind_host: str = "127.0.0.1") -> None:
        self.settings = settings
        self.users = load_users(settings.users_file) if settings.users_file else {}
        self.loopback = bind_host in LOOPBACK_BINDS
        wanted = settings.anonymous_role or "operator"
        self.anonymous_role: Role = wanted if self.loopback else "viewer"
        if wanted != self.anonymous_role and settings.anonymous_role and not self.enabled:
            log.warning("anonymous_role operator ignored: serving on %s, not loopback", bind_host)
        window = float(settings.login_window_s)
        self.user_throttle = FailureThrottle(settings.login_failures, window)
        self.client_throttle = FailureThrottle(settings.login_failures, window)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.users_file or self.settings.proxy_header)

    def from_trusted_proxy(self) -> bool:
        """Whether the current request's peer is one of ``trusted_proxies``."""
        try:
            peer = ipaddress.ip_address(flask.request.remote_addr or "")
        except ValueError:
            return False
        return any(peer in net for net in self.settings.trusted_proxies)

    def client_address(self) -> str:
        """Where the request comes from: the proxy's ``X-Forwarded-For`` (last hop) when the
        peer is a trusted proxy, else the peer's address."""
        forwarded = flask.request.headers.get("X-Forwarded-For", "")
        if forwarded and self.from_trusted_proxy():
            return forwarded.split(",")[-1].strip()
        return flask.request.remote_addr or "-"

    def over_tls(self) -> bool:
        """Whether the browser reached us over TLS (directly or via a trusted proxy)."""
        if self.settings.secure_cookie is not None:
            return self.settings.secure_cookie
        if flask.request.scheme == "https":
            return True
        proto = flask.request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip()
        return proto.lower() == "https" and self.from_trusted_proxy()

    def current_user(self) -> User | None:
        """The user of the current request, None when a login is needed and missing."""
        if not self.enabled:
            return User("", self.anonymous_role)
        header = self.settings.proxy_header
        if header and flask.request.headers.get(header) and self.from_trusted_proxy():
            name = flask.request.headers[header].strip()
            entry = self.users.get(name)
            return User(name, entry.role if entry else self.settings.proxy_default_role)
        known = flask.session.get(SESSION_KEY)
        if isinstance(known, str) and known in self.users:
            return User(known, self.users[known].role)
        return None

    def csrf_ok(self) -> bool:
        """Whether the current request carries the session's CSRF token in ``X-CSRFToken``."""
        expected = flask.session.get(CSRF_KEY)
        sent = flask.request.headers.get(CSRF_HEADER, "")
        return isinstance(expected, str) and hmac.compare_digest(sent, expected)

    def install(self, server: flask.Flask, page_paths: list[str]) -> None:
        """Cookie rules and the CSRF cookie; with a login, the login and logout routes and a
        guard in front of the dashboard's own paths."""
        if not server.secret_key:
            server.secret_key = os.environ.get("GREENWATCH_SECRET_KEY") or secrets.token_hex(32)
        server.config["SESSION_COOKIE_SAMESITE"] = "Lax"
        server.config["SESSION_COOKIE_HTTPONLY"] = True
        server.session_interface = _Session(self.over_tls)
        prefixes = tuple(p.rstrip("/") + "/" for p in page_paths if p != "/")

        def page(path: str) -> bool:
            return path == "/" or path in page_paths or path.startswith(prefixes)

        def guarded(path: str) -> bool:
            return page(path) or path.startswith(("/_dash-", "/_reload-hash", "/reports/download/"))

        @server.after_request
        def _csrf_cookie(response: flask.Response) -> flask.Response:
            if flask.request.method != "GET" or not page(flask.request.path):
                return response
            token = flask.session.get(CSRF_KEY)
            if not isinstance(token, str):
                token = flask.session[CSRF_KEY] = secrets.token_urlsafe(32)
            if flask.request.cookies.get(CSRF_COOKIE) != token:
                # Readable by the page's script (it sends it back), useless to another site.
                response.set_cookie(CSRF_COOKIE, token, samesite="Lax", secure=self.over_tls())
            return response

        if not self.enabled:
            return

        @server.before_request
        def _guard() -> ResponseReturnValue | None:
            path = flask.request.path
            if not guarded(path) or self.current_user() is not None:
                return None
            if path.startswith(("/_dash-", "/_reload-hash")):
                return flask.jsonify(code="unauthorized", message="log in to the dashboard"), 401
            return flask.redirect(f"/login?next={quote(flask.request.full_path.rstrip('?'))}")

        server.add_url_rule("/login", "gw_login", self._login, methods=["GET", "POST"])
        server.add_url_rule("/logout", "gw_logout", self._logout)

    def _throttled(self, name: str, client: str) -> int | None:
        waits = [self.client_throttle.retry_after(client)]
        if name:
            waits.append(self.user_throttle.retry_after(name))
        known = [w for w in waits if w is not None]
        return max(known) if known else None

    def _login(self) -> ResponseReturnValue:
        target = flask.request.values.get("next", "/")
        if urlparse(target).netloc or not target.startswith("/"):
            target = "/"  # never redirect off-site
        if flask.request.method != "POST":
            return _login_page(target, "")
        name = flask.request.form.get("name", "")
        password = flask.request.form.get("password", "")
        client = self.client_address()
        wait = self._throttled(name, client)
        if wait is not None:
            log.warning("dashboard login throttled for %r from %s", name, client)
            page = _login_page(target, f"Too many failed logins; try again in {wait} s.")
            return page, 429, {"Retry-After": str(wait)}
        entry = self.users.get(name)
        if entry is not None and entry.password and verify_password(password, entry.password):
            self.user_throttle.succeeded(name)
            self.client_throttle.succeeded(client)
            flask.session.clear()
            flask.session[SESSION_KEY] = name
            log.info("dashboard login: %s (%s) from %s", name, entry.role, client)
            return flask.redirect(target)
        if name:  # an empty form guesses at no one's password
            self.user_throttle.failed(name)
            self.client_throttle.failed(client)
        log.warning("dashboard login refused for %r from %s", name, client)
        return _login_page(target, "Unknown user or wrong password."), 401

    def _logout(self) -> ResponseReturnValue:
        flask.session.pop(SESSION_KEY, None)
        return flask.redirect("/login")


def _login_page(target: str, error: str) -> str:
    message = f'<p class="login-error">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>greenwatch — log in</title>
<link rel="stylesheet" href="/assets/style.css"></head>
<body class="gw theme-light"><main class="login">
<h1 class="brand">greenwatch</h1>
<form method="post" action="/login">
<input type="hidden" name="next" value="{html.escape(target)}">
<label>user <input name="name" autocomplete="username" autofocus required></label>
<label>password
<input name="password" type="password" autocomplete="current-password" required></label>
{message}<button class="button" type="submit">log in</button>
</form></main></body></html>"""
