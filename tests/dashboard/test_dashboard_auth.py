"""Dashboard login: users file with scrypt hashes, or a trusted proxy header; viewer vs operator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import flask
import pytest

from greenwatch.dashboard import create_app, hash_password, verify_password
from greenwatch.dashboard._auth import Auth, load_users
from greenwatch.dashboard._spec import AuthSettings
from greenwatch.inventory import load_inventory
from greenwatch.model import ConfigError, shipped_dir
from greenwatch.store import DuckDBStore

USERS = """\
users:
  - name: olga
    role: operator
    password: "{olga}"
  - name: victor
    role: viewer
    password: "{victor}"
"""


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    path = tmp_path / "users.yaml"
    path.write_text(
        USERS.format(olga=hash_password("green-1"), victor=hash_password("watch-2")),
        encoding="utf-8",
    )
    return path


def _client(tmp_path: Path, auth: str) -> flask.testing.FlaskClient:
    pages = tmp_path / "dashboards"
    shutil.copytree(shipped_dir("dashboards"), pages)
    settings = pages / "settings.yaml"
    text = settings.read_text(encoding="utf-8")
    start = text.index("auth:")
    settings.write_text(text[:start] + auth, encoding="utf-8")
    app = create_app(
        DuckDBStore(":memory:"), load_inventory(), server=flask.Flask("t"), dashboards_dir=pages
    )
    return app.server.test_client()


def test_password_hashes_are_salted_scrypt() -> None:
    one, two = hash_password("s3cret"), hash_password("s3cret")
    assert one != two
    assert one.startswith("scrypt$16384$8$1$")
    assert verify_password("s3cret", one)
    assert verify_password("s3cret", two)
    assert not verify_password("s3cret!", one)
    assert not verify_password("s3cret", "scrypt$garbage")


def test_a_bad_users_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text("users:\n  - name: a\n    role: admin\n    password: x\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_users(path)
    message = caught.value.render()
    assert f"{path}:3: users[0].role" in message
    assert f"{path}:4: users[0].password" in message


def test_login_guards_pages_and_callbacks(tmp_path: Path, users_file: Path) -> None:
    client = _client(tmp_path, f"auth:\n  users_file: {users_file}\n")
    page = client.get("/site/guian-1?period=7d")
    assert page.status_code == 302
    assert page.headers["Location"] == "/login?next=/site/guian-1%3Fperiod%3D7d"
    assert client.post("/_dash-update-component", json={}).status_code == 401
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/healthz").status_code in {200, 404}  # not the dashboard's to guard
    with client.get("/assets/style.css") as style:
        assert style.status_code == 200
    refused = client.post("/login", data={"name": "olga", "password": "nope", "next": "/"})
    assert refused.status_code == 401
    assert "wrong password" in refused.get_data(as_text=True)
    offsite = client.post(
        "/login", data={"name": "olga", "password": "green-1", "next": "https://evil.example/"}
    )
    assert offsite.status_code == 302
    assert offsite.headers["Location"] == "/"
    assert client.get("/site/guian-1").status_code == 200
    layout = json.dumps(client.get("/_dash-layout").get_json())
    assert "olga" in layout
    assert "operator" in layout
    client.get("/logout")
    assert client.get("/").status_code == 302


def test_proxy_header_names_the_user(tmp_path: Path, users_file: Path) -> None:
    client = _client(
        tmp_path,
        f"auth:\n  users_file: {users_file}\n  proxy_header: X-Forwarded-User\n"
        "  trusted_proxies: [127.0.0.1/32, 'fd00::/8']\n",
    )
    assert client.get("/").status_code == 302
    assert client.get("/", headers={"X-Forwarded-User": "someone"}).status_code == 200
    # The same header from anywhere else is not believed: log in.
    for stranger in ("127.0.0.2", "10.0.0.9", "fe80::1"):
        forged = client.get(
            "/", headers={"X-Forwarded-User": "olga"}, environ_base={"REMOTE_ADDR": stranger}
        )
        assert forged.status_code == 302, stranger
    layout = client.get("/_dash-layout", headers={"X-Forwarded-User": "victor"}).get_json()
    assert "victor · viewer" in json.dumps(layout, ensure_ascii=False)


def test_roles(users_file: Path) -> None:
    app = flask.Flask("t")
    app.secret_key = "test"
    auth = Auth(
        AuthSettings(
            users_file=users_file,
            proxy_header="X-Forwarded-User",
            trusted_proxies=("127.0.0.1/32",),
        )
    )
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    with app.test_request_context(headers={"X-Forwarded-User": "olga"}, environ_base=proxy):
        user = auth.current_user()
        assert user is not None
        assert (user.name, user.can_operate) == ("olga", True)
    with app.test_request_context(headers={"X-Forwarded-User": "victor"}, environ_base=proxy):
        user = auth.current_user()
        assert user is not None
        assert not user.can_operate
    with app.test_request_context(headers={"X-Forwarded-User": "stranger"}, environ_base=proxy):
        user = auth.current_user()
        assert user is not None
        assert user.role == "viewer"
    with app.test_request_context():
        assert auth.current_user() is None
    no_login = Auth(AuthSettings())
    with app.test_request_context():
        user = no_login.current_user()
        assert user is not None
        assert (user.name, user.role) == ("", "operator")


@pytest.mark.parametrize(
    ("bind", "configured", "role"),
    [
        ("127.0.0.1", None, "operator"),
        ("::1", None, "operator"),
        ("localhost", None, "operator"),
        ("127.0.0.1", "viewer", "viewer"),
        # Another loopback address is not "the" loopback bind: reachable from elsewhere via
        # a port forward just as easily, and nothing a demo needs.
        ("127.0.0.2", None, "viewer"),
        ("0.0.0.0", None, "viewer"),
        ("0.0.0.0", "operator", "viewer"),  # never more than viewer off loopback
        ("192.0.2.10", "operator", "viewer"),
        ("::", None, "viewer"),
    ],
)
def test_anonymous_role_follows_the_bind_address(
    bind: str, configured: str | None, role: str
) -> None:
    settings = AuthSettings(anonymous_role=configured)
    app = flask.Flask("t")
    # The client's address plays no part: a request from loopback to a public bind is a viewer.
    with app.test_request_context(environ_base={"REMOTE_ADDR": "127.0.0.1"}):
        user = Auth(settings, bind).current_user()
    assert user is not None
    assert user.role == role


def test_proxy_header_needs_trusted_proxies() -> None:
    with pytest.raises(ValueError, match="proxy_header needs trusted_proxies"):
        AuthSettings(proxy_header="X-Forwarded-User")
