"""HTTP plumbing shared by the Redfish and Prometheus collectors."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Generator
from functools import lru_cache

import httpx

from greenwatch.collect._base import Collector
from greenwatch.collect._profile import ProfileBase
from greenwatch.collect._target import Target, reveal
from greenwatch.model import Clock, utc_now


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


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


def make_client(target: Target) -> httpx.Client:
    """A client with the target's timeout and TLS policy (verification on unless disabled)."""
    ca_file, version = None, 0
    if target.ca_file is not None:
        ca_file = str(target.ca_file)
        with contextlib.suppress(OSError):  # a missing file fails in the context, named
            version = target.ca_file.stat().st_mtime_ns
    return httpx.Client(
        timeout=httpx.Timeout(target.timeout_s),
        verify=tls_context(target.verify_tls, ca_file, version),
        follow_redirects=False,
        trust_env=False,
    )


def request_auth(target: Target) -> httpx.Auth | None:
    """Basic or bearer auth from the target's credentials (None without a password)."""
    creds = target.credentials
    if creds.password is None:
        return None
    secret = reveal(creds.password, target.name)
    if creds.method == "bearer":
        return BearerAuth(secret)
    return httpx.BasicAuth(creds.username or "", secret)


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
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(profile, target, clock)
        self._client = client
        self._own_client = client is None
        self._base = target.require_url()

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = make_client(self.target)
        return self._client

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None
