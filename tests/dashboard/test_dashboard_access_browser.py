"""Dashboard access through a live ``greenwatch serve`` and real Chromium: who may operate by bind
address, CSRF on actions, the audit log, cookie flags, login throttling and trusted proxies.

Two loopback addresses stand in for "here" and "elsewhere": a server bound to 127.0.0.2 is not
on "the" loopback bind; a client on 127.0.0.2 (httpx ``local_address``) is another client or
the trusted proxy.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookies import Morsel, SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.browser import Chromium, open_dashboard, screenshot, settle
from tests.conftest import free_port
from tests.resources import h100_pool

from greenwatch.dashboard import hash_password
from greenwatch.dashboard._alerts_actions import CSRF_REFUSED
from greenwatch.inventory import load_inventory
from greenwatch.model import shipped_dir
from greenwatch.service import Service
from greenwatch.service._tokens import TokenStore
from greenwatch.store import DuckDBStore


class Running:
    def __init__(self, service: Service, tokens: dict[str, str]) -> None:
        self.service, self.tokens = service, tokens

    @property
    def url(self) -> str:
        return self.service.url.rstrip("/")

    def client(self, source: str = "127.0.0.1", token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Token {self.tokens[token]}"} if token else {}
        return httpx.Client(
            base_url=self.url,
            headers=headers,
            transport=httpx.HTTPTransport(local_address=source),
            timeout=30,
        )


@contextmanager
def serving(data_dir: Path, host: str = "127.0.0.1", auth: str = "") -> Iterator[Running]:
    """``greenwatch serve`` on ``host`` with the shipped dashboards and ``auth`` settings."""
    pages = data_dir / "dashboards"
    shutil.copytree(shipped_dir("dashboards"), pages)
    if auth:
        settings = pages / "settings.yaml"
        text = settings.read_text(encoding="utf-8")
        settings.write_text(text[: text.index("auth:")] + auth, encoding="utf-8")
    store = TokenStore.for_data_dir(data_dir)
    tokens = {"admin": store.create(["admin"], "root"), "read": store.create(["read"], "grafana")}
    service = Service(
        DuckDBStore(":memory:"),
        load_inventory(),
        host=host,
        port=free_port(),
        data_dir=data_dir,
        dashboards=pages,
    )
    service.start()
    try:
        yield Running(service, tokens)
    finally:
        service.stop()


def _set_cookies(response: httpx.Response) -> dict[str, Morsel[str]]:
    """The cookies a response sets, by name, each with its flags (one header per cookie)."""
    found: dict[str, Morsel[str]] = {}
    for header in response.headers.get_list("set-cookie"):
        found.update(SimpleCookie(header))
    return found


def _silence_in_browser(page: Any, comment: str) -> str:
    page.fill("#silence-matchers", 'site="guian-1"\nalertname="SitePueAboveTarget"')
    page.fill("#alert-comment", comment)
    page.click("#silence-button")
    page.wait_for_function(
        "document.querySelector('#alert-action-result').innerText.length > 0", timeout=15_000
    )
    return str(page.inner_text("#alert-action-result"))


def test_on_loopback_anonymous_operators_act_with_csrf_and_are_audited(
    tmp_path: Path, browser: Chromium
) -> None:
    with serving(tmp_path) as running, browser.page() as (page, log):
        actions: list[Any] = []
        page.on(  # type: ignore[attr-defined]
            "request",
            lambda r: (
                actions.append(r)
                if r.method == "POST" and '"silence-button.n_clicks"' in (r.post_data or "")
                else None
            ),
        )
        open_dashboard(page, running.url + "/alerts")
        assert "no login · operator" in page.inner_text("header")  # type: ignore[attr-defined]
        # The session cookie is out of the page script's reach; the CSRF cookie is not.
        cookies = {c["name"]: c for c in page.context.cookies()}  # type: ignore[attr-defined]
        assert cookies["session"]["httpOnly"] is True
        assert cookies["session"]["sameSite"] == "Lax"
        assert cookies["session"]["secure"] is False  # plain HTTP on loopback
        assert cookies["_csrf_token"]["httpOnly"] is False
        visible = page.evaluate("document.cookie")  # type: ignore[attr-defined]
        assert "_csrf_token=" in visible
        assert "session=" not in visible
        result = _silence_in_browser(page, "chiller maintenance, vendor on site")
        assert result.startswith("Silence"), result
        request = actions[-1]  # the click (earlier ones: the form being drawn)
        assert json.loads(request.post_data)["changedPropIds"] == ["silence-button.n_clicks"]
        assert request.headers["x-csrftoken"] == cookies["_csrf_token"]["value"]
        settle(page)
        page.wait_for_selector(".audit-row", timeout=15_000)  # type: ignore[attr-defined]
        audit_text = page.inner_text(".audit-table")  # type: ignore[attr-defined]
        shot = screenshot(page, "alerts-audit-log.png")
        # The same action replayed with the session cookie but without the CSRF header (what
        # a forged cross-site form could at most send) is refused, and nothing changes.
        with running.client() as raw:
            raw.cookies.set("session", cookies["session"]["value"])
            for headers in ({}, {"X-CSRFToken": "guess"}):
                forged = raw.post(
                    "/_dash-update-component",
                    content=request.post_data,
                    headers={"Content-Type": "application/json", **headers},
                )
                assert forged.status_code == 200
                assert CSRF_REFUSED in forged.text
        with running.client(token="admin") as admin:
            silences = admin.get("/api/v1/silences").json()["data"]
            entries = admin.get("/api/v1/audit").json()["data"]
    assert shot.stat().st_size > 10_000
    assert "dashboard" in audit_text
    assert "silence" in audit_text
    assert "127.0.0.1" in audit_text
    assert log.console_errors == []
    assert len(silences) == 1  # the forged replays created none
    assert [(e["who"], e["action"], e["client"], e["via"]) for e in entries] == [
        ("dashboard", "silence", "127.0.0.1", "dashboard")
    ]
    assert entries[0]["target"] == silences[0]["id"]
    audit_file = tmp_path / "audit.jsonl"
    assert json.loads(audit_file.read_text(encoding="utf-8"))["action"] == "silence"


def test_api_actions_are_audited_and_the_log_needs_admin(tmp_path: Path) -> None:
    with serving(tmp_path) as running:
        silence = {
            "matchers": ['site="guian-1"'],
            "comment": "planned work",
            "duration": "1h",
            "createdBy": "li.wei",
        }
        with running.client(token="admin") as admin:
            made = admin.post("/api/v1/silences", json=silence)
            assert made.status_code == 201, made.text
            assert admin.delete(f"/api/v1/silences/{made.json()['data']['id']}").status_code == 200
            pool = {"site": "guian-1", "pool": h100_pool()}
            assert admin.post("/api/v1/resources", json=pool).status_code == 201
            assert admin.post("/api/v1/resources", json=pool).status_code == 200  # unchanged
            entries = admin.get("/api/v1/audit").json()["data"]
        with running.client(token="read") as reader:
            assert reader.get("/api/v1/audit").status_code == 403
    assert [(e["who"], e["action"], e["via"]) for e in entries] == [
        ("root", "register", "api"),
        ("root", "expire", "api"),
        ("root", "silence", "api"),
    ]


def test_off_loopback_anonymous_visitors_only_look(tmp_path: Path, browser: Chromium) -> None:
    # Even configured as operator: served on 127.0.0.2, nobody is the loopback demo's operator.
    auth = "auth:\n  anonymous_role: operator\n"
    with serving(tmp_path, host="127.0.0.2", auth=auth) as running, browser.page() as (page, log):
        assert running.url.startswith("http://127.0.0.2:")
        open_dashboard(page, running.url + "/alerts")
        assert "no login · viewer" in page.inner_text("header")  # type: ignore[attr-defined]
        assert page.is_disabled("#silence-button")  # type: ignore[attr-defined]
        assert page.is_disabled("#ack-button")  # type: ignore[attr-defined]
        screenshot(page, "alerts-viewer-off-loopback.png")
        with running.client(token="admin") as admin:
            assert admin.get("/api/v1/silences").json()["data"] == []
    assert log.console_errors == []


USERS = 'users:\n  - {{name: olga, role: operator, password: "{olga}"}}\n' \
        '  - {{name: victor, role: viewer, password: "{victor}"}}\n'  # fmt: skip


def _login(client: httpx.Client, name: str, password: str) -> httpx.Response:
    return client.post("/login", data={"name": name, "password": password, "next": "/alerts"})


def test_login_is_throttled_per_user_and_per_client(tmp_path: Path, browser: Chromium) -> None:
    users = tmp_path / "users.yaml"
    users.write_text(
        USERS.format(olga=hash_password("green-1"), victor=hash_password("watch-2")),
        encoding="utf-8",
    )
    auth = f"auth:\n  users_file: {users}\n  login_failures: 3\n"
    with serving(tmp_path, auth=auth) as running:
        with browser.page() as (page, _log):
            page.goto(running.url + "/login")  # type: ignore[attr-defined]
            for _ in range(3):
                page.fill("input[name=name]", "olga")  # type: ignore[attr-defined]
                page.fill("input[name=password]", "wrong")  # type: ignore[attr-defined]
                with page.expect_response("**/login") as answer:  # type: ignore[attr-defined]
                    page.click("button[type=submit]")  # type: ignore[attr-defined]
                assert answer.value.status == 401
            page.fill("input[name=name]", "olga")  # type: ignore[attr-defined]
            page.fill("input[name=password]", "green-1")  # type: ignore[attr-defined]
            with page.expect_response("**/login") as answer:  # type: ignore[attr-defined]
                page.click("button[type=submit]")  # type: ignore[attr-defined]
            assert answer.value.status == 429  # the right password waits too
            assert int(answer.value.headers["retry-after"]) > 0
            assert "Too many failed logins" in page.inner_text("main")  # type: ignore[attr-defined]
        # Per user: olga waits from another client address too …
        with running.client("127.0.0.2") as elsewhere:
            assert _login(elsewhere, "olga", "green-1").status_code == 429
            # … while victor logs in from there; his session cookie is HttpOnly and Lax.
            victor = _login(elsewhere, "victor", "watch-2")
            assert victor.status_code == 302
            cookie = _set_cookies(victor)["session"]
            assert cookie["httponly"] is True
            assert cookie["samesite"] == "Lax"
            assert not cookie["secure"]
        # Per client: 127.0.0.1 failed three times, so victor waits from there.
        with running.client("127.0.0.1") as here:
            assert _login(here, "victor", "watch-2").status_code == 429


def test_proxy_header_and_tls_only_from_trusted_proxies(tmp_path: Path) -> None:
    users = tmp_path / "users.yaml"
    users.write_text(
        USERS.format(olga=hash_password("green-1"), victor=hash_password("watch-2")),
        encoding="utf-8",
    )
    auth = (
        f"auth:\n  users_file: {users}\n  proxy_header: X-Forwarded-User\n"
        "  trusted_proxies: [127.0.0.2/32]\n"
    )
    forwarded = {"X-Forwarded-User": "olga", "X-Forwarded-Proto": "https"}
    with serving(tmp_path, auth=auth) as running:
        with running.client("127.0.0.2") as proxy:
            page = proxy.get("/alerts", headers=forwarded)
            assert page.status_code == 200
            layout = proxy.get("/_dash-layout", headers=forwarded)
            assert "olga · operator" in json.dumps(layout.json(), ensure_ascii=False)
            secure = _set_cookies(page)
            assert secure["session"]["secure"] is True  # TLS at the proxy
            assert secure["_csrf_token"]["secure"] is True
        with running.client("127.0.0.1") as stranger:
            forged = stranger.get("/alerts", headers=forwarded)
            assert forged.status_code == 302  # the header is not believed: log in
            assert forged.headers["location"].startswith("/login")
            login = stranger.get("/login", headers={"X-Forwarded-Proto": "https"})
            victor = _login(stranger, "victor", "watch-2")
            assert victor.status_code == 302
            assert not _set_cookies(victor)["session"]["secure"]
            assert login.status_code == 200


@pytest.mark.parametrize("configured", ["secure_cookie: true"])
def test_secure_cookies_can_be_forced(tmp_path: Path, configured: str) -> None:
    with serving(tmp_path, auth=f"auth:\n  {configured}\n") as running, running.client() as raw:
        page = raw.get("/alerts")
    assert _set_cookies(page)["session"]["secure"] is True
