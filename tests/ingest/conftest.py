"""A running ``greenwatch serve`` (in-process, loopback, free port) with tokens of each scope."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from greenwatch.inventory import load_inventory
from greenwatch.service import Service
from greenwatch.service._tokens import TokenStore
from greenwatch.store import DuckDBStore
from tests.conftest import free_port

NOW = pd.Timestamp("2026-03-01T12:00:00Z")


@dataclass
class Server:
    """A started service, its store and one token per scope (``site`` has a default site)."""

    service: Service
    store: DuckDBStore
    tokens: dict[str, str]
    data_dir: Path

    @property
    def url(self) -> str:
        return self.service.url.rstrip("/")

    def client(self, scope: str = "write") -> httpx.Client:
        headers = {"Authorization": f"Token {self.tokens[scope]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def query(self, metric: str, **params: str) -> pd.DataFrame:
        """Raw samples of ``metric`` over all time through the read API."""
        with self.client("read") as client:
            answer = client.get(
                "/api/v1/query",
                params={"metric": metric, "start": "1970-01-01", "end": "2100-01-01", **params},
            )
        answer.raise_for_status()
        frame = pd.DataFrame(answer.json()["data"])
        if not frame.empty:
            frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        return frame


def start_server(
    data_dir: Path, port: int | None = None, tokens: dict[str, str] | None = None, **kwargs: object
) -> Server:
    """A service over ``data_dir``; new tokens unless ``tokens`` (already in the file)."""
    if tokens is None:
        store_tokens = TokenStore.for_data_dir(data_dir)
        tokens = {
            "write": store_tokens.create(["write"], "writer", any_site=True),
            "read": store_tokens.create(["read"], "reader"),
            "admin": store_tokens.create(["admin"], "admin"),
            "site": store_tokens.create(["write"], "centre", sites=["test-1"]),
        }
    store = DuckDBStore(data_dir / "greenwatch.duckdb")
    service = Service(
        store,
        load_inventory(),
        port=port or free_port(),
        clock=lambda: NOW,
        data_dir=data_dir,
        **kwargs,  # type: ignore[arg-type]
    )
    service.start()
    return Server(service, store, tokens, data_dir)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path)
    yield running
    running.service.stop()
