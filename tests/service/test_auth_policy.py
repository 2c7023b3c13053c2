"""Which scope each API route needs; anything that changes state needs at least write."""

from __future__ import annotations

import pytest

from greenwatch.service._auth import required_scope


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/api/v2/write", "write"),
        ("POST", "/write", "write"),
        ("POST", "/v1/metrics", "write"),
        ("POST", "/api/v1/write", "write"),
        ("GET", "/api/v1/kpi", "read"),
        ("GET", "/api/v1/alerts", "read"),
        ("POST", "/api/v1/alerts/abc/ack", "write"),
        ("POST", "/api/v1/silences", "write"),
        ("PUT", "/api/v1/silences/1", "write"),
        ("DELETE", "/api/v1/silences/1", "write"),
        ("HEAD", "/api/v1/kpi", "read"),
        ("OPTIONS", "/api/v1/alerts", "read"),
        ("GET", "/write", "write"),  # push routes: every method, then 405
        ("OPTIONS", "/v1/metrics", "write"),
        ("GET", "/api/v1/audit", "admin"),
        ("HEAD", "/api/v1/audit", "admin"),
        ("POST", "/api/v1/resources", "admin"),
        ("DELETE", "/api/v1/resources/guian-1/ai", "admin"),
        ("POST", "/api/v1/resources/verifications", "write"),
        ("GET", "/api/v1/resources/verifications", "read"),
        ("GET", "/api", "read"),
        ("GET", "/apiary", None),
        ("GET", "/", None),
        ("GET", "/healthz", None),
        ("GET", "/readyz", None),
    ],
)
def test_required_scope(method: str, path: str, scope: str | None) -> None:
    assert required_scope(method, path) == scope
