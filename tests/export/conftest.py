"""A small simulated network (three sites in two hubs, one link, 26 hours at 1 minute) in a
DuckDB file, and helpers to serve it with a fixed clock."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from greenwatch.export import ExportSettings
from greenwatch.inventory import Inventory, Link, Location, Site, Targets
from greenwatch.service import Service, backfill
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore
from tests.conftest import free_port

START = pd.Timestamp("2026-06-01T00:00:00Z")
T_END = START + pd.Timedelta(hours=26)  # the services' fixed clock; windows end here


def _site(sid: str, hub: str, region: str, lat: float, kw: float, cat: int, prov: str) -> Site:
    return Site(
        id=sid,
        name=sid,
        kind="hub_cluster",
        hub=hub,
        region=region,
        province=prov,
        location=Location(lat=lat, lon=110.0),
        it_capacity_kw=kw,
        pue_category=cat,
        targets=Targets(pue=1.25),
    )


NETWORK = Inventory(
    sites=(
        _site("guian-1", "guizhou", "west", 26.4, 20000, 2, "Guizhou"),
        _site("guian-2", "guizhou", "west", 26.5, 8000, 1, "Guizhou"),
        _site("wuhu-1", "yangtze-delta", "east", 31.3, 12000, 3, "Anhui"),
    ),
    links=(Link(id="guian-1--wuhu-1", a="guian-1", b="wuhu-1", capacity_bps=4e11),),
)


@pytest.fixture(scope="session")
def network_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The network as an inventory YAML (for ``--inventory``)."""
    path = tmp_path_factory.mktemp("inventory") / "network.yaml"
    path.write_text(yaml.safe_dump(NETWORK.model_dump(mode="json")), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def simulated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """26 simulated hours of the network in a DuckDB file (copy it before serving it)."""
    path = tmp_path_factory.mktemp("simulated") / "greenwatch.duckdb"
    store = DuckDBStore(path)
    backfill(Simulator(NETWORK, seed=1, start=START), store.write, T_END)
    store.close()
    return path


@pytest.fixture
def data_dir(tmp_path: Path, simulated_db: Path) -> Path:
    """A data directory of its own holding a copy of the simulated store."""
    out = tmp_path / "data"
    out.mkdir()
    shutil.copy(simulated_db, out / "greenwatch.duckdb")
    return out


def wait_for_snapshot(service: Service, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while service.exports.snapshot is None:
        assert time.monotonic() < deadline, "no KPI snapshot within the timeout"
        time.sleep(0.05)


def serve(data_dir: Path, export: ExportSettings | None = None, **kw: object) -> Service:
    """A started service over ``data_dir`` with the clock fixed at :data:`T_END`."""
    service = Service(
        DuckDBStore(data_dir / "greenwatch.duckdb"),
        NETWORK,
        port=free_port(),
        clock=lambda: T_END,
        data_dir=data_dir,
        export=export or ExportSettings(refresh_s=3600),
        **kw,  # type: ignore[arg-type]
    )
    service.start()
    return service


@pytest.fixture
def service(data_dir: Path) -> Iterator[Service]:
    """A running service with its first KPI snapshot taken."""
    running = serve(data_dir)
    try:
        wait_for_snapshot(running)
        yield running
    finally:
        running.stop()
