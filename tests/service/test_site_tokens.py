"""Tokens bound to sites: a write for another site is refused (403) on every push route, whole.

Through a real ``greenwatch serve`` on loopback, with the InfluxDB client and raw HTTP for
line protocol, OTLP JSON and Prometheus remote write. Sites and forged labels are generated.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from influxdb_client import InfluxDBClient, Point, WritePrecision
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.write_api import SYNCHRONOUS
from tests.ingest.conftest import NOW, Server, start_server

from greenwatch.cli import main
from greenwatch.ingest import encode_write_request
from greenwatch.inventory import load_inventory
from greenwatch.model import GreenwatchError
from greenwatch.service._tokens import TokenStore

SITES = [s.id for s in load_inventory().sites]
BOUND = ["guian-1", "tianfu-1"]
SNAPPY = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}
T0_NS = int(NOW.value) - 3_600 * 10**9


@pytest.fixture(scope="module")
def bound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quiet]:
    data_dir = tmp_path_factory.mktemp("bound")
    store = TokenStore.for_data_dir(data_dir)
    tokens = {
        "bound": store.create(["write"], "edge-guian", sites=BOUND),
        "one": store.create(["write"], "edge-tianfu", sites=["tianfu-1"]),
        "any": store.create(["write"], "relay", any_site=True),
        "admin": store.create(["admin"], "root"),
        "read": store.create(["read"], "reader"),
    }
    running = start_server(data_dir, tokens=tokens, alerting=False)
    yield Quiet(running)
    running.service.stop()


class Quiet:
    """The server, shown by name in a failing example (its full repr holds the tokens)."""

    def __init__(self, server: Server) -> None:
        self.server = server

    def __repr__(self) -> str:
        return "bound_server"


def _stored(server: Server) -> int:
    return server.service.ingest.stored


def test_influxdb_client_with_a_bound_token_cannot_write_another_site(
    bound: Quiet,
) -> None:
    bound_server = bound.server
    url = bound_server.url
    with InfluxDBClient(url=url, token=bound_server.tokens["bound"], org="gw") as client:
        write = client.write_api(write_options=SYNCHRONOUS)
        own = Point("power_watts").tag("site", "guian-1").tag("meter", "facility")
        write.write("gw", record=own.field("value", 1.0e6).time(T0_NS, WritePrecision.NS))
        before = _stored(bound_server)
        other = Point("power_watts").tag("site", "shaoguan-1").tag("meter", "facility")
        with pytest.raises(InfluxDBError) as refused:
            write.write(
                "gw",
                record=[own.field("value", 2.0e6).time(T0_NS + 1, WritePrecision.NS),
                        other.field("value", 3.0e6).time(T0_NS + 2, WritePrecision.NS)],
            )  # fmt: skip
    assert refused.value.response.status == 403
    body = json.loads(refused.value.response.data)
    assert body["code"] == "forbidden"
    assert body["line"] == 2
    assert "'shaoguan-1'" in body["message"]
    assert "edge-guian" in body["message"]
    assert body["errors"] == [
        {"line": 2, "message": "token 'edge-guian' may not write site 'shaoguan-1' "
                               "(it writes guian-1, tianfu-1)"}
    ]  # fmt: skip
    assert _stored(bound_server) == before  # line 1 was fine, and not stored either


def test_a_token_bound_to_one_site_names_the_site_of_untagged_lines(
    bound: Quiet,
) -> None:
    bound_server = bound.server
    headers = {"Authorization": f"Token {bound_server.tokens['one']}"}
    with httpx.Client(base_url=bound_server.url, headers=headers) as client:
        untagged = client.post(
            "/api/v2/write", content=f"power_watts,meter=it_input value=5 {T0_NS}"
        )
        assert untagged.status_code == 204, untagged.text
        # ?site= cannot widen the binding.
        widened = client.post(
            "/api/v2/write?site=guian-1", content=f"power_watts,meter=it_input value=5 {T0_NS}"
        )
    assert widened.status_code == 403
    assert "'guian-1'" in widened.json()["message"]


def _otlp(sites: list[str], t_ns: int) -> bytes:
    resources = [
        {
            "resource": {"attributes": [{"key": "greenwatch.site", "value": {"stringValue": s}}]},
            "scopeMetrics": [
                {
                    "metrics": [
                        {
                            "name": "power_watts",
                            "unit": "W",
                            "gauge": {
                                "dataPoints": [
                                    {
                                        "asDouble": 1.0e6,
                                        "timeUnixNano": str(t_ns + i),
                                        "attributes": [
                                            {"key": "meter", "value": {"stringValue": "facility"}}
                                        ],
                                    }
                                ]
                            },
                        }
                    ]
                }
            ],
        }
        for i, s in enumerate(sites)
    ]
    return json.dumps({"resourceMetrics": resources}).encode()


def _post(server: Server, token: str, protocol: str, sites: list[str], t_ns: int) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.tokens[token]}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        if protocol == "line":
            lines = [
                Point("power_watts")
                .tag("site", s)
                .tag("meter", "facility")
                .field("value", 1.0e6)
                .time(t_ns + i, WritePrecision.NS)
                .to_line_protocol()
                for i, s in enumerate(sites)
            ]
            return client.post("/api/v2/write", content="\n".join(lines))
        if protocol == "otlp":
            body = _otlp(sites, t_ns)
            return client.post(
                "/v1/metrics", content=body, headers={"Content-Type": "application/json"}
            )
        series: list[tuple[dict[str, str], list[tuple[int, float]]]] = [
            (
                {"__name__": "power_watts", "site": s, "meter": "facility"},
                [(t_ns // 10**6 + i, 1e6)],
            )
            for i, s in enumerate(dict.fromkeys(sites))
        ]
        return client.post("/api/v1/write", content=encode_write_request(series), headers=SNAPPY)


# Forged site labels: any printable text (separators, quotes, escapes, other scripts), or a
# real site of the inventory that the token is not bound to.
forged = st.one_of(
    st.sampled_from(SITES),
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=24
    ).filter(lambda s: s.strip() == s and s != ""),
)
counter = iter(range(1000, 10**9))  # clear of the other tests' timestamps


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    protocol=st.sampled_from(["line", "otlp", "remote"]),
    own=st.lists(st.sampled_from(SITES), min_size=1, max_size=4, unique=True),
    data=st.data(),
)
def test_a_bound_token_writes_only_its_sites(
    bound: Quiet, protocol: str, own: list[str], data: st.DataObject
) -> None:
    bound_server = bound.server
    sites = data.draw(
        st.lists(st.one_of(st.sampled_from(own), forged), min_size=1, max_size=8), label="sites"
    )
    n = next(counter)
    t_ns = T0_NS + n * 10**7  # distinct milliseconds for remote write
    # A new token for this site set; the running server reads the token file as it changes.
    name = f"edge-{n}"
    store = TokenStore.for_data_dir(bound_server.data_dir)
    bound_server.tokens[name] = store.create(["write"], name, sites=own)
    before = _stored(bound_server)
    answer = _post(bound_server, name, protocol, sites, t_ns)
    outside = [s for s in sites if s not in own]
    event(f"{protocol}: {'refused' if outside else 'stored'}")
    if outside:
        assert answer.status_code == 403, answer.text
        body = answer.json()
        suffix = f" (it writes {', '.join(own)})"
        assert all(e["message"].endswith(suffix) for e in body["errors"])
        refused = {e["message"].split("site ", 1)[1].removesuffix(suffix) for e in body["errors"]}
        assert refused == {repr(s) for s in outside}
        assert _stored(bound_server) == before  # nothing of the request
    else:
        assert answer.status_code in (200, 204), answer.text
        assert _stored(bound_server) == before + len(
            sites if protocol != "remote" else dict.fromkeys(sites)
        )
    # A relay token (--any-site) and an admin token are not bound; a read token never writes.
    assert _post(bound_server, "read", protocol, sites, t_ns).status_code == 403


@pytest.mark.parametrize("token", ["any", "admin"])
def test_any_site_and_admin_tokens_write_every_site(bound: Quiet, token: str) -> None:
    bound_server = bound.server
    sites = SITES[:5]
    for protocol in ("line", "otlp", "remote"):
        answer = _post(bound_server, token, protocol, sites, T0_NS - 10**12)
        assert answer.status_code in (200, 204), (protocol, answer.text)


def test_verification_records_of_another_site_are_refused(bound: Quiet) -> None:
    bound_server = bound.server
    record: dict[str, Any] = {
        "site": "shaoguan-1", "pool": "ai", "benchmark": "probe", "precision": "fp16",
        "devices": 1, "passed": True,
    }  # fmt: skip
    headers = {"Authorization": f"Token {bound_server.tokens['bound']}"}
    with httpx.Client(base_url=bound_server.url, headers=headers) as client:
        answer = client.post("/api/v1/resources/verifications", json=record)
    assert answer.status_code == 403
    assert "'shaoguan-1'" in answer.json()["message"]


def test_token_create_requires_a_binding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["token", "create", "--data-dir", str(tmp_path)]
    assert main([*base, "--scope", "write"]) == 2
    assert "--site SITE (repeatable) or an explicit --any-site" in capsys.readouterr().err
    assert main([*base, "--scope", "write", "--site", "a", "--any-site"]) == 2
    assert "not both" in capsys.readouterr().err
    assert main([*base, "--scope", "read", "--site", "guian-1"]) == 2
    assert "give the write scope too" in capsys.readouterr().err
    assert main([*base, "--scope", "write", "--site", "Guian 1"]) == 2
    assert "site ids are lower-case" in capsys.readouterr().err
    assert not (tmp_path / "tokens.json").exists()
    assert main([*base, "--scope", "write", "--site", "guian-1", "--site", "tianfu-1",
                 "--name", "edge"]) == 0  # fmt: skip
    assert "(sites=guian-1,tianfu-1)" in capsys.readouterr().err
    assert main([*base, "--scope", "write", "--any-site", "--name", "relay"]) == 0
    assert main([*base, "--scope", "admin", "--name", "root"]) == 0
    assert main([*base, "--scope", "read", "--name", "grafana"]) == 0
    capsys.readouterr()
    assert main(["token", "list", "--data-dir", str(tmp_path)]) == 0
    listed = {line.split()[1]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "sites=guian-1,tianfu-1" in listed["edge"]
    assert "any site" in listed["relay"]
    assert "any site" in listed["root"]
    assert listed["grafana"].split()[3] == "-"


def test_a_token_file_without_bindings_is_migrated(tmp_path: Path) -> None:
    old = {
        "tokens": [
            {"id": "a1", "name": "edge", "scopes": ["write"], "sha256": "0" * 64,
             "created": "2026-01-01T00:00:00+00:00", "site": "guian-1"},
            {"id": "b2", "name": "telegraf", "scopes": ["write", "read"], "sha256": "1" * 64,
             "created": "2026-01-01T00:00:00+00:00", "site": None},
        ]
    }  # fmt: skip
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    path.chmod(0o600)
    tokens = {t.name: t for t in TokenStore(path).tokens()}
    assert tokens["edge"].writable_sites == frozenset({"guian-1"})
    assert tokens["telegraf"].writable_sites is None  # kept what it could do
    migrated = json.loads(path.read_text(encoding="utf-8"))
    assert migrated["version"] == 2
    assert [(t["sites"], t["any_site"]) for t in migrated["tokens"]] == [
        (["guian-1"], False),
        ([], True),
    ]
    assert "site" not in migrated["tokens"][0]
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_python_api_refuses_an_unbound_write_token() -> None:
    with pytest.raises(GreenwatchError, match="--any-site"):
        TokenStore(None).create(["write"])
