"""``/api/v1/resources`` on a running service over loopback: scopes, validation, history, races."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from greenwatch.inventory import load_inventory
from greenwatch.resources import ResourceRegistry
from greenwatch.service._auth import required_scope
from tests.resources import NOW, Running, h100_pool, serving, verification

SITE = "guian-1"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    with serving(tmp_path) as running:
        yield running


def _register(server: Running, body: dict[str, Any], scope: str | None = "admin") -> Any:
    with server.client(scope) as client:
        return client.post("/api/v1/resources", json=body)


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/api/v1/resources", "admin"),
        ("DELETE", "/api/v1/resources/guian-1/ai", "admin"),
        ("GET", "/api/v1/resources", "read"),
        ("GET", "/api/v1/resources/guian-1/ai", "read"),
        ("POST", "/api/v1/resources/verifications", "write"),
        ("GET", "/api/v1/resources/verifications", "read"),
    ],
)
def test_required_scope(method: str, path: str, scope: str) -> None:
    assert required_scope(method, path) == scope


def test_registration_round_trip(server: Running) -> None:
    made = _register(server, {"site": SITE, "pool": h100_pool(in_service="2026-02-01")})
    assert made.status_code == 201, made.text
    pool = {
        "id": "burst",
        "class": "ai",
        "model": "nvidia-h100-sxm",
        "count": 64,
        "nodes": None,
        "memory_bytes": None,
        "storage_bytes": None,
        "in_service": "2026-02-01",
        "retired": None,
        "source": None,
    }
    expected = {
        "site": SITE,
        "hub": "guizhou",
        "region": "west",
        "pool": pool,
        "version": 1,
        "registered_by": "admin-bot",
        "registered_at": NOW.isoformat(),
        "removed": False,
        "precision": "fp16",
        "rated_flops": pytest.approx(64 * 9.894e14),
    }
    assert made.json() == expected
    with server.client("read") as client:
        listed = client.get("/api/v1/resources", params={"site": SITE}).json()["pools"]
        assert [p["pool"]["id"] for p in listed] == ["ai", "burst", "general"]
        assert listed[1] == expected
        assert listed[0]["registered_by"] == "inventory"
        ai = client.get("/api/v1/resources", params={"class": "ai", "hub": "guizhou"}).json()
        assert {p["pool"]["class"] for p in ai["pools"]} == {"ai"}
        assert {p["hub"] for p in ai["pools"]} == {"guizhou"}
        east = client.get("/api/v1/resources", params={"region": "east"}).json()["pools"]
        assert east
        assert {p["region"] for p in east} == {"east"}
        shown = client.get(f"/api/v1/resources/{SITE}/burst").json()
    history = shown.pop("history")
    assert shown == expected
    assert [(v["version"], v["registered_by"], v["pool"]) for v in history] == [
        (1, "admin-bot", pool)
    ]
    # The registry is DATA_DIR/resources.sqlite, which another process may open meanwhile.
    with ResourceRegistry(server.data_dir / "resources.sqlite", load_inventory()) as registry:
        again = registry.get(SITE, "burst")
    assert again is not None
    assert again.registered_by == "admin-bot"


def test_scopes(server: Running) -> None:
    body = {"site": SITE, "pool": h100_pool()}
    assert _register(server, body, scope=None).status_code == 401
    assert _register(server, body, scope="read").status_code == 403
    refused = _register(server, body, scope="write")
    assert refused.status_code == 403
    assert "admin" in refused.json()["message"]
    assert _register(server, body, scope="admin").status_code == 201
    with server.client("read") as client:
        assert client.get("/api/v1/resources").status_code == 200
        assert client.get(f"/api/v1/resources/{SITE}/burst").status_code == 200
        assert client.delete(f"/api/v1/resources/{SITE}/burst").status_code == 403
    with server.client("write") as client:
        assert client.delete(f"/api/v1/resources/{SITE}/burst").status_code == 403
        posted = client.post(
            "/api/v1/resources/verifications",
            json={
                "site": SITE,
                "pool": "burst",
                "benchmark": "probe",
                "precision": "fp16",
                "devices": 64,
                "passed": True,
            },
        )
        assert posted.status_code == 201, posted.text
        assert posted.json()["recorded_by"] == "write-bot"
    with server.client(None) as client:
        assert client.get("/api/v1/resources").status_code == 401


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"site": SITE, "pool": h100_pool(count=0)}, "pool.count"),
        ({"site": SITE, "pool": h100_pool(count=7.5)}, "pool.count"),
        ({"site": SITE, "pool": h100_pool(count=1_000_000)}, "pool.count"),
        ({"site": SITE, "pool": h100_pool(model="nvidia-b999")}, "pool.model"),
        ({"site": SITE, "pool": h100_pool(gpus=8)}, "pool.gpus"),
        ({"site": SITE, "pool": {"id": "burst"}}, "pool.model"),
        ({"site": "atlantis-1", "pool": h100_pool()}, "site"),
        ({"pool": h100_pool()}, "site"),
        ({"site": SITE, "pool": "burst"}, "pool"),
        ({"site": SITE, "pool": h100_pool(), "expected_version": "1"}, "expected_version"),
        ({"site": SITE, "pool": h100_pool(), "pools": []}, "pools"),
    ],
)
def test_invalid_registrations_are_400_naming_the_key(
    server: Running, body: dict[str, Any], key: str
) -> None:
    answer = _register(server, body)
    assert answer.status_code == 400, answer.text
    reply = answer.json()
    assert reply["code"] == "invalid"
    assert key in {p["key"] for p in reply["problems"]}, reply
    assert key in reply["message"]
    with server.client("read") as client:
        assert client.get(f"/api/v1/resources/{SITE}/burst").status_code == 404


def test_a_body_that_is_not_json_is_400(server: Running) -> None:
    with server.client("admin") as client:
        answer = client.post(
            "/api/v1/resources", content=b"site: guian-1", headers={"Content-Type": "text/yaml"}
        )
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("send a JSON object")


def test_history_idempotence_and_conflicts(server: Running) -> None:
    with server.client("read") as client:
        declared = client.get(f"/api/v1/resources/{SITE}/ai").json()
    assert [v["version"] for v in declared["history"]] == [0]
    smaller = {**declared["pool"], "count": declared["pool"]["count"] - 1000}
    first = _register(server, {"site": SITE, "pool": smaller, "expected_version": 0})
    assert first.status_code == 201
    assert first.json()["version"] == 1
    same = _register(server, {"site": SITE, "pool": smaller, "expected_version": 0})
    assert same.status_code == 200  # unchanged: a retry stores nothing
    assert same.json() == first.json()
    stale = _register(
        server, {"site": SITE, "pool": {**smaller, "count": 10}, "expected_version": 0}
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "conflict"
    assert stale.json()["current_version"] == 1
    with server.client("read") as client:
        shown = client.get(f"/api/v1/resources/{SITE}/ai").json()
    assert [(v["version"], v["registered_by"], v["pool"]["count"]) for v in shown["history"]] == [
        (0, "inventory", declared["pool"]["count"]),
        (1, "admin-bot", smaller["count"]),
    ]
    assert shown["history"][1]["registered_at"] == NOW.isoformat()


def test_remove_and_unknown_pools(server: Running) -> None:
    _register(server, {"site": SITE, "pool": h100_pool()})
    with server.client("admin") as client:
        removed = client.delete(f"/api/v1/resources/{SITE}/burst")
        assert removed.status_code == 200
        assert (removed.json()["version"], removed.json()["removed"]) == (2, True)
        assert client.delete(f"/api/v1/resources/{SITE}/burst").status_code == 404
        assert client.delete(f"/api/v1/resources/{SITE}/nothing").status_code == 404
        listed = client.get("/api/v1/resources", params={"site": SITE}).json()["pools"]
        assert "burst" not in {p["pool"]["id"] for p in listed}
        shown = client.get(f"/api/v1/resources/{SITE}/burst").json()
        assert shown["removed"] is True
        assert [v["removed"] for v in shown["history"]] == [False, True]
        missing = client.get("/api/v1/resources/atlantis-1/burst")
        assert missing.status_code == 404
        assert missing.json()["code"] == "not found"


def test_verifications(server: Running) -> None:
    record = verification(at="2026-03-01T11:00:00Z", detail="job 4711")
    with server.client("write") as client:
        made = client.post("/api/v1/resources/verifications", json=record)
        assert made.status_code == 201, made.text
        assert made.json() == {
            **record,
            "at": "2026-03-01T11:00:00+00:00",
            "recorded_by": "write-bot",
        }
        now = client.post(
            "/api/v1/resources/verifications",
            json={**record, "pool": "general", "at": None, "devices": 10**7},
        )
        assert now.status_code == 400
        assert {p["key"] for p in now.json()["problems"]} == {"devices"}
        assert client.post("/api/v1/resources/verifications", content=b"x").status_code == 400
    with server.client("read") as client:
        listed = client.get("/api/v1/resources/verifications", params={"pool": "ai"}).json()
        assert listed == {"verifications": [made.json()]}
        other = client.get("/api/v1/resources/verifications", params={"site": "wuhu-1"})
        assert other.json() == {"verifications": []}


def test_concurrent_registrations_lose_nothing(server: Running) -> None:
    failures: list[str] = []

    def register(first: int) -> None:
        with server.client("admin") as client:
            for count in range(first, first + 25):
                body = {"site": SITE, "pool": h100_pool(count=count)}
                answer = client.post("/api/v1/resources", json=body)
                if answer.status_code != 201:
                    failures.append(answer.text)

    threads = [threading.Thread(target=register, args=(1 + 25 * i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with server.client("read") as client:
        history = client.get(f"/api/v1/resources/{SITE}/burst").json()["history"]
    assert [v["version"] for v in history] == list(range(1, 201))
    assert sorted(v["pool"]["count"] for v in history) == list(range(1, 201))
