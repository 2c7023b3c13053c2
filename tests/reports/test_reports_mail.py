"""Report e-mail received by a real SMTP server (aiosmtpd on loopback), PDF intact."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from greenwatch.inventory import Inventory
from greenwatch.reports import (
    DeliveryError,
    SmtpSettings,
    make_report,
    parse_period,
    parse_scope,
)
from greenwatch.store import DuckDBStore
from tests.conftest import free_port, need_binary

GENERATED = pd.Timestamp("2026-10-06T02:00+08:00")


class Inbox:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, _server: Any, _session: Any, envelope: Any
    ) -> str:
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _mail_report(
    golden: tuple[DuckDBStore, Inventory], archive: Path, smtp: SmtpSettings, to: list[str]
) -> Path:
    store, inventory = golden
    archived = make_report(
        store,
        inventory,
        parse_period("2026-10-05"),
        parse_scope("national", inventory),
        formats=("pdf",),
        archive_dir=archive,
        generated_at=GENERATED,
        email=to,
        smtp=smtp,
    )
    return archived.path / f"{archived.name}.pdf"


def _attachment(msg: EmailMessage) -> tuple[str, bytes]:
    parts = list(msg.iter_attachments())
    assert len(parts) == 1
    part = parts[0]
    assert isinstance(part, EmailMessage)
    assert part.get_content_type() == "application/pdf"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(part.get_filename()), payload


def test_report_mail_arrives_with_the_pdf_intact(
    golden: tuple[DuckDBStore, Inventory], inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    handler, port = inbox
    smtp = SmtpSettings(host="127.0.0.1", port=port, sender="greenwatch@example.cn")
    to = ["efficiency@example.cn", "ops@example.cn"]
    pdf = _mail_report(golden, tmp_path / "reports", smtp, to)
    assert len(handler.messages) == 1
    msg = handler.messages[0]
    assert handler.envelopes == [("greenwatch@example.cn", to)]
    assert msg["Subject"] == ("greenwatch: Daily efficiency report — National network — 2026-10-05")
    name, payload = _attachment(msg)
    assert name == "greenwatch-national-2026-10-05.pdf"
    assert payload == pdf.read_bytes()
    assert payload.startswith(b"%PDF")
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    body = text.get_content()
    # 2 of 3 sites, 57 % of the IT capacity: shown, but no verdict below the 90 % minimum.
    assert "National PUE: 1.275 (target < 1.50: partial scope)" in body
    assert "rests on 2 of 3 sites (57\u00a0% of IT capacity)" in body
    assert "[2026-10-05T00:00+08:00, 2026-10-06T00:00+08:00) (Asia/Shanghai)" in body
    assert "location-based 35 t, market-based 14 t" in body
    assert "National PUE" in html.get_content()


def test_unreachable_server_is_a_clear_error(
    golden: tuple[DuckDBStore, Inventory], tmp_path: Path
) -> None:
    smtp = SmtpSettings(host="127.0.0.1", port=free_port(), timeout_s=5)
    with pytest.raises(DeliveryError, match=r"mail via 127\.0\.0\.1:\d+ failed"):
        _mail_report(golden, tmp_path / "reports", smtp, ["a@example.cn"])


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    openssl = need_binary("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def test_starttls_and_login(
    golden: tuple[DuckDBStore, Inventory], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = _certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    handler, port = Inbox(), free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        auth_require_tls=True,
        authenticator=authenticator,
    )
    controller.start()
    try:
        monkeypatch.setenv("GW_SMTP_PASSWORD", "s3cret")
        smtp = SmtpSettings(
            host="127.0.0.1",
            port=port,
            starttls=True,
            ca_file=cert,
            username="reports",
            password_env="GW_SMTP_PASSWORD",
        )
        pdf = _mail_report(golden, tmp_path / "reports", smtp, ["a@example.cn"])
        assert logins == [(b"reports", b"s3cret")]
        assert _attachment(handler.messages[0])[1] == pdf.read_bytes()
        plain = SmtpSettings(host="127.0.0.1", port=port)  # no STARTTLS: refused
        with pytest.raises(DeliveryError):
            _mail_report(golden, tmp_path / "again", plain, ["a@example.cn"])
    finally:
        controller.stop()
