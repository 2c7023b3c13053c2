"""Scale-out benchmark: a synthetic national network pushed through two ingest replicas into
VictoriaMetrics (``deploy/scale_demo.py``'s topology), run by hand (not in ``make bench``).

``--centres`` centres of ``--series`` series each, one sample per series every ``--interval``
seconds: each centre is the simulated Gui'an cluster (its facility and IT meters, power and
energy counters, as the simulator makes them) plus temperature sensors up to ``--series``.
``--agents`` edge-agent processes push line protocol through vmauth (the one ingest URL) to
the two ``serve --role ingest`` replicas; one ``--role ui,jobs`` process serves the dashboard
and rolls up. Before the live run, ``--backfill-hours`` of the centres' energy and power series
(what PUE reads) go in through the same ingest URL. The backfill and the live run are one
simulation (every 15 s, the backfill taking each minute's samples), so no energy counter
restarts where the live run begins.

Printed: the sustained rate and loss counted end to end (samples acknowledged by the ingest
tier vs samples VictoriaMetrics holds for the run), CPU seconds per 1,000 samples of the
greenwatch ingest tier vs VictoriaMetrics's own for the same samples, RSS of every process,
the roll-up pass (hours and seconds; the lag: until every series reported past an hour),
national 1-day and 30-day PUE through the KPI API, and the national overview in Chromium.

Usage: python bench/scale.py [--centres 1000] [--series 1000] [--minutes 10]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
from _results import result  # noqa: I001 - after the path of deploy/
from scale_demo import Topology

from greenwatch.inventory import Inventory, load_inventory
from greenwatch.simulate import Simulator

TEMPLATE_SITE = "guian-1"
TICKS = os.sysconf("SC_CLK_TCK")


def inventory_file(path: Path, centres: int) -> list[str]:
    """An inventory of ``centres`` copies of the Gui'an cluster (ids c0000…); their ids."""
    doc = yaml.safe_load(
        (Path(load_inventory.__code__.co_filename).parent / "data" / "national.yaml").read_text()
    )
    template = next(s for s in doc["sites"] if s["id"] == TEMPLATE_SITE)
    template.pop("compute", None)
    ids = [f"c{i:04d}" for i in range(centres)]
    sites = []
    for i, site_id in enumerate(ids):
        site = dict(template, id=site_id, name=f"Centre {i}")
        site["location"] = {"lat": 22 + (i % 40) * 0.5, "lon": 100 + (i // 40) * 0.8}
        sites.append(site)
    path.write_text(yaml.safe_dump({"sites": sites, "links": []}), encoding="utf-8")
    return ids


def engine_rules(path: Path) -> Path:
    """The shipped rule pack less its metric and absence rules: at this size vmalert evaluates
    those (the exported file, in the topology), greenwatch's engine the rest (KPI, sub-meter,
    compute), as ``deploy/README.md`` "One alerting path per alert" lays out."""
    pack = Path(load_inventory.__code__.co_filename).parents[1] / "alerts" / "rules"
    doc = yaml.safe_load((pack / "national.yaml").read_text(encoding="utf-8"))
    doc["rules"] = [r for r in doc["rules"] if r.get("kind") not in ("metric", "absent")]
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def template_batch(start: pd.Timestamp, end: pd.Timestamp, step: pd.Timedelta) -> pd.DataFrame:
    """The simulated Gui'an cluster's meters (power and energy) from ``start`` to ``end``."""
    national = load_inventory()
    one = Inventory(sites=tuple(s for s in national.sites if s.id == TEMPLATE_SITE), links=())
    batch = Simulator(one, seed=1, start=start).advance(end, step)
    return batch[batch["metric"].isin(["power_watts", "energy_joules_total"])]


def lines_for(template: pd.DataFrame, sites: list[str], sensors: int, ts_ms: int) -> list[str]:
    """Line protocol of every centre in ``sites`` at one time: the template's meters with the
    site swapped, and ``sensors`` temperature sensors."""
    meters = [
        (str(r.metric), str(r.meter), float(r.value)) for r in template.itertuples(index=False)
    ]
    out = []
    for site in sites:
        out += [f"{m},site={site},meter={meter} value={v!r} {ts_ms}" for m, meter, v in meters]
        out += [
            f"temperature_celsius,site={site},sensor=s{k} value={20 + k % 7}.5 {ts_ms}"
            for k in range(sensors)
        ]
    return out


def agent(
    url: str,
    token: str,
    sites: list[str],
    series: int,
    interval: float,
    span: tuple[float, float],
    meters: pd.DataFrame,
    counts: mp.Queue,  # type: ignore[type-arg]
) -> None:
    """One edge agent process: at ``first``, ``first + interval`` … before ``until`` (``span``),
    one sample per series of its centres stamped with that time (the meters' at that time)."""
    first, until = span
    per_time = {t: g for t, g in meters.groupby("ts")}  # noqa: C416 - dict() calls .keys
    sensors = series - int(meters.groupby("ts").size().iloc[0])
    sent = failed = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        tick = first
        time.sleep(max(0.0, tick - time.time()))
        while tick < until:
            now = pd.Timestamp(tick, unit="s", tz="UTC")
            template = per_time.get(now)
            if template is None:
                template = per_time[min(per_time, key=lambda t: abs(t - now))]
            lines = lines_for(template, sites, sensors, int(now.value // 1_000_000))
            for i in range(0, len(lines), 20_000):
                body = "\n".join(lines[i : i + 20_000]).encode()
                try:
                    answer = client.post("/api/v2/write", params={"precision": "ms"}, content=body)
                    ok = answer.status_code == 204
                except httpx.HTTPError:
                    ok = False
                if ok:
                    sent += len(lines[i : i + 20_000])
                else:
                    failed += len(lines[i : i + 20_000])
            tick += interval
            time.sleep(max(0.0, tick - time.time()))
    counts.put((sent, failed))


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stored(vm: str, metric_regex: str, lo: pd.Timestamp, hi: pd.Timestamp) -> int:
    """Samples VictoriaMetrics holds in ``[lo, hi)``, counted a minute at a time (one count
    over a million series and the whole run outlasts the engine's 30-s query limit on a busy
    machine)."""
    httpx.get(f"{vm}/internal/force_flush", timeout=60)
    total = 0
    for a in pd.date_range(lo, hi, freq="1min", inclusive="left"):
        b = min(hi, a + pd.Timedelta(minutes=1))
        span_ms = (b - a).value // 1_000_000
        query = f'sum(count_over_time({{__name__=~"{metric_regex}"}}[{span_ms}ms]))'
        answer = httpx.get(
            f"{vm}/api/v1/query",
            params={"query": query, "time": f"{(b.value // 1_000_000 - 1) / 1000:.3f}"},
            timeout=300,
        ).json()
        if answer.get("status") != "success":
            raise SystemExit(f"counting the samples stored failed: {answer.get('error')}")
        found = answer["data"]["result"]
        total += int(float(found[0]["value"][1])) if found else 0
    return total


def backfill(topology: Topology, sites: list[str], meters: pd.DataFrame, hours: float) -> None:
    """The centres' ``meters`` of each minute before ``now``, pushed 50 centres at a time."""
    end = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(minutes=1)
    meters = meters[(meters["ts"] < end) & (meters["ts"].dt.second == 0)]
    began = time.perf_counter()
    sent = 0
    for i in range(0, len(sites), 50):
        part = pd.concat(
            [meters.assign(site=site) for site in sites[i : i + 50]], ignore_index=True
        )
        sent += topology.push(part, f"backfill-{i}")
    took = time.perf_counter() - began
    print(
        f"backfill: {sent:,} samples ({hours:g} h of meters) in {took:.0f} s = "
        f"{sent / took:,.0f} samples/s",
        flush=True,
    )


def timed_get(url: str, token: str, **params: str) -> tuple[float, httpx.Response]:
    began = time.perf_counter()
    answer = httpx.get(
        url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=600
    )
    return time.perf_counter() - began, answer


def overview_seconds(url: str) -> float:
    """Seconds until every panel of the overview has drawn and no callback is in flight
    (``bench/dashboard.py``'s measure); the screenshot goes to ``test-artifacts/``."""
    from dashboard import chromium

    with chromium() as state:
        began = time.perf_counter()
        state.page.goto(url)
        took = state.wait_rendered(began, timeout_s=1800)
        shot = Path(__file__).resolve().parents[1] / "test-artifacts" / "scale-overview.png"
        shot.parent.mkdir(exist_ok=True)
        state.page.screenshot(path=str(shot), full_page=True)
    return took


def main() -> int:  # noqa: PLR0915 - one run, printed in order
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--centres", type=int, default=1000)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=15.0)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--backfill-hours", type=float, default=24.0)
    parser.add_argument("--agents", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="greenwatch-scale-"))
    sites = inventory_file(work / "inventory.yaml", args.centres)
    rate = args.centres * args.series / args.interval
    print(
        f"{args.centres} centres x {args.series} series every {args.interval:g} s = "
        f"{rate:,.0f} samples/s offered, {args.centres * args.series:,} active series; "
        f"work dir {work}",
        flush=True,
    )
    topology = Topology(
        work, inventory=work / "inventory.yaml", alert_rules=engine_rules(work / "rules.yaml")
    )
    with topology.start():
        vm = topology.url("vm")
        origin = pd.Timestamp.now(tz="UTC").floor("min") - pd.Timedelta(hours=args.backfill_hours)
        reach = origin + pd.Timedelta(hours=args.backfill_hours + 2, minutes=args.minutes)
        meters = template_batch(origin, reach, pd.Timedelta(seconds=args.interval))
        backfill(topology, sites, meters, args.backfill_hours)
        pids = {name: p.pid for name, p in topology.procs.items()}
        before = {name: cpu_s(pid) for name, pid in pids.items()}
        lo = pd.Timestamp.now(tz="UTC").ceil(f"{int(args.interval)}s") + pd.Timedelta(seconds=15)
        until = lo.timestamp() + args.minutes * 60
        if pd.Timestamp(until, unit="s", tz="UTC") > reach:
            raise SystemExit("the backfill took longer than the simulation reaches")
        live = meters[meters["ts"] >= lo.floor("min")]
        counts: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        shares = np.array_split(np.array(sites), args.agents)
        agents = [
            mp.Process(
                target=agent,
                args=(
                    topology.ingest_url,
                    topology.token,
                    list(share),
                    args.series,
                    args.interval,
                    (lo.timestamp(), until),
                    live,
                    counts,
                ),
            )
            for share in shares
        ]
        began = time.perf_counter()
        for proc in agents:
            proc.start()
        for proc in agents:
            proc.join()
        took = time.perf_counter() - began
        after = {name: cpu_s(pid) for name, pid in pids.items()}
        sent = failed = 0
        for _ in agents:
            a, b = counts.get(timeout=600)
            sent, failed = sent + a, failed + b
        hi = pd.Timestamp(until, unit="s", tz="UTC")
        time.sleep(max(0.0, until + 35 - time.time()))  # past VictoriaMetrics's 30 s latency offset
        took = until - lo.timestamp()  # the live span the samples are stamped in
        held = stored(vm, "temperature_celsius|power_watts|energy_joules_total", lo, hi)
        print(
            f"live: {sent:,} samples acknowledged, {failed:,} refused, in {took:.0f} s "
            f"= {sent / took:,.0f} samples/s; VictoriaMetrics holds {held:,} for the run "
            f"(loss {sent - held:,})",
            flush=True,
        )
        result("scale: sustained ingest rate", sent / took, "samples/s", higher_is_better=True)
        result("scale: samples lost end to end", sent - held, "samples")
        ingest_cpu = sum(after[n] - before[n] for n in ("ingest-1", "ingest-2", "vmauth"))
        vm_cpu = after["vm"] - before["vm"]
        per_k = 1000 / max(sent, 1)
        print(
            f"CPU over the run: ingest tier (2 replicas + vmauth) {ingest_cpu:.1f} s, "
            f"VictoriaMetrics {vm_cpu:.1f} s, ui+jobs {after['ui'] - before['ui']:.1f} s",
            flush=True,
        )
        result(
            "scale: ingest tier CPU per 1,000 samples",
            ingest_cpu * per_k * 1000,
            "ms",
            "VictoriaMetrics",
            vm_cpu * per_k * 1000,
        )
        for name, pid in pids.items():
            print(f"RSS {name}: {rss_mib(pid):,.0f} MiB (peak {rss_mib(pid, 'VmHWM'):,.0f})")
        result(
            "scale: RSS of one ingest replica (peak)",
            rss_mib(pids["ingest-1"], "VmHWM"),
            "MiB",
            "VictoriaMetrics",
            rss_mib(pids["vm"], "VmHWM"),
        )
        for span in ("1d", "30d"):
            cold, answer = timed_get(
                topology.url("ui") + "/api/v1/kpi", topology.token, start=f"-{span}"
            )
            warm, _ = timed_get(
                topology.url("ui") + "/api/v1/kpi", topology.token, start=f"-{span}"
            )
            value = answer.json()["data"][0]["value"] if answer.status_code == 200 else None
            print(f"national PUE {span}: {value} in {cold:.2f} s (again {warm:.2f} s)")
            result(f"scale: national PUE {span}, first", cold, "s")
        from greenwatch.store import VictoriaMetricsStore

        store = VictoriaMetricsStore(vm)
        began = time.perf_counter()
        hours, rows = store.roll_up(
            pd.Timestamp.now(tz="UTC"), pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=2)
        )
        roll = time.perf_counter() - began
        rolled = store.rolled_hours()
        lag = (pd.Timestamp.now(tz="UTC").value - rolled.until) / 3.6e12
        print(
            f"roll-up pass: {hours} hour(s), {rows:,} summary rows in {roll:.1f} s; "
            f"summaries reach {lag:.2f} h behind now"
        )
        result("scale: roll-up lag", lag, "h")
        store.close()
        seconds = overview_seconds(topology.dashboard_url)
        print(f"national overview in Chromium: {seconds:.2f} s")
        result("scale: national overview, first visit", seconds, "s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
