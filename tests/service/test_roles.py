"""``serve --role``: ingest replicas, a ui and a jobs process over one VictoriaMetrics.

The topology of ``deploy/scale-out.md``, from the real command: two ``--role ingest``
replicas and one ``--role ui,jobs`` process share a data directory (tokens) and a
VictoriaMetrics. Each serves only its role's routes; an agent's retry that lands on the other
replica is stored once; only the ui process is where local commands are sent.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from tests.conftest import free_port
from tests.service.vm import engine

from greenwatch.cli._args.core import ROLES as CLI_ROLES
from greenwatch.ingest import encode_lines
from greenwatch.inventory import load_inventory
from greenwatch.model import make_batch
from greenwatch.service import Service
from greenwatch.service._local import SERVER_FILE
from greenwatch.service._serve import ROLES
from greenwatch.store import DuckDBStore

pytestmark = pytest.mark.integration


@dataclass
class Topology:
    ingest: list[str]
    ui: str
    token: str
    data: Path

    def call(self, method: str, url: str, body: bytes = b"", **headers: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **headers}
        return httpx.request(method, url, content=body, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with engine(tmp_path_factory.mktemp("roles")) as vm, ExitStack() as stack:
        urls = [
            stack.enter_context(vm.serve(f"serve-{i}", "--role", role))
            for i, role in enumerate(("ingest", "ingest", "ui,jobs"))
        ]
        yield Topology(urls[:2], urls[2], vm.token, vm.data)


def test_each_role_serves_its_own_routes(topology: Topology) -> None:
    ingest, ui = topology.ingest[0], topology.ui
    for url in (ingest, ui):
        assert topology.call("GET", url + "/readyz").status_code == 200
    assert topology.call("GET", ingest + "/").status_code == 404  # no dashboard
    assert topology.call("GET", ingest + "/api/v1/kpi").status_code == 404
    assert topology.call("GET", ingest + "/metrics").status_code == 404
    assert topology.call("POST", ui + "/api/v2/write", b"x").status_code in (404, 405)
    assert topology.call("GET", ui + "/").status_code == 200
    assert topology.call("GET", ui + "/api/v1/alerts").status_code == 200  # the jobs' API
    assert topology.call("GET", ui + "/metrics").status_code == 200


def test_a_retry_landing_on_the_other_replica_is_stored_once(topology: Topology) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("min")
    times = pd.date_range(now - pd.Timedelta(minutes=30), now, freq="1min", inclusive="left")
    batch = make_batch(times, "power_watts", 4e6, {"site": "guian-1", "meter": "facility"})
    body = "\n".join(encode_lines(batch)).encode()
    for url in topology.ingest:  # the first answer was lost; the agent retries elsewhere
        answer = topology.call(
            "POST", url + "/api/v2/write", body, **{"X-Greenwatch-Batch-Id": "b1"}
        )
        assert answer.status_code == 204, answer.text
    params = {"metric": "power_watts", "site": "guian-1", "start": "-1h", "end": "now"}
    got = httpx.get(
        topology.ui + "/api/v1/query",
        params=params,
        headers={"Authorization": f"Bearer {topology.token}"},
        timeout=60,
    ).json()["data"]
    assert len(got) == 30


def test_only_the_ui_process_is_where_local_commands_go(topology: Topology) -> None:
    published = (topology.data / SERVER_FILE).read_text()
    assert topology.ui in published


def test_the_command_line_and_the_service_name_the_same_roles() -> None:
    assert CLI_ROLES == ROLES


def test_an_ingest_replica_runs_no_jobs_and_a_jobs_process_runs_them() -> None:
    inventory = load_inventory()
    ingest = Service(DuckDBStore(), inventory, port=free_port(), roles=frozenset({"ingest"}))
    jobs = Service(DuckDBStore(), inventory, port=free_port(), roles=frozenset({"jobs"}))
    for service in (ingest, jobs):
        service.start()
    try:
        assert [job.id for job in ingest.scheduler.get_jobs()] == ["store-probe"]
        assert ingest.alerts is None
        assert {"store-probe", "retention", "alerts"} <= {j.id for j in jobs.scheduler.get_jobs()}
        assert jobs.alerts is not None
    finally:
        for service in (ingest, jobs):
            service.stop()


def test_unknown_roles_are_refused(tmp_path: Path) -> None:
    args = [sys.executable, "-m", "greenwatch.cli", "serve", "--data-dir", str(tmp_path)]
    done = subprocess.run(
        [*args, "--role", "ingest,dashboard"], check=False, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "--role" in done.stderr
    assert "ingest, ui, jobs" in done.stderr
