"""The overview page in real Chromium against a running ``greenwatch serve`` with demo data."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from tests.browser import ARTIFACTS, chromium_page
from tests.conftest import free_port

from greenwatch.inventory import load_inventory
from greenwatch.service import Service, backfill
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

pytestmark = pytest.mark.integration
START = pd.Timestamp("2026-07-01T00:00:00Z")
END = START + pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    inventory = load_inventory()
    store = DuckDBStore(tmp_path_factory.mktemp("serve") / "greenwatch.duckdb")
    backfill(Simulator(inventory, seed=1, start=START), store.write, END)
    svc = Service(store, inventory, port=free_port(), clock=lambda: END)
    svc.start()
    yield svc
    svc.stop()


def test_overview_renders_every_site_offline(service: Service) -> None:
    with chromium_page() as (page, log):
        page.goto(service.url)  # type: ignore[attr-defined]
        page.wait_for_selector(".site-row", timeout=30_000)  # type: ignore[attr-defined]
        page.wait_for_function(  # type: ignore[attr-defined]
            "document.querySelectorAll('#national-map .scattergeo .point').length > 0",
            timeout=30_000,
        )
        page.wait_for_timeout(500)  # type: ignore[attr-defined]
        points = page.evaluate(  # type: ignore[attr-defined]
            "document.querySelectorAll('#national-map .scattergeo .point').length"
        )
        coast = page.evaluate(  # type: ignore[attr-defined]
            "document.querySelectorAll('#national-map .coastlines path, "
            "#national-map path.coastlines').length"
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)  # type: ignore[attr-defined]
        pue = page.inner_text("#tile-pue")  # type: ignore[attr-defined]
        rows = page.locator(".site-row").count()  # type: ignore[attr-defined]
    sites = len(service.inventory.sites)
    assert points == sites >= 35
    assert rows == sites
    assert coast >= 1, "the coastline layer did not draw (topojson not served?)"
    assert 1.05 < float(pue) < 1.6
    assert log.console_errors == []
    assert log.outside_loopback() == []


def test_health_endpoints(service: Service) -> None:
    import httpx

    assert httpx.get(service.url + "healthz").json() == {"status": "ok"}
    assert httpx.get(service.url + "readyz").status_code == 200
