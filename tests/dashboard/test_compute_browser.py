"""The computing-power page in real Chromium over a simulated day of the national network.

The dashboard is served by the production HTTP server on loopback, with a compute source (the
registry's, in the service) that adds 512 H100s at guian-1 of which collectors report 480, and
a failed benchmark for one pool. Chromium may reach 127.0.0.1 only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import flask
import numpy as np
import pandas as pd
import pytest
from tests.browser import Chromium, open_dashboard, screenshot
from tests.conftest import free_port

from greenwatch.dashboard import create_app
from greenwatch.inventory import ComputePool, load_inventory
from greenwatch.model import make_batch
from greenwatch.query import PoolsAndRecords, declared_pools
from greenwatch.resources import verification_frame
from greenwatch.service import backfill
from greenwatch.service._http import HttpServer
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

pytestmark = pytest.mark.integration
START = pd.Timestamp("2026-07-01T00:00:00Z")
END = START + pd.Timedelta(days=1)
H100 = ComputePool.model_validate(
    {"id": "h100", "class": "ai", "model": "nvidia-h100-sxm", "count": 512}
)
FLOPS = re.compile(r"^[0-9][0-9.,]* [EP]FLOPS$")
BLANK_PANELS = """[...document.querySelectorAll('.panel')].filter(p =>
    !p.querySelector('.main-svg') &&
    !(p.querySelector('.panel-body') || {innerText: ''}).innerText.trim()
).map(p => p.id)"""


def _records() -> pd.DataFrame:
    failed = (
        "zhongwei-2",
        "ai",
        "hpl-mxp",
        "fp16",
        np.nan,
        6000,
        False,
        END - pd.Timedelta(hours=2),
    )
    empty = verification_frame(())
    return pd.DataFrame([failed], columns=list(empty.columns)).astype(empty.dtypes.to_dict())


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    inventory = load_inventory()
    store = DuckDBStore(tmp_path_factory.mktemp("compute") / "greenwatch.duckdb")
    backfill(Simulator(inventory, seed=1, start=START), store.write, END)
    seen = pd.date_range(END - pd.Timedelta(minutes=10), END, freq="1min", inclusive="left")
    labels = {"site": "guian-1", "device_kind": "gpu", "model": "NVIDIA H100 80GB HBM3"}
    store.write(make_batch(seen, "compute_devices", 480.0, {**labels, "source": "h100-pod"}))
    pools, records = [*declared_pools(inventory), ("guian-1", H100)], _records()

    def registry() -> PoolsAndRecords:
        return pools, records

    server = flask.Flask("compute-test")
    create_app(store, inventory, clock=lambda: END, server=server, compute=registry)
    http = HttpServer(server, "127.0.0.1", free_port())
    http.start()
    yield f"http://127.0.0.1:{http.port}"
    http.stop()
    store.close()


def test_compute_page_shows_eflops_findings_chart_and_tables(url: str, browser: Chromium) -> None:
    with browser.page() as (page, log):
        open_dashboard(page, url + "/compute")
        page.wait_for_selector("#panel-compute-by-hub .barlayer .point", timeout=30_000)  # type: ignore[attr-defined]
        values = {
            tile: page.inner_text(f"#panel-compute-{tile} .tile-value")  # type: ignore[attr-defined]
            for tile in ("ai-rated", "ai-available", "ai-delivered", "general-rated", "sc-rated")
        }
        notes = page.locator(".tile .tile-note").all_inner_texts()  # type: ignore[attr-defined]
        per_watt = page.inner_text("#panel-compute-ai-efficiency .tile-value")  # type: ignore[attr-defined]
        west = page.inner_text("#panel-compute-ai-west .tile-value")  # type: ignore[attr-defined]
        findings = page.locator("#panel-compute-findings .finding-row").all_inner_texts()  # type: ignore[attr-defined]
        checks = page.locator("#panel-compute-findings .verification-row").all_inner_texts()  # type: ignore[attr-defined]
        bars = page.locator("#panel-compute-by-hub .barlayer .point").count()  # type: ignore[attr-defined]
        sites = page.locator("#panel-compute-sites .compute-row").count()  # type: ignore[attr-defined]
        nav = page.locator(".nav-link").all_inner_texts()  # type: ignore[attr-defined]
        blank = page.evaluate(BLANK_PANELS)  # type: ignore[attr-defined]
        shot = screenshot(page, "compute.png")
    assert all(FLOPS.match(v) for v in values.values()), values
    assert values["ai-rated"].endswith("EFLOPS")
    assert values["general-rated"].endswith("EFLOPS")
    assert len(notes) == 18
    assert all("coverage" in n or "identified" in n for n in notes), notes
    assert per_watt.endswith("GFLOPS/W")
    assert west.endswith("%")
    h100 = next(f for f in findings if "nvidia-h100-sxm" in f)
    assert "512" in h100
    assert "480" in h100
    assert "-32" in h100
    assert "missing" in h100
    assert "failed" in checks[0]
    assert "Zhongwei" in checks[0]
    assert bars >= 2 * 10  # rated and available per hub (and outside hubs), three classes
    assert sites >= len(load_inventory().sites)
    assert nav.index("Computing power") == nav.index("National overview") + 1
    assert blank == []
    assert log.console_errors == []
    assert log.outside_loopback() == []
    assert shot.stat().st_size > 50_000


def test_site_page_shows_its_pools_and_free_flops_for_placement(
    url: str, browser: Chromium
) -> None:
    with browser.page() as (page, log):
        open_dashboard(page, url + "/site/guian-1")
        pools = page.locator("#panel-site-pools .compute-row").all_inner_texts()  # type: ignore[attr-defined]
        head = page.locator("#panel-site-placement th").all_inner_texts()  # type: ignore[attr-defined]
        intro = page.inner_text("#panel-site-placement .small")  # type: ignore[attr-defined]
        blank = page.evaluate(BLANK_PANELS)  # type: ignore[attr-defined]
    assert len(pools) == 3
    assert "h100" in pools[2]
    assert "94%" in pools[2]  # 480 of 512 seen
    assert "free PFLOPS" in head
    assert "50 PFLOPS AI (FP16)" in intro
    assert blank == []
    assert log.console_errors == []
