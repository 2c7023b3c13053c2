"""Every route of the served app × every method × every kind of caller, against one policy table.

The routes come from the app's own URL map (the API, ``/metrics``, health, and the dashboard's
routes with a login configured), so a route added without a row in :data:`POLICY` fails here
the day it is added. HEAD and OPTIONS must follow GET's rules.
"""

from __future__ import annotations

import itertools
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import flask
import pytest

from greenwatch.dashboard import hash_password
from greenwatch.inventory import load_inventory
from greenwatch.model import shipped_dir
from greenwatch.service import Service
from greenwatch.service._tokens import TokenStore
from greenwatch.store import DuckDBStore

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
CALLERS = ("none", "garbage", "read", "write", "admin", "site")
SAFE = ("GET", "HEAD", "OPTIONS")

# What each route is; the scope each class needs per method is in ``needed`` below.
OPEN, DASHBOARD, PUSH, API, POOLS, VERIFY, AUDIT, REPLAY = (
    "open", "dashboard", "push", "api", "pools", "verify", "audit", "replay"
)  # fmt: skip
POLICY: dict[str, str] = {
    "/healthz": OPEN,
    "/readyz": OPEN,
    "/metrics": OPEN,  # aggregates only; ExportSettings(metrics_token=True) makes it read
    "/metrics/samples": OPEN,  # latest canonical readings; the same token rule as /metrics
    "/static/<path:filename>": OPEN,
    "/api/v2/write": PUSH,
    "/write": PUSH,
    "/v1/metrics": PUSH,
    "/api/v1/write": PUSH,
    "/api/v1/kpi": API,
    "/api/v1/compute": API,
    "/api/v1/energy": API,
    "/api/v1/series": API,
    "/api/v1/query": API,
    "/api/v1/reports": API,
    "/api/v1/reports/<name>": API,
    "/api/v1/reports/<name>/<file>": API,
    "/api/v1/alerts": API,
    "/api/v1/alerts/status": API,
    "/api/v1/alerts/<fingerprint>": API,
    "/api/v1/alerts/<fingerprint>/ack": API,
    "/api/v1/alerts/test": REPLAY,  # POST, but it changes nothing: read
    "/api/v1/silences": API,
    "/api/v1/silences/<silence_id>": API,
    "/api/v1/maintenance": API,
    "/api/v1/audit": AUDIT,
    "/api/v1/backup": AUDIT,
    "/api/v1/resources": POOLS,
    "/api/v1/resources/<site>/<pool>": POOLS,
    "/api/v1/resources/verifications": VERIFY,
    "/assets/<path:filename>": DASHBOARD,
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": DASHBOARD,
    "/_dash-layout": DASHBOARD,
    "/_dash-dependencies": DASHBOARD,
    "/_dash-update-component": DASHBOARD,
    "/_reload-hash": DASHBOARD,
    "/_favicon.ico": DASHBOARD,
    "/": DASHBOARD,
    "/<path:path>": DASHBOARD,
    "/reports/download/<name>/<file>": DASHBOARD,
    "/login": DASHBOARD,
    "/logout": DASHBOARD,
}


def needed(kind: str, method: str) -> str | None:
    """The token scope a request needs (None: tokens play no part)."""
    safe = method in SAFE
    return {
        OPEN: None,
        DASHBOARD: None,
        PUSH: "write",
        API: "read" if safe else "write",
        POOLS: "read" if safe else "admin",
        VERIFY: "read" if safe else "write",
        AUDIT: "admin",
        REPLAY: "read",
    }[kind]


GRANTS = {
    "none": set(),
    "garbage": set(),
    "read": {"read"},
    "write": {"write"},
    "site": {"write"},
    "admin": {"read", "write", "admin"},
}


def _served(data_dir: Path) -> Service:
    """A service as ``greenwatch serve`` builds it, with a dashboard login configured."""
    pages = data_dir / "dashboards"
    shutil.copytree(shipped_dir("dashboards"), pages)
    users = data_dir / "users.yaml"
    users.write_text(
        f'users:\n  - {{name: olga, role: operator, password: "{hash_password("pw")}"}}\n',
        encoding="utf-8",
    )
    settings = pages / "settings.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text[: text.index("auth:")] + f"auth:\n  users_file: {users}\n")
    return Service(
        DuckDBStore(":memory:"), load_inventory(), port=0, data_dir=data_dir, dashboards=pages
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[flask.Flask, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("matrix")
    store = TokenStore.for_data_dir(data_dir)
    tokens = {
        "garbage": "gw_00000000_" + "x" * 43,
        "read": store.create(["read"], "reader"),
        "write": store.create(["write"], "relay", any_site=True),
        "admin": store.create(["admin"], "root"),
        "site": store.create(["write"], "edge", sites=["guian-1"]),
    }
    service = _served(data_dir)
    service.start()
    yield service.app, tokens
    service.stop()


def _concrete(rule: str) -> str:
    """A path that matches ``rule`` (each variable filled with a plain word)."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: f"x-{m.group(1)}", rule)


def test_every_route_is_in_the_policy(app: tuple[flask.Flask, dict[str, str]]) -> None:
    served = {rule.rule for rule in app[0].url_map.iter_rules()}
    assert served - POLICY.keys() == set(), "add the new routes to POLICY"
    assert POLICY.keys() - served == set(), "POLICY lists routes that are not served"


def test_every_route_every_method_every_caller(app: tuple[flask.Flask, dict[str, str]]) -> None:
    flask_app, tokens = app
    client = flask_app.test_client()
    addresses = (f"10.9.{i // 250}.{i % 250 + 1}" for i in itertools.count())
    wrong: list[str] = []
    for path_rule, method in itertools.product(sorted(POLICY), METHODS):
        path, kind = _concrete(path_rule), POLICY[path_rule]
        scope = needed(kind, method)
        answers: dict[str, int] = {}
        for caller in CALLERS:
            headers = {"Authorization": f"Token {tokens[caller]}"} if caller in tokens else {}
            # One address per request: this test is not about the failure throttle.
            answer = client.open(
                path, method=method, headers=headers, environ_base={"REMOTE_ADDR": next(addresses)}
            )
            status = answers[caller] = answer.status_code
            if status >= 500 or status == 429:
                wrong.append(f"{method} {path} as {caller}: {status}")
            elif scope is None and kind == OPEN and status in (401, 403):
                wrong.append(f"{method} {path} as {caller}: {status}, but the route is open")
            elif scope is not None and caller in ("none", "garbage") and status != 401:
                wrong.append(f"{method} {path} as {caller}: {status}, not 401")
            elif scope is not None and caller in GRANTS and caller not in ("none", "garbage"):
                allowed = scope in GRANTS[caller]
                if allowed and status in (401, 403):
                    wrong.append(f"{method} {path} as {caller}: {status}, needs only {scope}")
                if not allowed and status != 403:
                    wrong.append(f"{method} {path} as {caller}: {status}, not 403 ({scope})")
        if kind == DASHBOARD and len(set(answers.values())) != 1:
            # The dashboard has its own login: API tokens neither open nor close it.
            wrong.append(f"{method} {path}: answers differ by API token {answers}")
    assert not wrong, "\n".join(wrong)


def test_head_and_options_follow_get(app: tuple[flask.Flask, dict[str, str]]) -> None:
    client = app[0].test_client()
    for method in ("HEAD", "OPTIONS"):
        answer = client.open("/api/v1/kpi", method=method)
        assert answer.status_code == 401
        assert answer.get_data() == b"" if method == "HEAD" else answer.json is not None
