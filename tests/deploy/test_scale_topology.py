"""``deploy/scale_demo.py`` (``make scale-demo``): the scale-out topology from the Debian
binaries — VictoriaMetrics, vmauth in front of two ingest replicas, one ui,jobs process,
vmagent, vmalert and Alertmanager — started, fed through the ingest URL, and answering."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx
import pandas as pd
import pytest

from greenwatch.inventory import load_inventory
from greenwatch.simulate import Simulator
from tests.conftest import need_binary, wait_until
from tests.deploy.conftest import DEPLOY

pytestmark = pytest.mark.integration


def scale_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("scale_demo", DEPLOY / "scale_demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_demo"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    for name, path in scale_demo().BINARIES.items():
        need_binary(name if name != "alertmanager" else "prometheus-alertmanager", path)
    module = scale_demo()
    with module.Topology(tmp_path_factory.mktemp("scale")).start() as started:
        yield started


def get(topology: Any, url: str, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {topology.token}"}
    return httpx.get(url, params=params, headers=headers, timeout=60)


def test_pushes_through_the_ingest_url_reach_the_store_once(topology: Any) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("min")
    sim = Simulator(load_inventory(), seed=2, start=now - pd.Timedelta(minutes=30))
    batch = sim.advance(now)
    sent = topology.push(batch, "first")
    topology.push(batch, "again")  # a retry: vmauth may send it to the other replica
    assert sent == len(batch)
    guian = batch[(batch["site"] == "guian-1") & (batch["metric"] == "power_watts")]
    answer = get(
        topology,
        topology.url("ui") + "/api/v1/query",
        metric="power_watts",
        site="guian-1",
        start=(now - pd.Timedelta(minutes=30)).isoformat(),
        end=now.isoformat(),
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["data"]) == len(guian)
    logs = [(topology.work / f"ingest-{i}.log").read_text() for i in (1, 2)]
    assert all("Traceback" not in log for log in logs)


def test_the_dashboard_and_the_jobs_process_answer(topology: Any) -> None:
    assert httpx.get(topology.dashboard_url, timeout=60).status_code == 200
    assert httpx.get(topology.url("ingest-1") + "/", timeout=60).status_code == 404
    metrics = httpx.get(topology.url("ui") + "/metrics", timeout=60)
    assert metrics.status_code == 200


def test_vmagent_scrapes_the_jobs_process_into_victoriametrics(topology: Any) -> None:
    def scraped() -> bool:
        answer = httpx.get(
            topology.url("vm") + "/api/v1/query", params={"query": 'up{job="greenwatch"}'}
        ).json()
        return [r["value"][1] for r in answer["data"]["result"]] == ["1"]

    wait_until(scraped, poll_s=1.0)


def test_vmalert_loaded_the_exported_rules_and_reaches_alertmanager(topology: Any) -> None:
    groups = httpx.get(topology.url("vmalert") + "/api/v1/rules", timeout=30).json()
    rules = [r for g in groups["data"]["groups"] for r in g["rules"]]
    assert len(rules) >= 5
    assert all(r.get("lastError", "") == "" for r in rules), rules
    notifiers = httpx.get(topology.url("am") + "/api/v2/status", timeout=30)
    assert notifiers.status_code == 200
