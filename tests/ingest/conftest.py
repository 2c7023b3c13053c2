"""A running ``greenwatch serve`` (in-process, loopback, free port) with tokens of each scope."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest

from greenwatch.ingest import BoundaryPolicy
from greenwatch.inventory import Inventory, load_inventory
from greenwatch.service import Service
from greenwatch.service._tokens import TokenStore
from greenwatch.store import DuckDBStore
from tests.conftest import free_port

NOW = pd.Timestamp("2026-03-01T12:00:00Z")
# The protocol tests write these sites besides the national network's (copies of guian-1),
# replay fixed timestamps and run real clients that stamp the wall clock, while the server's
# clock is NOW: their window is open. The boundary itself is tested with its defaults.
TEST_SITES = (
    "a", "b", "s", "s1", "x", "zz", "site", "test-1", "edge-1", "prom-1", "vmagent-1",
    "crash", "dflt", "big-1", "gpu-1", "gpu-site", "bmc-site", "otel-1",
)  # fmt: skip
OPEN_WINDOW = BoundaryPolicy(
    max_age=pd.Timedelta(days=365 * 60), max_future=pd.Timedelta(days=365 * 80)
)


def protocol_inventory() -> Inventory:
    """The national network plus :data:`TEST_SITES`."""
    national = load_inventory()
    model = next(s for s in national.sites if s.id == "guian-1")
    extra = [model.model_copy(update={"id": site, "name": site}) for site in TEST_SITES]
    return national.model_copy(update={"sites": [*national.sites, *extra]})


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
    options: dict[str, object] = {"boundary_policy": OPEN_WINDOW, "clock": lambda: NOW, **kwargs}
    inventory = options.pop("inventory", None) or protocol_inventory()
    service = Service(
        store,
        inventory,  # type: ignore[arg-type]
        port=port or free_port(),
        data_dir=data_dir,
        **options,  # type: ignore[arg-type]
    )
    service.start()
    return Server(service, store, tokens, data_dir)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start_server(tmp_path)
    yield running
    running.service.stop()
