"""E-mail notifications: plain text and HTML alternatives, over SMTP with STARTTLS and auth."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
import time
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

import jinja2

from greenwatch.alerts._notify import Notification, NotifyError, Sleep
from greenwatch.model import GreenwatchError

_TEXT = jinja2.Template(
    """{{ n.title() }}
{% for a in n.firing %}
FIRING  {{ a.labels.alertname }} {{ a.labels.get("site", "") }}
  since: {{ a.starts_at.strftime("%Y-%m-%d %H:%M UTC") }}
{%- for k, v in a.annotations.items() %}
  {{ k }}: {{ v }}
{%- endfor %}
  labels: {{ a.labels.items() | map("join", "=") | join(", ") }}
{% endfor %}{% for a in n.resolved %}
RESOLVED  {{ a.labels.alertname }} {{ a.labels.get("site", "") }}
{%- if a.annotations.summary %}
  summary: {{ a.annotations.summary }}
{%- endif %}
{% endfor %}
{{ n.external_url }}
""",
    autoescape=False,
    keep_trailing_newline=True,
)
_HTML = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html>
<html><body style="font-family: sans-serif">
<h2>{{ n.title() }}</h2>
{% for a in n.alerts %}
<table style="border-left: 4px solid {{ '#c0392b' if a.status == 'firing' else '#27ae60' }};
  margin: 0 0 12px 0; padding-left: 8px">
<tr><th colspan="2" style="text-align: left">
  {{ a.status | upper }}: {{ a.labels.alertname }}</th></tr>
{% for k, v in a.annotations.items() %}
<tr><td>{{ k }}</td><td>{% if k.endswith('_url') %}<a href="{{ v }}">{{ v }}</a>
  {%- else %}{{ v }}{% endif %}</td></tr>
{% endfor %}
{% for k, v in a.labels.items() %}<tr><td>{{ k }}</td><td><code>{{ v }}</code></td></tr>{% endfor %}
<tr><td>since</td><td>{{ a.starts_at.strftime("%Y-%m-%d %H:%M UTC") }}</td></tr>
</table>
{% endfor %}
<p><a href="{{ n.external_url }}">{{ n.external_url }}</a></p>
</body></html>
"""
)


class SmtpClient(Protocol):
    """What the notifier uses of :class:`smtplib.SMTP` (tests may pass their own)."""

    def ehlo(self) -> object: ...
    def starttls(self, *, context: ssl.SSLContext) -> object: ...
    def login(self, user: str, password: str) -> object: ...
    def send_message(self, msg: EmailMessage) -> object: ...
    def quit(self) -> object: ...


SmtpFactory = Callable[[str, int, float], SmtpClient]


def smtp_connect(host: str, port: int, timeout: float) -> SmtpClient:
    return smtplib.SMTP(host, port, timeout=timeout)


def render_email(n: Notification, sender: str, to: tuple[str, ...]) -> EmailMessage:
    """The message: subject from the group, a plain-text body and an HTML alternative."""
    msg = EmailMessage()
    msg["Subject"] = n.title()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(n.sent_at.to_pydatetime())
    msg["Message-ID"] = make_msgid(domain="greenwatch")
    msg.set_content(_TEXT.render(n=n))
    msg.add_alternative(_HTML.render(n=n), subtype="html")
    return msg


class EmailNotifier:
    """Sends a notification as e-mail; STARTTLS verifies the server (``ca_file`` to trust a
    private CA) and is required when ``starttls`` is true."""

    def __init__(
        self,
        smarthost: str,
        *,
        sender: str,
        to: tuple[str, ...],
        starttls: bool = True,
        username: str | None = None,
        password: Callable[[], str] | str | None = None,
        ca_file: Path | None = None,
        timeout: timedelta = timedelta(seconds=30),
        max_attempts: int = 2,
        backoff: timedelta = timedelta(seconds=1),
        smtp_factory: SmtpFactory = smtp_connect,
        sleep: Sleep = time.sleep,
        name: str = "email",
    ) -> None:
        host, _, port = smarthost.rpartition(":")
        self.host, self.port = host, int(port)
        self.sender, self.to = sender, to
        self.name = name
        self._starttls = starttls
        self._username, self._password = username, password
        self._ca_file = ca_file
        self._timeout = timeout.total_seconds()
        self._attempts, self._backoff = max_attempts, backoff
        self._factory, self._sleep = smtp_factory, sleep

    def _send_once(self, msg: EmailMessage) -> None:
        smtp = self._factory(self.host, self.port, self._timeout)
        try:
            smtp.ehlo()
            if self._starttls:
                context = ssl.create_default_context(
                    cafile=str(self._ca_file) if self._ca_file else None
                )
                smtp.starttls(context=context)
                smtp.ehlo()
            if self._username is not None and self._password is not None:
                password = self._password() if callable(self._password) else self._password
                smtp.login(self._username, password)
            smtp.send_message(msg)
        finally:
            # The message was handed over (or the error raised says why not); a failing QUIT
            # changes neither.
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()

    def notify(self, notification: Notification) -> None:
        msg = render_email(notification, self.sender, self.to)
        error = "not sent"
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff.total_seconds() * 2 ** (attempt - 1))
            try:
                self._send_once(msg)
                return
            except GreenwatchError as exc:  # a secret that cannot be read: retrying won't help
                raise NotifyError(self.name, str(exc)) from None
            except smtplib.SMTPAuthenticationError as exc:
                raise NotifyError(self.name, f"SMTP auth refused: {exc.smtp_code}") from None
            except (smtplib.SMTPException, ssl.SSLError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
        raise NotifyError(self.name, error)
