"""A store that stops answering reads: /healthz says degraded with the reason, /readyz 503,
``greenwatch_store_up`` 0 on /metrics; all back to normal once reads succeed again."""

from __future__ import annotations

from pathlib import Path

import httpx
from tests.conftest import free_port

from greenwatch.inventory import load_inventory
from greenwatch.service import Service
from greenwatch.store import DuckDBStore, StoreUnavailableError


class FailingReads(DuckDBStore):
    """A real store whose reads can be made to fail, as a disk error would."""

    failing = False

    def probe(self) -> None:
        if self.failing:
            raise StoreUnavailableError(f"reading the store {self.path} failed: I/O error")
        super().probe()


def _store_up(url: str) -> str:
    page = httpx.get(f"{url}metrics").text
    return next(line for line in page.splitlines() if line.startswith("greenwatch_store_up "))


def test_a_failing_store_read_degrades_health_and_readiness(tmp_path: Path) -> None:
    store = FailingReads(tmp_path / "greenwatch.duckdb", memory_limit="256MiB")
    service = Service(store, load_inventory(), port=free_port(), data_dir=tmp_path, alerting=False)
    service.start()
    try:
        url = service.url
        assert httpx.get(f"{url}healthz").json() == {"status": "ok"}
        assert httpx.get(f"{url}readyz").status_code == 200
        assert _store_up(url) == "greenwatch_store_up 1.0"
        page = httpx.get(f"{url}metrics").text
        assert "greenwatch_store_memory_bytes " in page  # the embedded store's cache, in bytes
        assert "greenwatch_store_memory_limit_bytes 2.68435456e+08" in page
        store.failing = True
        reason = service.check_store()
        assert reason is not None
        assert "I/O error" in reason
        assert httpx.get(f"{url}healthz").json() == {"status": "degraded", "reason": reason}
        ready = httpx.get(f"{url}readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"] == reason
        assert _store_up(url) == "greenwatch_store_up 0.0"
        store.failing = False
        assert service.check_store() is None
        assert httpx.get(f"{url}readyz").status_code == 200
        assert _store_up(url) == "greenwatch_store_up 1.0"
    finally:
        service.stop()
