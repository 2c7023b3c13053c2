"""Who is looking: dashboard login from a users file (scrypt hashes), or a reverse proxy's header.

Two roles: ``viewer`` (read-only) and ``operator`` (may acknowledge and silence alerts). With
neither a users file nor a proxy header configured there is no login and everyone has the
``anonymous_role`` (``operator`` by default, for the loopback demo). Only the dashboard is
guarded here: pages, their callbacks and report downloads; the HTTP APIs keep their own token
auth. A users file looks like::

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
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlparse

import flask
from flask.typing import ResponseReturnValue
from pydantic import BaseModel, ConfigDict, Field

from greenwatch.dashboard._spec import AuthSettings
from greenwatch.model import load_yaml, parse_model

log = logging.getLogger("greenwatch.dashboard")
Role = Literal["viewer", "operator"]
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
SESSION_KEY = "greenwatch_user"


class UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    role: Role = "viewer"
    password: str | None = Field(default=None, pattern=r"^scrypt\$\d+\$\d+\$\d+\$[^$]+\$[^$]+$")


class UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

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


class Auth:
    """The dashboard's login rules and the Flask hooks that apply them."""

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.users = load_users(settings.users_file) if settings.users_file else {}

    @property
    def enabled(self) -> bool:
        return bool(self.settings.users_file or self.settings.proxy_header)

    def current_user(self) -> User | None:
        """The user of the current request, None when a login is needed and missing."""
        if not self.enabled:
            return User("", self.settings.anonymous_role)
        header = self.settings.proxy_header
        if header and flask.request.headers.get(header):
            name = flask.request.headers[header].strip()
            entry = self.users.get(name)
            return User(name, entry.role if entry else self.settings.proxy_default_role)
        known = flask.session.get(SESSION_KEY)
        if isinstance(known, str) and known in self.users:
            return User(known, self.users[known].role)
        return None

    def install(self, server: flask.Flask, page_paths: list[str]) -> None:
        """Login and logout routes, and a guard in front of the dashboard's own paths."""
        if not self.enabled:
            return
        if not server.secret_key:
            server.secret_key = os.environ.get("GREENWATCH_SECRET_KEY") or secrets.token_hex(32)
        server.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
        server.config["SESSION_COOKIE_HTTPONLY"] = True
        prefixes = tuple(p.rstrip("/") + "/" for p in page_paths if p != "/")

        def guarded(path: str) -> bool:
            return (
                path == "/"
                or path.startswith(("/_dash-", "/_reload-hash", "/reports/download/"))
                or path in page_paths
                or path.startswith(prefixes)
            )

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

    def _login(self) -> ResponseReturnValue:
        target = flask.request.values.get("next", "/")
        if urlparse(target).netloc or not target.startswith("/"):
            target = "/"  # never redirect off-site
        error = ""
        if flask.request.method == "POST":
            name = flask.request.form.get("name", "")
            password = flask.request.form.get("password", "")
            entry = self.users.get(name)
            if entry is not None and entry.password and verify_password(password, entry.password):
                flask.session.clear()
                flask.session[SESSION_KEY] = name
                log.info("dashboard login: %s (%s)", name, entry.role)
                return flask.redirect(target)
            log.warning("dashboard login refused for %r", name)
            error = "Unknown user or wrong password."
        return _login_page(target, error), 401 if error else 200

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
