"""HTTP plumbing shared by the Redfish and Prometheus collectors.

A collector's requests go through :class:`HttpClient`: HTTP/1.1 over one connection kept
between requests and polls (the standard library's ``http.client``), with the target's timeout,
TLS policy (one context per policy, shared by every target that has it) and auth. It keeps what
the httpx client it replaced did, at about a third of the CPU per request (bench/RESULTS.md,
"Single-box speed, fourth pass"): redirects are not followed, no proxy or CA settings are taken
from the environment, gzip and deflate bodies are decoded, and failures are reported with the
same reasons (``connection refused``, ``timeout``, ``tls error``, ``unreachable`` for a dropped
connection or a reply that is not HTTP). A kept connection the server has closed is noticed
before it is used and opened again; one closed while a GET or DELETE went out is retried once
on a new connection.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import re
import select
import ssl
import zlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, quote, urlsplit

import httpx

from greenwatch import __version__
from greenwatch.collect._base import Collector
from greenwatch.collect._profile import ProfileBase
from greenwatch.collect._target import Target, reveal
from greenwatch.model import Clock, utc_now

USER_AGENT = f"greenwatch/{__version__}"
_DEFAULTS = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
_RETRIED = frozenset({"GET", "HEAD", "DELETE"})  # idempotent: safe to send again
_PLAIN = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*")  # a request target sent as it is
_SAFE = "/?&=:@!$'()*+,;~%"  # kept by the quoting of any other target (as httpx did)


class Reply:
    """A response: status, headers (case-insensitive ``get``) and the decoded body."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: http.client.HTTPMessage, content: bytes):
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        """The body as text: the charset of ``Content-Type``, else UTF-8 (bad bytes replaced)."""
        charset = self.headers.get_content_charset()
        try:
            return self.content.decode(charset or "utf-8", errors="replace")
        except LookupError:  # a charset Python does not know
            return self.content.decode("utf-8", errors="replace")


def _readable(sock: Any) -> bool:
    """Whether an idle kept connection has something to read: the server closed it (or sent
    what no request asked for); either way it is not reused."""
    poller = select.poll()  # not select(): descriptors past 1024 with a thousand targets
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _request_target(parts: SplitResult) -> str:
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return target if _PLAIN.fullmatch(target) else quote(target, safe=_SAFE)


def _decoded(content: bytes, encodings: list[str]) -> bytes:
    """A body decoded from its ``Content-Encoding`` (last applied first; unknown ones left)."""
    for value in reversed([v.strip().lower() for e in encodings for v in e.split(",")]):
        if value == "gzip":
            decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
            content = decoder.decompress(content) + decoder.flush()
        elif value == "deflate":
            try:
                content = zlib.decompress(content)
            except zlib.error:  # raw deflate, without the zlib header
                content = zlib.decompress(content, -zlib.MAX_WBITS)
    return content


