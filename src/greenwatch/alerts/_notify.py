"""Notifications and the notifiers that deliver them: webhook, Alertmanager (e-mail: ``_email``).

A :class:`Notification` is one group's alerts as Alertmanager would send them; its
:meth:`~Notification.webhook_payload` is Alertmanager's webhook payload, version 4, so any
Alertmanager webhook consumer understands greenwatch. A notifier raises :class:`NotifyError`
when delivery failed after its own retries; the dispatcher records the error, counts it and
tries again later, so a failure is never silent and never loses the notification.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

import httpx
import pandas as pd

from greenwatch import __version__
from greenwatch.model import Clock, GreenwatchError, SystemFailureError

SIGNATURE_HEADER = "X-Greenwatch-Signature"
ZERO_TIME = "0001-01-01T00:00:00Z"
Sleep = Callable[[float], None]


class NotifyError(SystemFailureError):
    """Delivery to an integration failed (after the notifier's own retries)."""

    def __init__(self, integration: str, cause: str) -> None:
        self.integration = integration
        self.cause = cause
        super().__init__(f"{integration}: {cause}")


def _iso(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class NotifiedAlert:
    """One alert inside a notification."""

    fingerprint: str
    status: str  # firing | resolved
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: pd.Timestamp
    ends_at: pd.Timestamp | None
    generator_url: str
    value: float = float("nan")

    def to_payload(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": _iso(self.starts_at),
            "endsAt": _iso(self.ends_at) if self.ends_at is not None else ZERO_TIME,
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }


def _common(maps: list[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = dict(maps[0])
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


@dataclass(frozen=True)
class Notification:
    """One group's alerts for one receiver integration."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[NotifiedAlert, ...]
    external_url: str
    sent_at: pd.Timestamp
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "firing" if any(a.status == "firing" for a in self.alerts) else "resolved"

    @property
    def firing(self) -> tuple[NotifiedAlert, ...]:
        return tuple(a for a in self.alerts if a.status == "firing")

    @property
    def resolved(self) -> tuple[NotifiedAlert, ...]:
        return tuple(a for a in self.alerts if a.status == "resolved")

    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])

    def title(self) -> str:
        """``[FIRING:2] SitePueAboveTarget guian-1`` (the group's label values)."""
        count = f"{self.status.upper()}:{len(self.firing) or len(self.resolved)}"
        return f"[{count}] " + " ".join(v for v in self.group_labels.values() if v)

    def webhook_payload(self) -> dict[str, Any]:
        """Alertmanager's webhook payload, version 4."""
        return {
            "version": "4",
            "groupKey": self.group_key,
            "truncatedAlerts": 0,
            "status": self.status,
            "receiver": self.receiver,
            "groupLabels": dict(self.group_labels),
            "commonLabels": self.common_labels(),
            "commonAnnotations": self.common_annotations(),
            "externalURL": self.external_url,
            "alerts": [a.to_payload() for a in self.alerts],
        }


class Notifier(Protocol):
    """Delivers a notification or raises :class:`NotifyError`."""

    def notify(self, notification: Notification) -> None: ...


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value: ``sha256=<hex HMAC-SHA256 of the body>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Check a signature header in constant time (for receivers written in Python)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _post(
    name: str,
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    attempts: int,
    backoff: timedelta,
    sleep: Sleep,
) -> None:
    """POST with retries and exponential backoff on transport errors, 429 and 5xx."""
    error = "not sent"
    for attempt in range(attempts):
        if attempt:
            sleep(backoff.total_seconds() * 2 ** (attempt - 1))
        try:
            response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            continue
        if response.is_success:
            return
        error = f"HTTP {response.status_code}: {response.text[:200]}"
        if not _retryable(response.status_code):
            break
    raise NotifyError(name, error)


class _HttpNotifier:
    name: str
    url: str
    _client: httpx.Client
    _own_client: bool
    _attempts: int
    _backoff: timedelta
    _sleep: Sleep

    def _init_http(
        self,
        client: httpx.Client | None,
        timeout: timedelta,
        max_attempts: int,
        backoff: timedelta,
        sleep: Sleep,
    ) -> None:
        self._own_client = client is None
        self._client = client or httpx.Client(timeout=timeout.total_seconds())
        self._attempts = max_attempts
        self._backoff = backoff
        self._sleep = sleep

    def _post_json(self, body: bytes, extra_headers: Mapping[str, str] | None = None) -> None:
        """POST a JSON body to ``url`` (with the notifier's retries)."""
        headers = {"Content-Type": "application/json", "User-Agent": f"greenwatch/{__version__}"}
        headers.update(extra_headers or {})
        _post(
            self.name,
            self._client,
            self.url,
            body,
            headers,
            self._attempts,
            self._backoff,
            self._sleep,
        )

    def close(self) -> None:
        """Close the HTTP client if this notifier made it."""
        if self._own_client:
            self._client.close()


class WebhookNotifier(_HttpNotifier):
    """POSTs the version-4 payload as JSON, signed with HMAC-SHA256 when given a secret."""

    def __init__(
        self,
        url: str,
        *,
        secret: Callable[[], str] | str | None = None,
        client: httpx.Client | None = None,
        timeout: timedelta = timedelta(seconds=10),
        max_attempts: int = 3,
        backoff: timedelta = timedelta(milliseconds=500),
        sleep: Sleep = time.sleep,
        name: str = "webhook",
    ) -> None:
        self.url = url
        self.name = name
        self._secret = secret
        self._init_http(client, timeout, max_attempts, backoff, sleep)

    def notify(self, notification: Notification) -> None:
        body = json.dumps(notification.webhook_payload(), separators=(",", ":")).encode()
        headers: dict[str, str] = {}
        if self._secret is not None:
            try:
                secret = self._secret() if callable(self._secret) else self._secret
            except GreenwatchError as exc:
                raise NotifyError(self.name, str(exc)) from None
            headers[SIGNATURE_HEADER] = sign(secret.encode(), body)
        self._post_json(body, headers)


class AlertmanagerNotifier(_HttpNotifier):
    """Pushes alerts to a real Alertmanager (``POST /api/v2/alerts``); firing alerts carry an
    ``endsAt`` ``valid_for`` ahead, so Alertmanager resolves them itself if greenwatch stops."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock,
        valid_for: timedelta = timedelta(minutes=4),
        client: httpx.Client | None = None,
        timeout: timedelta = timedelta(seconds=10),
        max_attempts: int = 3,
        backoff: timedelta = timedelta(milliseconds=500),
        sleep: Sleep = time.sleep,
        name: str = "alertmanager",
    ) -> None:
        self.url = url.rstrip("/") + "/api/v2/alerts"
        self.name = name
        self._clock = clock
        self._valid_for = pd.Timedelta(valid_for)
        self._init_http(client, timeout, max_attempts, backoff, sleep)

    def notify(self, notification: Notification) -> None:
        until = self._clock() + self._valid_for
        alerts = []
        for a in notification.alerts:
            ends = a.ends_at if a.status == "resolved" and a.ends_at is not None else until
            alerts.append(
                {
                    "labels": dict(a.labels),
                    "annotations": dict(a.annotations),
                    "startsAt": _iso(a.starts_at),
                    "endsAt": _iso(ends),
                    "generatorURL": a.generator_url,
                }
            )
        self._post_json(json.dumps(alerts, separators=(",", ":")).encode())
