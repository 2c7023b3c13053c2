"""E-mail delivery: the summary inline (text and HTML), the PDF attached, over SMTP.

STARTTLS and authentication are optional; the password comes from the environment or a file
named in the settings and is never logged.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from greenwatch.model import SystemFailureError
from greenwatch.reports._build import Report
from greenwatch.reports._config import ReportError, SmtpSettings
from greenwatch.reports._render import summary_html, summary_text


class DeliveryError(ReportError, SystemFailureError):
    """The SMTP server could not be reached or refused the message."""

    def __init__(self, server: str, cause: BaseException) -> None:
        self.server = server
        self.cause = cause
        super().__init__(f"mail via {server} failed: {type(cause).__name__}: {cause}")


def report_message(
    report: Report, pdf: bytes, sender: str, to: Sequence[str], generated: str
) -> EmailMessage:
    """The report e-mail: summary as text and HTML alternatives, the PDF as an attachment."""
    msg = EmailMessage()
    msg["Subject"] = f"greenwatch: {report.title}"
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "greenwatch")
    msg.set_content(summary_text(report, generated))
    msg.add_alternative(summary_html(report, generated), subtype="html")
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{report.name}.pdf")
    return msg


def send_report(
    smtp: SmtpSettings,
    to: Sequence[str],
    report: Report,
    pdf: bytes,
    generated: str,
) -> None:
    """Send the report to ``to``; raises :class:`DeliveryError` with the server and cause."""
    if not to:
        raise ReportError("no recipients")
    server = f"{smtp.host}:{smtp.port}"
    msg = report_message(report, pdf, smtp.sender, to, generated)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s) as client:
            client.ehlo()
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context(cafile=smtp.ca_file))
                client.ehlo()
            if smtp.username:
                client.login(smtp.username, smtp.password() or "")
            client.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(server, exc) from exc
