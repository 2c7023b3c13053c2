"""Tests of the computing-resource registry; :func:`serving` runs a real service on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from greenwatch.inventory import load_inventory
from greenwatch.service import Service
from greenwatch.service._tokens import TokenStore
from greenwatch.store import DuckDBStore

NOW = pd.Timestamp("2026-03-01T12:00:00Z")
SCOPES = ("read", "write", "admin")


def h100_pool(pool_id: str = "burst", count: int = 64, **more: Any) -> dict[str, Any]:
    """A pool of NVIDIA H100 SXM GPUs counted as AI computing power, as a client sends it."""
    return {"id": pool_id, "class": "ai", "model": "nvidia-h100-sxm", "count": count, **more}


def verification(**changes: Any) -> dict[str, Any]:
    """A verification record of guian-1's ``ai`` pool (1024 of its A800s, 0.75 x rated FP64
    peak) as a client sends it; a change to ``...`` drops the key."""
    record: dict[str, Any] = {
        "site": "guian-1",
        "pool": "ai",
        "benchmark": "hpl",
        "precision": "fp64",
        "measured_flops": 1.5e16,
        "devices": 1024,
        "passed": True,
    }
    return {k: v for k, v in {**record, **changes}.items() if v is not ...}


@dataclass
class Running:
    """A started service over ``data_dir`` with one token per scope, named ``<scope>-bot``."""

    service: Service
    tokens: dict[str, str]
    data_dir: Path

    @property
    def url(self) -> str:
        return self.service.url.rstrip("/")

    def client(self, scope: str | None) -> httpx.Client:
        """A client sending the token of ``scope`` (None: no token)."""
        headers = {"Authorization": f"Token {self.tokens[scope]}"} if scope else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@contextmanager
def serving(data_dir: Path) -> Iterator[Running]:
    """``greenwatch serve`` in-process on a free loopback port, clock fixed at :data:`NOW`."""
    store = TokenStore.for_data_dir(data_dir)
    tokens = {
        scope: store.create([scope], f"{scope}-bot", any_site=scope == "write") for scope in SCOPES
    }
    service = Service(
        DuckDBStore(":memory:"),
        load_inventory(),
        port=0,
        clock=lambda: NOW,
        data_dir=data_dir,
        alerting=False,
    )
    service.start()
    try:
        yield Running(service, tokens, data_dir)
    finally:
        service.stop()
