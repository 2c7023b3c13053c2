"""Bad input: every case gets its documented 4xx, the server stays up, nothing is stored.

Policy (greenwatch.ingest._push): a request is atomic — one bad line rejects the whole request
with 400 listing every bad line, and none of its good lines are stored.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.ingest.conftest import Server, start_server

GOOD = "power_watts,site=a,meter=facility value=5 1772323200000000000\n"
LIMIT = 256 * 1024


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("bad"), max_body_bytes=LIMIT)
    yield running
    running.service.stop()


def _stored(server: Server) -> int:
    return int(server.service.ingest.stored)


LINE_CASES = [
    ("truncated", GOOD + "power_watts,site=a,meter=facility value=", 2),
    ("truncated-field", GOOD + "power_watts,site=a,meter=facility val", 2),
    ("bad-escape", GOOD + "power_watts,site=a\\", 2),
    ("nan", GOOD + "power_watts,site=a,meter=x value=NaN 1", 2),
    ("inf", GOOD + "power_watts,site=a,meter=x value=-Inf 1", 2),
    ("huge-tag", GOOD + "m,site=a,t=" + "x" * 5000 + " v=1 1", 2),
    ("huge-line", GOOD + "m,site=a v=1," + ",".join(f"f{i}=1" for i in range(9000)), 2),
    ("wrong-type", GOOD + "power_watts,site=a,meter=x value=12abc 1", 2),
    ("bad-timestamp", GOOD + "power_watts,site=a,meter=x value=1 12:00", 2),
    ("float-timestamp", GOOD + "power_watts,site=a,meter=x value=1 1.7e18", 2),
    ("overflow-timestamp", GOOD + "power_watts,site=a,meter=x value=1 99999999999999999999", 2),
    ("negative-power", GOOD + "power_watts,site=a,meter=x value=-5 1", 2),
    ("ratio-above-one", GOOD + "utilisation_ratio,site=a,resource=cpu value=1.5 1", 2),
    ("label-not-allowed", GOOD + "power_watts,site=a,meter=x,colour=red value=1 1", 2),
    ("no-site", GOOD + "m,host=h v=1 1", 2),
    ("duplicate-tag", GOOD + "m,site=a,t=1,t=2 v=1 1", 2),
    ("many-bad", "x\n" + GOOD + "y\nz", 1),
]


@pytest.mark.parametrize(("case", "body", "line"), LINE_CASES, ids=[c[0] for c in LINE_CASES])
def test_bad_lines_reject_the_whole_request(
    small_server: Server, case: str, body: str, line: int
) -> None:
    before = _stored(small_server)
    with small_server.client("write") as client:
        answer = client.post("/api/v2/write", content=body.encode())
    assert answer.status_code == 400, (case, answer.text)
    error = answer.json()
    assert error["code"] == "invalid"
    assert error["line"] == line
    assert error["errors"][0]["line"] == line
    assert "nothing was stored" in error["message"]
    assert _stored(small_server) == before
    assert httpx.get(f"{small_server.url}/healthz").status_code == 200


def test_many_bad_lines_are_all_listed(small_server: Server) -> None:
    with small_server.client("write") as client:
        answer = client.post("/api/v2/write", content="x\n" + GOOD + "y\nz")
    assert [e["line"] for e in answer.json()["errors"]] == [1, 3, 4]


BODY_CASES = [
    ("not-gzip", GOOD.encode(), {"Content-Encoding": "gzip"}, 400),
    ("truncated-gzip", gzip.compress(GOOD.encode() * 50)[:-20], {"Content-Encoding": "gzip"}, 400),
    ("gzip-bomb", gzip.compress(b"0" * (LIMIT * 40)), {"Content-Encoding": "gzip"}, 413),
    ("too-big", b"#" * (LIMIT + 1), {}, 413),
    ("brotli", GOOD.encode(), {"Content-Encoding": "br"}, 415),
    ("not-utf8", GOOD.encode() + b"m,site=a v=\xff\xfe 1\n", {}, 400),
]


@pytest.mark.parametrize(
    ("case", "body", "headers", "status"), BODY_CASES, ids=[c[0] for c in BODY_CASES]
)
def test_bad_bodies(
    small_server: Server, case: str, body: bytes, headers: dict[str, str], status: int
) -> None:
    before = _stored(small_server)
    with small_server.client("write") as client:
        answer = client.post("/api/v2/write", content=body, headers=headers)
    assert answer.status_code == status, (case, answer.text)
    assert answer.json()["message"]
    assert _stored(small_server) == before
    assert httpx.get(f"{small_server.url}/healthz").status_code == 200


def test_bad_precision(small_server: Server) -> None:
    with small_server.client("write") as client:
        assert client.post("/api/v2/write?precision=m", content=GOOD).status_code == 400
        assert client.post("/write?precision=fortnight", content=GOOD).status_code == 400


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/v1/metrics", "text/plain"), ("/v1/metrics", None), ("/api/v1/write", "text/plain")],
)
def test_wrong_content_type_is_415(
    small_server: Server, path: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    with small_server.client("write") as client:
        answer = client.post(path, content=b"\x00\x01", headers=headers)
    assert answer.status_code == 415
    assert answer.json()["code"] == "unsupported media type"


def test_garbage_otlp_and_remote_write_are_400(small_server: Server) -> None:
    before = _stored(small_server)
    with small_server.client("write") as client:
        proto = {"Content-Type": "application/x-protobuf"}
        assert client.post("/v1/metrics", content=b"\xff\xff\xff", headers=proto).status_code == 400
        json_type = {"Content-Type": "application/json"}
        assert (
            client.post("/v1/metrics", content=b"{not json", headers=json_type).status_code == 400
        )
        snappy = {**proto, "Content-Encoding": "snappy"}
        assert client.post("/api/v1/write", content=b"garbage", headers=snappy).status_code == 400
    assert _stored(small_server) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v2/write"),
        ("POST", "/write"),
        ("POST", "/v1/metrics"),
        ("POST", "/api/v1/write"),
        ("GET", "/api/v1/query?metric=power_watts"),
        ("GET", "/api/v1/series"),
        ("GET", "/api/v1/kpi"),
    ],
)
def test_tokens_are_required(small_server: Server, method: str, path: str) -> None:
    url = small_server.url + path
    assert httpx.request(method, url, content=GOOD).status_code == 401
    bad = {"Authorization": "Token gw_nope_nope"}
    assert httpx.request(method, url, content=GOOD, headers=bad).status_code == 401
    wrong_scope = "read" if method == "POST" else "write"
    other = {"Authorization": f"Bearer {small_server.tokens[wrong_scope]}"}
    answer = httpx.request(method, url, content=GOOD, headers=other)
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"


def test_dashboard_and_health_stay_open(small_server: Server) -> None:
    assert httpx.get(f"{small_server.url}/healthz").status_code == 200
    assert httpx.get(f"{small_server.url}/readyz").status_code == 200
    assert httpx.get(f"{small_server.url}/").status_code == 200


def test_tokens_are_stored_hashed(small_server: Server) -> None:
    text = (small_server.data_dir / "tokens.json").read_text()
    for token in small_server.tokens.values():
        assert token not in text
        assert token.split("_", 2)[2] not in text
    assert oct(Path(small_server.data_dir / "tokens.json").stat().st_mode)[-3:] == "600"


def test_admin_token_does_everything(small_server: Server) -> None:
    with small_server.client("admin") as client:
        assert client.post("/api/v2/write", content=GOOD).status_code == 204
        assert client.get("/api/v1/series").status_code == 200


def test_a_failing_store_answers_503_and_acknowledges_nothing(server: Server) -> None:
    def broken(batch: object) -> int:
        raise RuntimeError("disk full")

    server.service.ingest._sink = broken  # the store behind the pipeline fails
    with server.client("write") as client:
        answer = client.post("/api/v2/write", content=GOOD)
    assert answer.status_code == 503  # agents and Telegraf retry a 5xx
    assert "retry" in answer.json()["message"]
    assert httpx.get(f"{server.url}/healthz").status_code == 200