class HttpClient:
    """HTTP/1.1 requests over one kept connection, with a timeout (seconds, each connect,
    send and receive) and a TLS context for ``https`` URLs.

    Not thread-safe: a collector's polls run one at a time. The connection is to the origin
    of the last request; a request to another origin closes it and opens one there.
    """

    def __init__(self, timeout_s: float, tls: ssl.SSLContext) -> None:
        self.timeout_s = timeout_s
        self.tls = tls
        self._conn: http.client.HTTPConnection | None = None
        self._origin: tuple[str, str, int] | None = None

    def get(self, url: str, headers: Mapping[str, str]) -> Reply:
        return self.request("GET", url, headers)

    def delete(self, url: str, headers: Mapping[str, str]) -> Reply:
        return self.request("DELETE", url, headers)

    def post_json(self, url: str, body: Any, headers: Mapping[str, str]) -> Reply:
        """POST ``body`` as compact UTF-8 JSON (``Content-Type: application/json``)."""
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return self.request("POST", url, {**headers, "Content-Type": "application/json"}, data)

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: str | bytes | None = None,
    ) -> Reply:
        """Send one request and read its whole response; a failure closes the connection.

        A reply that breaks HTTP/1.1 (none, a bad status line or headers, a short body) raises
        :class:`ConnectionError`, so a poll it ends is ``unreachable``, as under httpx.
        """
        parts = urlsplit(url)
        target = _request_target(parts)
        sent = dict(_DEFAULTS)
        for name, value in headers.items():
            if name not in sent:
                for default in [d for d in sent if d.lower() == name.lower()]:
                    del sent[default]
            sent[name] = value
        data = body.encode() if isinstance(body, str) else body
        conn, reused = self._connection(parts)
        try:
            try:
                response = self._send(conn, method, target, sent, data)
            except ConnectionError:
                if not reused or method not in _RETRIED:
                    raise
                conn.close()  # the server closed the kept connection as the request went out
                response = self._send(conn, method, target, sent, data)
            try:
                content = response.read()
            except http.client.IncompleteRead as exc:
                got = len(exc.partial)
                size = "" if exc.expected is None else f", expected {got + exc.expected}"
                raise ConnectionError(
                    "peer closed connection without sending complete message body "
                    f"(received {got} bytes{size})"
                ) from exc
            return Reply(
                response.status,
                response.msg,
                _decoded(content, response.msg.get_all("Content-Encoding", [])),
            )
        except http.client.HTTPException as exc:
            self.close()
            raise ConnectionError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _send(
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes | None,
    ) -> http.client.HTTPResponse:
        try:
            conn.request(method, target, body=body, headers=headers)
            return conn.getresponse()
        except http.client.RemoteDisconnected as exc:
            raise ConnectionError("Server disconnected without sending a response.") from exc
        except http.client.BadStatusLine as exc:
            raise ConnectionError(f"illegal status line: {str(exc).strip()!r}") from exc

    def _connection(self, parts: SplitResult) -> tuple[http.client.HTTPConnection, bool]:
        """The connection for a URL, and whether it was used before (kept, seemingly open)."""
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {parts.geturl()!r}")
        https = parts.scheme == "https"
        origin = (parts.scheme, parts.hostname, parts.port or (443 if https else 80))
        conn = self._conn
        if conn is not None and origin == self._origin:
            if conn.sock is None:  # closed after a reply that said so; reopens on request
                return conn, False
            if not _readable(conn.sock):
                return conn, True
        self.close()
        host, port = origin[1], origin[2]
        if https:
            conn = http.client.HTTPSConnection(host, port, timeout=self.timeout_s, context=self.tls)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=self.timeout_s)
        self._conn, self._origin = conn, origin
        return conn, False

    def close(self) -> None:
        """Close the connection (the next request opens one)."""
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
            self._conn = self._origin = None


# What a request may raise besides a reply's own problems (closing a session ignores them).
TRANSPORT_ERRORS = (OSError, zlib.error)


@lru_cache(maxsize=64)
def tls_context(verify: bool, ca_file: str | None, _ca_version: int = 0) -> ssl.SSLContext:
    """One TLS context per policy, shared by every target that has it.

    Building a context loads the CA bundle (milliseconds of CPU); a thousand targets would
    otherwise each build their own. A context is safe to share between connections.
    ``_ca_version`` (the CA file's modification time) makes a replaced CA file load anew.
    """
    if ca_file is not None and verify:
        return ssl.create_default_context(cafile=ca_file)
    return httpx.create_ssl_context(verify=verify, trust_env=False)


def make_client(target: Target) -> HttpClient:
    """A client with the target's timeout and TLS policy (verification on unless disabled)."""
    ca_file, version = None, 0
    if target.ca_file is not None:
        ca_file = str(target.ca_file)
        with contextlib.suppress(OSError):  # a missing file fails in the context, named
            version = target.ca_file.stat().st_mtime_ns
    return HttpClient(target.timeout_s, tls_context(target.verify_tls, ca_file, version))


def request_auth(target: Target) -> dict[str, str]:
    """The ``Authorization`` header of the target's basic or bearer credentials ({} without a
    password): revealed at each call, so a rotated secret is used from the next one."""
    creds = target.credentials
    if creds.password is None:
        return {}
    secret = reveal(creds.password, target.name)
    if creds.method == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    token = base64.b64encode(f"{creds.username or ''}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class HttpCollector(Collector):
    """A collector over HTTP(S); ``client`` may be injected (else one is made on first use).

    An injected client belongs to the caller: :meth:`close` closes only a client it made.
    """

    def __init__(
        self,
        profile: ProfileBase,
        target: Target,
        clock: Clock = utc_now,
        *,
        client: HttpClient | None = None,
    ) -> None:
        super().__init__(profile, target, clock)
        self._client = client
        self._own_client = client is None
        self._base = target.require_url()

    def _http(self) -> HttpClient:
        if self._client is None:
            self._client = make_client(self.target)
        return self._client

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None
