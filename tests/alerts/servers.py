"""Real receivers on loopback: a webhook server, an SMTP server with STARTTLS and AUTH, and
Debian's prometheus-alertmanager."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from greenwatch.alerts import SIGNATURE_HEADER, verify
from tests.conftest import free_port, http_handler_server, need_binary


@dataclass
class WebhookReceiver:
    """Records POSTs; answers ``fail_with`` statuses first; checks the HMAC signature."""

    secret: bytes
    port: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    signatures_ok: list[bool] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


def webhook_server(secret: bytes) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if receiver.fail_with:
                self.send_response(receiver.fail_with.pop(0))
                self.end_headers()
                return
            receiver.signatures_ok.append(verify(secret, body, self.headers[SIGNATURE_HEADER]))
            receiver.bodies.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with http_handler_server(Handler) as port:
        receiver.port = port
        yield receiver


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "smtp.crt", tmp / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Mailbox:
    port: int
    ca_file: Path
    messages: list[Message] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, _server: object, _session: object, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.box.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def smtp_server(tmp: Path, user: str, password: str) -> Iterator[Mailbox]:
    """aiosmtpd on loopback requiring STARTTLS, then AUTH as ``user``."""
    cert, key = self_signed(tmp)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box = Mailbox(free_port(), cert)

    def authenticate(
        server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login.decode() == user
        ok = ok and data.password.decode() == password  # type: ignore[union-attr]
        if ok:
            box.logins.append(user)
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        _Handler(box),
        hostname="127.0.0.1",
        port=box.port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Alertmanager:
    url: str

    def alerts(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=5)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result

    def groups(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v2/alerts/groups", timeout=5)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()
        return result


BLACKHOLE = "route:\n  receiver: blackhole\n  group_wait: 1s\nreceivers:\n  - name: blackhole\n"


def alertmanager_server(tmp: Path, config_text: str = BLACKHOLE) -> Iterator[Alertmanager]:
    """Debian's Alertmanager on a free loopback port with ``config_text``, a single node."""
    binary = need_binary(
        "prometheus-alertmanager", "alertmanager", "/usr/bin/prometheus-alertmanager"
    )
    config = tmp / "alertmanager.yml"
    config.write_text(config_text, encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"alertmanager did not start: {err[-2000:]}")
            time.sleep(0.1)
        yield Alertmanager(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
