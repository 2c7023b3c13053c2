"""``greenwatch serve --store victoriametrics``: the real command over a real VictoriaMetrics.

Three hours of the simulated network (three centres) are pushed as line protocol to the
running server; then every reader answers from the engine: the KPI API (the same figures as
the embedded store computes from the same samples, to 1e-9), the read API, ``/metrics`` and
the dashboard in real Chromium. A retried push stores nothing twice.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from tests.browser import chromium_page, open_dashboard, screenshot
from tests.conftest import free_port, wait_until
from tests.service.vm import engine

from greenwatch.ingest import encode_lines
from greenwatch.inventory import Scope, load_inventory
from greenwatch.query import kpi_answer
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

pytestmark = pytest.mark.integration
SITES = ("guian-1", "guian-2", "sc-shenzhen")
HOUR = pd.Timedelta(hours=1)


@dataclass
class Served:
    url: str
    vm: str
    token: str
    batch: pd.DataFrame
    end: pd.Timestamp  # the last whole hour's end

    def get(self, path: str, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=120)

    def push(self, lines: list[str], batch_id: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", "X-Greenwatch-Batch-Id": batch_id}
        body = "\n".join(lines).encode()
        return httpx.post(self.url + "/api/v2/write", content=body, headers=headers, timeout=120)


def simulated(now: pd.Timestamp) -> pd.DataFrame:
    """Three hours and a bit of three centres, ending a minute before ``now``."""
    start = now.floor("h") - 3 * HOUR
    batch = Simulator(load_inventory(), seed=3, start=start).advance(now.floor("min"))
    return batch[batch["site"].astype(str).isin(SITES)].reset_index(drop=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with engine(tmp_path_factory.mktemp("serve-vm")) as vm:
        token = vm.token
        with vm.serve("serve", "--kpi-refresh", "1") as url:
            now = pd.Timestamp.now(tz="UTC")
            batch = simulated(now)
            served = Served(url, vm.vm, token, batch, now.floor("h"))
            lines = encode_lines(batch)
            for i in range(0, len(lines), 20_000):
                answer = served.push(lines[i : i + 20_000], f"part-{i}")
                assert answer.status_code == 204, answer.text
            yield served


def test_kpis_agree_with_the_embedded_store(served: Served) -> None:
    inventory = load_inventory()
    embedded = DuckDBStore()
    embedded.write(served.batch)
    start, end = served.end - 2 * HOUR, served.end
    for scope in ("national", "site:guian-1", "site:sc-shenzhen"):
        answer = served.get(
            "/api/v1/kpi", scope=scope, start=start.isoformat(), end=end.isoformat()
        )
        assert answer.status_code == 200, answer.text
        (got,) = answer.json()["data"]
        (want,) = kpi_answer(embedded, inventory, "pue", Scope.parse(scope, inventory), start, end)
        assert got["value"] == pytest.approx(want.value, rel=1e-9)
        assert got["coverage"] == pytest.approx(want.coverage, rel=1e-9)
        for side in ("numerator", "denominator"):
            assert got["inputs"][side] == pytest.approx(want.inputs[side], rel=1e-9)
    embedded.close()


def test_a_retried_push_stores_once(served: Served) -> None:
    """The same samples again (an agent's retry after a lost response, another batch id):
    the engine keeps one per series and millisecond."""
    power = served.batch[served.batch["metric"] == "power_watts"].head(500)
    assert served.push(encode_lines(power), "retry-1").status_code == 204
    assert served.push(encode_lines(power), "retry-2").status_code == 204
    start = power["ts"].min().isoformat()
    end = (power["ts"].max() + pd.Timedelta(seconds=1)).isoformat()
    answer = served.get("/api/v1/query", metric="power_watts", start=start, end=end, site="guian-1")
    assert answer.status_code == 200, answer.text
    stored = pd.DataFrame(answer.json()["data"])
    mine = power[power["site"] == "guian-1"]
    assert len(stored) == len(mine)
    assert not stored.duplicated(["ts", "meter"]).any()


def test_metrics_page_and_series_come_from_the_engine(served: Served) -> None:
    pue = 'greenwatch_site_pue_1h_ratio{hub="guizhou",region="west",site="guian-1"}'
    wait_until(lambda: pue in served.get("/metrics").text, poll_s=0.5)  # the next snapshot
    series = served.get("/api/v1/series", metric="power_watts")
    assert {row["site"] for row in series.json()["data"]} == set(SITES)


def test_the_dashboard_renders_on_victoriametrics(served: Served) -> None:
    with chromium_page() as (page, log):
        open_dashboard(page, served.url + "/")
        rows = page.locator(".site-row")  # type: ignore[attr-defined]
        count = rows.count()
        guian = rows.filter(has_text="Gui'an Cluster DC 1").inner_text()
        screenshot(page, "overview-victoriametrics.png")
    assert count == len(load_inventory().sites)
    # Three of 42 centres pushed three hours: their own PUE is shown, the national one is not
    # (its coverage is under the minimum) — as on the embedded store.
    pue = re.search(r"\b1\.\d{3}\b", guian)
    assert pue is not None, guian
    assert 1.05 < float(pue.group()) < 1.6
    assert log.console_errors == []
    assert log.outside_loopback() == []


def serve(data_dir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``greenwatch serve`` on the VictoriaMetrics store, expected to stop at once."""
    args = [sys.executable, "-m", "greenwatch.cli", "serve", "--data-dir", str(data_dir)]
    args += ["--store", "victoriametrics", *options]
    return subprocess.run(args, check=False, capture_output=True, text=True, timeout=60)


def test_serve_refuses_a_victoriametrics_store_without_a_url(tmp_path: Path) -> None:
    done = serve(tmp_path)
    assert done.returncode == 2
    assert "--store-write-url" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_says_in_one_sentence_that_victoriametrics_is_unreachable(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    done = serve(tmp_path, "--store-write-url", dead)
    assert done.returncode == 1
    assert dead in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_a_missing_store_token_file_is_named(tmp_path: Path) -> None:
    absent = tmp_path / "absent.token"
    done = serve(
        tmp_path, "--store-write-url", "http://127.0.0.1:1", "--store-token-file", str(absent)
    )
    assert done.returncode == 2
    assert str(absent) in done.stderr
    assert "--store-token-file" in done.stderr
