"""Read commands next to a running server (issue #17 item 4): while ``greenwatch serve`` holds
the data directory's store, ``export``, ``alerts test``, ``energy`` and ``resources list`` with
only ``--data-dir`` ask that server and print what they print from the store with no server
running; a read changes nothing in the data directory, and a read of a directory holding no
store creates nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from tests.service.test_ops import gw, serving

from greenwatch.model import make_batch
from greenwatch.store import DuckDBStore

SITE = "zhangjiakou-1"
T0 = pd.Timestamp.now(tz="UTC").floor("h") - pd.Timedelta(hours=3)
END = T0 + pd.Timedelta(hours=2)
PERIOD = ["--start", T0.isoformat(), "--end", END.isoformat()]
READS = {
    "export lp": ["export", *PERIOD],
    "export csv": ["export", "--format", "csv", "--metric", "power_watts", *PERIOD],
    "energy table": ["energy", "--site", SITE, "--meter", "facility", *PERIOD],
    "energy json": ["energy", "--site", SITE, "--device", "gpu-0", "--format", "json", *PERIOD],
    "alerts test": ["alerts", "test", "national", "--at", END.isoformat()],
    "resources list": ["resources", "list", "--site", SITE],
    "resources show": ["resources", "show", SITE, "ai"],
}


def _seed(data: Path) -> None:
    """Two hours of facility and IT power, an energy counter and one GPU's power."""
    ts = pd.date_range(T0, END, freq="1min")
    seconds = (ts - T0).total_seconds().to_numpy()
    store = DuckDBStore(data / "greenwatch.duckdb", create=True)
    try:
        for meter, kw in (("facility", 220.0), ("it_input", 200.0)):
            labels = {"site": SITE, "meter": meter}
            store.write(make_batch(ts, "power_watts", np.full(len(ts), kw * 1e3), labels))
            store.write(make_batch(ts, "energy_joules_total", seconds * kw * 1e3, labels))
        gpu = {"site": SITE, "device": "gpu-0"}
        store.write(make_batch(ts, "device_power_watts", 500.0 + seconds % 7, gpu))
    finally:
        store.close()


def _contents(data: Path) -> dict[str, str]:
    return {
        str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data.rglob("*"))
        if p.is_file()
    }


def _files(data: Path) -> set[str]:
    """The files of a data directory a server runs on, less its store's journal: that comes
    and goes with the server's own writes (its background drawing of the dashboard keeps
    hourly rows), and only the server can open its store."""
    return set(_contents(data)) - {"greenwatch.duckdb.wal"}


def _without_timing(text: str) -> str:
    """Without what names the moment a process ran: how long ``alerts test``'s evaluation took
    and when the inventory's pools (version 0) were loaded."""
    varies = ('"evaluation_seconds"', "  v0  ")
    return "\n".join(line for line in text.splitlines() if not any(v in line for v in varies))


def test_read_commands_answer_the_same_through_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    _seed(data)
    alone = {}
    for name, argv in READS.items():
        before = _contents(data)
        done = gw(*argv, "--data-dir", str(data))
        assert done.returncode == 0, f"{name}: {done.stderr}"
        assert done.stdout.strip(), name
        assert _contents(data) == before, f"{name} changed the data directory"
        alone[name] = done
    with serving(data):
        for name, argv in READS.items():
            names = _files(data)
            done = gw(*argv, "--data-dir", str(data))
            assert done.returncode == 0, f"{name} next to the server: {done.stderr}"
            assert _without_timing(done.stdout) == _without_timing(alone[name].stdout), name
            assert done.stderr == alone[name].stderr, name
            assert _files(data) == names, f"{name} added files to the data directory"
        json_test = ["alerts", "test", "national", "--at", END.isoformat(), "--format", "json"]
        served = gw(*json_test, "--data-dir", str(data))
        assert served.returncode == 0, served.stderr
    local = gw(*json_test, "--data-dir", str(data))
    assert _without_timing(served.stdout) == _without_timing(local.stdout)


def test_a_read_of_a_directory_without_a_store_creates_nothing(tmp_path: Path) -> None:
    data = tmp_path / "none"
    for name, argv in READS.items():
        done = gw(*argv, "--data-dir", str(data))
        if name.startswith("resources"):  # the registry is optional: the inventory's pools
            assert done.returncode == 0, done.stderr
        else:
            assert done.returncode == 2, f"{name}: {done.stderr}"
            assert f"no store at {data}" in done.stderr, name
            assert "Traceback" not in done.stderr
        assert not data.exists(), f"{name} created {data}"
