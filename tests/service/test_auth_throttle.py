"""429 after repeated token failures from one address; tokens in the URL only for InfluxDB v1,
and never in the logs. Through a real server on loopback (two client addresses: 127.0.0.1 and
127.0.0.2)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.ingest.conftest import Server, start_server

from greenwatch.export import ExportSettings
from greenwatch.model import FailureThrottle
from greenwatch.service._context import FAILURE_LIMIT


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, FakeClock]]:
    running = start_server(tmp_path, alerting=False)
    clock = FakeClock()
    running.service.context.throttle = FailureThrottle(FAILURE_LIMIT, 60.0, clock=clock)
    yield running, clock
    running.service.stop()


def _client(server: Server, source: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Token {token}"} if token else {}
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=server.url, headers=headers, transport=transport, timeout=30)


def test_repeated_failures_from_one_address_get_429(served: tuple[Server, FakeClock]) -> None:
    server, clock = served
    good = server.tokens["read"]
    with _client(server, "127.0.0.1", "gw_00000000_guess") as guesser:
        answers = [guesser.get("/api/v1/resources").status_code for _ in range(FAILURE_LIMIT)]
        assert answers == [401] * FAILURE_LIMIT
        locked = guesser.get("/api/v1/resources")
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 60
    assert "too many failed" in locked.json()["message"]
    # Now even the right token from that address waits (a guess that hits is no different) …
    with _client(server, "127.0.0.1", good) as same_address:
        assert same_address.get("/api/v1/resources").status_code == 429
        assert same_address.head("/api/v1/resources").status_code == 429
        assert same_address.post("/api/v2/write", content="").status_code == 429
        assert same_address.get("/healthz").status_code == 200  # open routes stay open
    # … while another client address is served …
    with _client(server, "127.0.0.2", good) as neighbour:
        assert neighbour.get("/api/v1/resources").status_code == 200
    # … and the address is let in again once the window has passed.
    clock.now += 61
    with _client(server, "127.0.0.1", good) as later:
        assert later.get("/api/v1/resources").status_code == 200


def test_the_throttle_table_is_bounded() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(limit=2, window_s=60, max_keys=100, clock=clock)
    for i in range(10_000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle) == 100
    throttle.failed("10.0.39.15")  # among the newest 100: now at 2 failures
    assert throttle.retry_after("10.0.39.15") == 60
    assert throttle.retry_after("10.0.0.1") is None  # forgotten first
    clock.now += 60
    assert throttle.retry_after("10.0.39.15") is None


def test_tokens_in_the_url_only_for_influx_v1_and_never_logged(
    served: tuple[Server, FakeClock], caplog: pytest.LogCaptureFixture
) -> None:
    server, _ = served
    token = server.tokens["write"]
    line = "power_watts,site=guian-1,meter=facility value=1000 1772366400000000000"
    caplog.set_level(logging.DEBUG)
    with _client(server, "127.0.0.1", None) as client:
        for params in ({"p": token}, {"u": "telegraf", "p": token}, {"token": token}):
            assert client.post("/write", params=params, content=line).status_code == 204
        bad = client.post("/write", params={"p": token}, content="power_watts value=oops")
        assert bad.status_code == 400
        for path in ("/api/v2/write", "/api/v1/resources", "/api/v1/kpi"):
            refused = client.request(
                "POST" if "write" in path else "GET", path, params={"token": token}
            )
            assert refused.status_code == 401, path
            assert "never in the URL" in refused.json()["message"]
        assert client.get("/metrics", params={"p": token}).status_code == 200  # open page
    # Everything the server logged (the test's own HTTP client logs its URLs: not ours).
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(r.getMessage() for r in server_side)
    assert token not in logged
    assert token[-20:] not in logged


def test_a_metrics_token_applies_to_head_and_options(tmp_path: Path) -> None:
    running = start_server(
        tmp_path, alerting=False, export=ExportSettings(refresh_s=None, metrics_token=True)
    )
    try:
        for page in ("/metrics", "/metrics/samples"):
            with _client(running, "127.0.0.1", None) as anonymous:
                for method in ("GET", "HEAD", "OPTIONS"):
                    assert anonymous.request(method, page).status_code == 401, (method, page)
            with _client(running, "127.0.0.1", running.tokens["read"]) as reader:
                for method in ("GET", "HEAD", "OPTIONS"):
                    assert reader.request(method, page).status_code == 200, (method, page)
    finally:
        running.service.stop()
