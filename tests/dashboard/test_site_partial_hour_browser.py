"""The site page at the start of an hour: the running hour is drawn as partial, never as a drop.

A service whose clock is fixed 7 minutes after the hour, over a simulated day of two sites up
to that instant; real Chromium renders ``/site/guian-1`` (screenshot in test-artifacts/). The
charts' data are read back from the page: the running hour's mean power is that of the minutes
it has, close to the hour before, and its point is marked as partial.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from tests.browser import Chromium, open_dashboard, screenshot
from tests.conftest import free_port

from greenwatch.inventory import Inventory, load_inventory
from greenwatch.service import Service
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

pytestmark = pytest.mark.integration
NOW = pd.Timestamp("2026-07-01T10:07:00Z")
SITES = ("guian-1", "guian-2")
# Plotly's data of one panel's chart: name, x and y of every trace.
TRACES = """(panel) => {
    const gd = document.querySelector(`#panel-site-${panel} .js-plotly-plot`);
    return gd._fullData.map(t => ({
        name: t.name, x: Array.from(t.x), y: Array.from(t.y), dash: (t.line || {}).dash || null
    }));
}"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    national = load_inventory()
    inventory = Inventory(
        sites=tuple(s for s in national.sites if s.id in SITES),
        links=tuple(lk for lk in national.links if lk.a in SITES and lk.b in SITES),
    )
    data = tmp_path_factory.mktemp("partial")
    store = DuckDBStore(data / "greenwatch.duckdb")
    sim = Simulator(inventory, seed=2, start=NOW - pd.Timedelta(days=1))
    store.write(sim.advance(NOW))
    service = Service(store, inventory, port=free_port(), clock=lambda: NOW, data_dir=data)
    service.start()
    yield service.url.rstrip("/")
    service.stop()


def _at(trace: dict[str, list[object]], hour: pd.Timestamp) -> float:
    for x, y in zip(trace["x"], trace["y"], strict=True):
        if pd.Timestamp(str(x)).tz_localize(None) == hour.tz_localize(None):
            return float(str(y))
    raise AssertionError(f"no point at {hour} in {trace['name']}")


def test_the_running_hour_is_drawn_as_partial_not_as_a_drop(served: str, browser: Chromium) -> None:
    with browser.page() as (page, log):
        open_dashboard(page, f"{served}/site/guian-1?period=24h")
        shot = screenshot(page, "site-start-of-hour.png")
        power = page.evaluate(TRACES, "power")  # type: ignore[attr-defined]
        utilisation = page.evaluate(TRACES, "utilisation")  # type: ignore[attr-defined]
    assert shot.stat().st_size > 50_000
    assert not log.console_errors
    running, before = NOW.floor("h"), NOW.floor("h") - pd.Timedelta(hours=1)
    traces = {t["name"]: t for t in power}
    it, it_so_far = traces["IT equipment"], traces["IT equipment (running hour, partial)"]
    assert max(pd.Timestamp(str(x)) for x in it["x"]) == before.tz_localize(None)
    assert _at(it_so_far, running) == pytest.approx(_at(it, before), rel=0.1)
    partial = [t for t in power if str(t["name"]).endswith("(running hour, partial)")]
    assert {t["dash"] for t in partial} == {"dot"}
    cpu = next(t for t in utilisation if t["name"] == "cpu (running hour, partial)")
    assert cpu["dash"] == "dot"
    assert _at(cpu, running) == pytest.approx(_at(cpu, before), rel=0.2)
