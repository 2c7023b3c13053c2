"""HTTP plumbing shared by the Redfish and Prometheus collectors."""

from __future__ import annotations

import ssl
from collections.abc import Generator

import httpx

from greenwatch.collect._target import Target


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def make_client(target: Target) -> httpx.Client:
    """A client with the target's timeout and TLS policy (verification on unless disabled)."""
    verify: bool | ssl.SSLContext = target.verify_tls
    if target.ca_file is not None and target.verify_tls:
        verify = ssl.create_default_context(cafile=str(target.ca_file))
    return httpx.Client(
        timeout=httpx.Timeout(target.timeout_s),
        verify=verify,
        follow_redirects=False,
        trust_env=False,
    )


def request_auth(target: Target) -> httpx.Auth | None:
    """Basic or bearer auth from the target's credentials (None without a password)."""
    creds = target.credentials
    if creds.password is None:
        return None
    secret = creds.password.reveal(target.name)
    if creds.method == "bearer":
        return BearerAuth(secret)
    return httpx.BasicAuth(creds.username or "", secret)
