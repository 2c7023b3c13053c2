"""The typed error a collector raises, and the short reasons health samples carry.

A reason is a small closed vocabulary (``timeout``, ``connection refused``, ``auth failed``…) so
that a dashboard or alert can group failures; the full cause stays on the exception for logs.
Secrets never appear in either: causes are built from protocol errors, not from requests.
"""

from __future__ import annotations

import json
import socket
import ssl

import httpx

from greenwatch.model import GreenwatchError

TIMEOUT = "timeout"
REFUSED = "connection refused"
UNREACHABLE = "unreachable"
AUTH = "auth failed"
MALFORMED = "malformed response"
NO_DRIVER = "no NVIDIA driver"
TLS = "tls error"
SERVER_ERROR = "server error"
NOT_FOUND = "not found"
CONFIG = "bad config"
ERROR = "error"

REASONS: tuple[str, ...] = (
    TIMEOUT,
    REFUSED,
    UNREACHABLE,
    AUTH,
    MALFORMED,
    NO_DRIVER,
    TLS,
    SERVER_ERROR,
    NOT_FOUND,
    CONFIG,
    ERROR,
)


def reason_of(cause: BaseException) -> str:
    """The health reason for an exception raised while polling a target."""
    if isinstance(cause, CollectorError):
        return cause.reason
    if isinstance(cause, httpx.TimeoutException | socket.timeout | TimeoutError):
        return TIMEOUT
    if isinstance(cause, ssl.SSLError):
        return TLS
    if isinstance(cause, httpx.ConnectError):
        text = str(cause).lower()
        if "refused" in text:
            return REFUSED
        return TLS if "certificate" in text or "ssl" in text else UNREACHABLE
    if isinstance(cause, ConnectionRefusedError):
        return REFUSED
    if isinstance(cause, httpx.HTTPStatusError):
        return status_reason(cause.response.status_code)
    if isinstance(cause, json.JSONDecodeError | UnicodeDecodeError):
        return MALFORMED
    if isinstance(cause, httpx.TransportError | OSError):
        return UNREACHABLE
    if isinstance(cause, ValueError):  # unparsable numbers, JSON, exposition text
        return MALFORMED
    return ERROR


def status_reason(status: int) -> str:
    """The health reason for an HTTP status that ends a poll."""
    if status in (401, 403):
        return AUTH
    if status == 404:
        return NOT_FOUND
    if status >= 500:
        return SERVER_ERROR
    return MALFORMED


class CollectorError(GreenwatchError):
    """Polling ``target`` failed; ``reason`` is one of :data:`REASONS`, ``cause`` says more.

    ``cause`` is the underlying exception or a message. The rendered text names the target
    and reason, never a credential.
    """

    def __init__(self, target: str, cause: BaseException | str, reason: str | None = None) -> None:
        self.target = target
        self.cause = cause
        if reason is None:
            reason = reason_of(cause) if isinstance(cause, BaseException) else ERROR
        self.reason = reason
        detail = cause if isinstance(cause, str) else (str(cause) or type(cause).__name__)
        super().__init__(f"{target}: {reason}: {detail}")
