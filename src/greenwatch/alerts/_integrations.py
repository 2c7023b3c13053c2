"""The dispatcher and its receiver integrations, built from the alerting config (or given, for
tests and fakes)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import httpx

from greenwatch.alerts._config import DEFAULT_EXTERNAL_URL, AlertingConfig
from greenwatch.alerts._dispatch import Dispatcher, Integration
from greenwatch.alerts._email import EmailNotifier, SmtpFactory, smtp_connect
from greenwatch.alerts._notify import AlertmanagerNotifier, Notifier, Sleep, WebhookNotifier
from greenwatch.inventory import Inventory
from greenwatch.model import Clock, utc_now


def build_dispatcher(
    config: AlertingConfig,
    inventory: Inventory,
    *,
    clock: Clock = utc_now,
    notifiers: Mapping[str, Notifier | Sequence[Notifier]] | None = None,
    client: httpx.Client | None = None,
    smtp_factory: SmtpFactory = smtp_connect,
    sleep: Sleep = time.sleep,
    external_url: str = DEFAULT_EXTERNAL_URL,
) -> Dispatcher:
    """What an :class:`~greenwatch.alerts.AlertEngine` sends through: ``config``'s routes and
    receivers, maintenance windows in each site's time zone, ``external_url`` in notifications
    unless the config names one. ``notifiers`` replace a receiver's integrations (tests,
    fakes); ``client``, ``smtp_factory`` and ``sleep`` are the side effects of the real ones."""
    zones = {s.id: s.timezone for s in inventory.sites}
    integrations = build_integrations(
        config,
        clock=clock,
        overrides=notifiers,
        client=client,
        smtp_factory=smtp_factory,
        sleep=sleep,
    )

    def zone_of(labels: Mapping[str, str]) -> str | None:
        return zones.get(labels.get("site", ""))

    return Dispatcher(config, integrations, zone_of, external_url)


def build_integrations(
    config: AlertingConfig,
    *,
    clock: Clock,
    overrides: Mapping[str, Notifier | Sequence[Notifier]] | None = None,
    client: httpx.Client | None = None,
    smtp_factory: SmtpFactory = smtp_connect,
    sleep: Sleep = time.sleep,
) -> dict[str, list[Integration]]:
    """The integrations of every receiver; ``overrides`` replace a receiver's (tests, fakes)."""
    out: dict[str, list[Integration]] = {}
    for r in config.receivers:
        given = (overrides or {}).get(r.name)
        if given is not None:
            notifiers = list(given) if isinstance(given, Sequence) else [given]
            out[r.name] = [
                Integration(f"{r.name}/custom[{i}]", r.name, n) for i, n in enumerate(notifiers)
            ]
            continue
        items: list[Integration] = []
        for i, w in enumerate(r.webhook_configs):
            name = f"{r.name}/webhook[{i}]"
            hook = WebhookNotifier(
                w.url,
                secret=w.secret.reveal if w.secret else None,
                client=client,
                timeout=w.timeout,
                max_attempts=w.max_attempts,
                backoff=w.backoff,
                sleep=sleep,
                name=name,
            )
            items.append(Integration(name, r.name, hook, w.send_resolved))
        for i, e in enumerate(r.email_configs):
            name = f"{r.name}/email[{i}]"
            mail = EmailNotifier(
                e.smarthost,
                sender=e.sender,
                to=e.to,
                starttls=e.starttls,
                username=e.auth_username,
                password=e.auth_password.reveal if e.auth_password else None,
                ca_file=e.ca_file,
                timeout=e.timeout,
                max_attempts=e.max_attempts,
                smtp_factory=smtp_factory,
                sleep=sleep,
                name=name,
            )
            items.append(Integration(name, r.name, mail, e.send_resolved))
        for i, a in enumerate(r.alertmanager_configs):
            name = f"{r.name}/alertmanager[{i}]"
            push = AlertmanagerNotifier(
                a.url,
                clock=clock,
                valid_for=4 * a.resend_interval,
                client=client,
                timeout=a.timeout,
                max_attempts=a.max_attempts,
                sleep=sleep,
                name=name,
            )
            items.append(Integration(name, r.name, push, True, a.resend_interval))
        out[r.name] = items
    return out
