"""Ingest benchmark: line protocol into greenwatch's embedded store vs into VictoriaMetrics.

The same line-protocol batches (the simulated national network, canonical names, 1-minute
samples) are POSTed to ``/api/v2/write`` of a ``greenwatch serve`` subprocess (parse, map,
validate, idempotent DuckDB write with roll-ups, then 204) and of a ``victoria-metrics``
subprocess from the same client (``--clients`` connections), in the same run. Prints samples/s
for each, the ratio greenwatch / VictoriaMetrics (goal ≥ 1.0×) and each server's peak RSS.
VictoriaMetrics answers 204 once the samples are in its in-memory buffers; greenwatch once
they are committed to the DuckDB file — a stricter promise. Also prints the parse rate of
greenwatch's vectorised parser and, if installed, of the PyPI ``line-protocol-parser``, and
what the ingest boundary's checks (time window, sites, vocabularies, site power, control
characters, typed fields) cost: their time on one request, in process, as a share of that
request's whole push (parse, map, check, store into DuckDB) — the goal is under 10 %.

Usage: python bench/ingest.py [--hours H] [--batch LINES]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pandas as pd

from _peers import free_port, server
from greenwatch.ingest import (
    Boundary,
    Ingest,
    InventorySites,
    Mapper,
    Push,
    default_profiles,
    encode_lines,
    parse_lines,
)
from greenwatch.ingest._mapping import to_batch
from greenwatch.inventory import load_inventory
from greenwatch.model import validate_batch
from greenwatch.service._tokens import TokenStore
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

# Recent data: older samples would be refused by the boundary's 400-day window.
START = pd.Timestamp.now(tz="UTC").floor("D") - pd.Timedelta(days=3)


def peak_rss_mib(pid: int) -> float:
    """Peak resident set size of a process (VmHWM), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def post_all(url: str, token: str | None, batches: list[bytes], clients: int) -> float:
    """POST every batch over ``clients`` connections; seconds until the last answer."""
    headers = {"Authorization": f"Token {token}"} if token else {}
    pending = list(reversed(batches))
    lock = threading.Lock()
    failures: list[str] = []

    def run() -> None:
        with httpx.Client(timeout=300, headers=headers) as client:
            while True:
                with lock:
                    if not pending:
                        return
                    body = pending.pop()
                answer = client.post(
                    f"{url}/api/v2/write", params={"precision": "ns"}, content=body
                )
                if answer.status_code != 204:
                    failures.append(f"{url}: HTTP {answer.status_code}: {answer.text[:300]}")
                    return

    threads = [threading.Thread(target=run) for _ in range(clients)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(failures[0])
    return time.perf_counter() - t0


def make_batches(hours: int, lines_per_batch: int) -> tuple[list[bytes], int]:
    sim = Simulator(load_inventory(), seed=0, start=START)
    frame = sim.advance(START + pd.Timedelta(hours=hours), pd.Timedelta(minutes=1))
    lines = encode_lines(frame)
    batches = [
        "\n".join(lines[i : i + lines_per_batch]).encode("utf-8")
        for i in range(0, len(lines), lines_per_batch)
    ]
    return batches, len(lines)


def _best(run: Callable[[], object], repeat: int = 3) -> float:
    """Fastest of ``repeat`` runs, seconds (the machine is shared: take the least disturbed)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def parse_rates(batches: list[bytes]) -> None:
    text = batches[0].decode("utf-8")
    n = text.count("\n") + 1
    ours = n / _best(lambda: parse_lines(text, "ns", 0))
    print(f"parse, greenwatch (Arrow/RE2, columnar):  {ours:12,.0f} lines/s")
    try:
        import line_protocol_parser  # type: ignore[import-not-found]
    except ImportError:
        print("parse, line-protocol-parser (PyPI):       not installed")
        return
    theirs = n / _best(lambda: [line_protocol_parser.parse_line(x) for x in text.splitlines()])
    print(f"parse, line-protocol-parser (a dict/line): {theirs:12,.0f} lines/s")


def boundary_share(batches: list[bytes]) -> None:
    """The boundary checks' time on one request vs that request's whole push, in process."""
    text = batches[0].decode("utf-8")
    mapper = Mapper(default_profiles())
    boundary = Boundary(InventorySites(load_inventory()))
    parsed = parse_lines(text, "ns", 0)
    rows = parsed.rows.rename(columns={"line": "ref"})
    result = to_batch(mapper, "influx", parsed.series, rows, None)
    now = pd.Timestamp.now(tz="UTC")
    check_s = _best(lambda: boundary.check(result.batch, result.refs, now), repeat=5)
    # Label hygiene and typed fields run once per series while mapping: a fresh mapper maps
    # every series anew, so the mapping time below includes them.
    map_s = _best(lambda: to_batch(Mapper(mapper.profiles), "influx", parsed.series, rows, None))
    stores: list[DuckDBStore] = []

    def push_once() -> None:
        store = DuckDBStore(":memory:")
        stores.append(store)
        Push(Ingest(store.write), mapper, boundary=boundary).influx(text)

    push_s = _best(push_once)
    for store in stores:
        store.close()
    print(
        f"boundary checks on one request of {rows.shape[0]:,} samples: {check_s * 1e3:.1f} ms "
        f"= {check_s / push_s:.1%} of its push ({push_s * 1e3:.0f} ms in process; "
        f"mapping incl. per-series label checks {map_s * 1e3:.0f} ms) (goal < 10 %)"
    )


def stage_costs(batches: list[bytes]) -> None:
    """CPU per request of each stage of a push, in process, over consecutive requests (the
    store a DuckDB file as ``serve`` keeps it): where the time goes, and the rate each stage
    alone would allow on one core. The store write is the part a write-ahead log with a
    background merger would take off the request."""
    mapper = Mapper(default_profiles())
    boundary = Boundary(InventorySites(load_inventory()))
    now = pd.Timestamp.now(tz="UTC")
    cpu = dict.fromkeys(("parse", "map", "boundary", "validate", "store write"), 0.0)
    lines = 0
    with tempfile.TemporaryDirectory() as tmp:
        store = DuckDBStore(Path(tmp) / "stages.duckdb")
        for body in batches:
            clock = time.process_time()
            parsed = parse_lines(body.decode("utf-8"), "ns", 0)
            rows = parsed.rows.rename(columns={"line": "ref"})
            result = to_batch(mapper, "influx", parsed.series, rows, None)
            after_map = time.process_time()
            checked = boundary.check(result.batch, result.refs, now)
            after_check = time.process_time()
            batch = validate_batch(checked.batch)
            after_validate = time.process_time()
            store.write(batch)
            end = time.process_time()
            lines += len(batch)
            # parsing and mapping split by a second parse (the first also warms caches)
            t0 = time.process_time()
            parse_lines(body.decode("utf-8"), "ns", 0)
            parse_s = time.process_time() - t0
            cpu["parse"] += parse_s
            cpu["map"] += max(after_map - clock - parse_s, 0.0)
            cpu["boundary"] += after_check - after_map
            cpu["validate"] += after_validate - after_check
            cpu["store write"] += end - after_validate
        store.close()
    per = lines / len(batches)
    total = sum(cpu.values())
    print(
        f"CPU per request of {per:,.0f} lines, by stage (process time, DuckDB's threads included):"
    )
    for stage, seconds in cpu.items():
        ms = seconds / len(batches) * 1e3
        print(
            f"  {stage:<12} {ms:7.1f} ms  {seconds / total:6.1%}  "
            f"alone: {lines / seconds:12,.0f} samples/s"
        )
    before = total - cpu["store write"]
    print(
        f"  all stages {total / len(batches) * 1e3:7.1f} ms = "
        f"{lines / total:,.0f} samples/s per core; "
        f"without the store write {lines / before:,.0f} samples/s per core"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=int, default=24, help="simulated hours (default 24)")
    parser.add_argument("--batch", type=int, default=50_000, help="lines per request")
    parser.add_argument("--clients", type=int, default=2, help="concurrent connections")
    args = parser.parse_args()
    batches, samples = make_batches(args.hours, args.batch)
    size = sum(len(b) for b in batches) / 2**20
    print(
        f"ingest bench on {platform.machine()} ({os.cpu_count()} cores): {samples:,} samples "
        f"in {len(batches)} requests of ≤{args.batch:,} lines ({size:.0f} MiB of line protocol), "
        f"{args.clients} client connection(s)"
    )
    parse_rates(batches)
    boundary_share(batches)
    stage_costs(batches[:12])
    vm_binary = shutil.which("victoria-metrics")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "greenwatch"
        token = TokenStore.for_data_dir(data).create(["write"], "bench", any_site=True)
        port = free_port()
        cmd = [sys.executable, "-m", "greenwatch.cli", "serve", "--data-dir", str(data)]
        with server([*cmd, "--port", str(port)], f"http://127.0.0.1:{port}/readyz") as proc:
            gw_s = post_all(f"http://127.0.0.1:{port}", token, batches, args.clients)
            gw_rss = peak_rss_mib(proc.pid)
        gw_rate = samples / gw_s
        print(f"greenwatch serve (DuckDB):   {gw_rate:12,.0f} samples/s  ({gw_s:.1f} s)  "
              f"peak RSS {gw_rss:,.0f} MiB")  # fmt: skip
        if vm_binary is None:
            print("VictoriaMetrics: not installed (apt-get install victoria-metrics)")
            return
        port = free_port()
        vm_args = [
            vm_binary,
            f"-storageDataPath={Path(tmp) / 'vm'}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=100y",
            "-loggerLevel=ERROR",
        ]
        with server(vm_args, f"http://127.0.0.1:{port}/health") as proc:
            vm_s = post_all(f"http://127.0.0.1:{port}", None, batches, args.clients)
            vm_rss = peak_rss_mib(proc.pid)
        vm_rate = samples / vm_s
        print(f"VictoriaMetrics {_vm_version(vm_binary)}:  {vm_rate:12,.0f} samples/s  "
              f"({vm_s:.1f} s)  peak RSS {vm_rss:,.0f} MiB")  # fmt: skip
        print(f"ratio greenwatch / VictoriaMetrics: {gw_rate / vm_rate:.2f}× (goal ≥ 1.0×)")


def _vm_version(binary: str) -> str:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "victoria-metrics"],
                             capture_output=True, text=True, check=False).stdout  # fmt: skip
    except OSError:
        out = ""
    return out.split("+")[0] or Path(binary).name


if __name__ == "__main__":
    main()
