"""Alert evaluation benchmark: one evaluation of 1,000 rules over 10,000 series.

The store holds the simulated national network (42 sites, ~1,200 series) plus GPU
temperature series up to 10,000 series, two hours at 1-minute resolution. The rules mix per-site
GPU thresholds (max/mean/last over 5m/15m), link, supply-air and collector rules, absence,
KPI (PUE, pPUE against targets and numbers) and sub-meter rules. Prints the time of one
evaluation (median of several, after one warm-up that fills the hourly caches; wall and CPU
time, since on a shared machine the wall time says as much about the neighbours) against a peer
measured in the same run: the same metric rules evaluated one store query per rule, with the
aggregation pushed down to the store; the median evaluation is also printed as a RESULT line
(see ``_results``), and so is the median evaluation after a write to every series (one more
sample each, a minute later), as a service evaluates: the goal, under 100 ms, is for that one.
Usage: python bench/alerts.py
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd
import yaml

from _results import result
from greenwatch.alerts import AlertEngine, RuleSet, parse_rules
from greenwatch.inventory import load_inventory
from greenwatch.model import load_yaml
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

NOW = pd.Timestamp("2026-01-14T12:00:00Z")
HISTORY = pd.Timedelta(hours=2)


def gpu_batch(sites: list[str], count: int, start: pd.Timestamp) -> pd.DataFrame:
    ts = pd.date_range(start, NOW, freq="1min", inclusive="left")
    sensors = [f"{sites[i % len(sites)]}-n{i // 8:04d}/gpu{i % 8}" for i in range(count)]
    site_of = [sites[i % len(sites)] for i in range(count)]
    rng = np.random.default_rng(7)
    values = 60.0 + 20.0 * rng.random((len(ts), count))
    values[-10:, rng.choice(count, 20, replace=False)] = 91.0  # 20 GPUs overheat
    return pd.DataFrame(
        {
            "ts": np.repeat(ts, count),
            "metric": "temperature_celsius",
            "value": values.ravel(),
            "site": pd.Categorical(np.tile(site_of, len(ts))),
            "sensor": pd.Categorical(np.tile(sensors, len(ts))),
        }
    )


def rules_yaml(sites: list[str], n: int) -> str:
    out: list[dict[str, Any]] = []
    aggs, windows = ("max", "mean", "last"), ("5m", "15m")
    i = 0
    while len(out) < n - 100:
        site = sites[i % len(sites)]
        out.append(
            {
                "alert": f"Gpu{i}",
                "kind": "metric",
                "metric": "temperature_celsius",
                "match": [f'site="{site}"', 'sensor=~".*gpu.*"'],
                "agg": aggs[i % 3],
                "window": windows[i % 2],
                "op": ">",
                "threshold": 84.0 + (i % 7) * 0.2,
                "for": "5m",
                "annotations": {"summary": "{sensor} at {site}: {value:.1f} °C"},
            }
        )
        i += 1
    for j in range(40):
        metric, agg, op, threshold = (
            ("link_up", "last", "==", 0),
            ("link_loss_ratio", "mean", ">", 0.01 + j / 1000),
            ("collector_up", "last", "==", 0),
            ("temperature_celsius", "mean", ">", 26 + j / 10),
        )[j % 4]
        out.append(
            {
                "alert": f"M{j}",
                "kind": "metric",
                "metric": metric,
                "agg": agg,
                "window": "5m",
                "op": op,
                "threshold": threshold,
                "match": ['sensor="supply_air"'] if metric == "temperature_celsius" else [],
            }
        )
    for j in range(10):
        out.append(
            {
                "alert": f"Util{j}",
                "kind": "metric",
                "metric": "link_transmit_bytes_total",
                "agg": "rate",
                "scale": 8,
                "window": "15m",
                "op": ">",
                "threshold": 0.5 + j / 20,
                "divide_by": {"metric": "link_capacity_bits_per_second", "agg": "last"},
            }
        )
    for j in range(20):
        out.append(
            {
                "alert": f"Silent{j}",
                "kind": "absent",
                "metric": ("power_watts", "energy_joules_total")[j % 2],
                "by": [["site"], ["site", "meter"]][j % 2],
                "window": f"{5 + j}m",
            }
        )
    for j in range(20):
        out.append(
            {
                "alert": f"Kpi{j}",
                "kind": "kpi",
                "kpi": ("pue", "ppue")[j % 2],
                "window": "1h",
                "op": ">",
                "threshold": "target" if j % 2 == 0 else 1.3 + j / 100,
                "margin": j / 100 if j % 2 == 0 else 0.0,
            }
        )
    for j in range(10):
        out.append(
            {
                "alert": f"Drift{j}",
                "kind": "submeter",
                "window": "1h",
                "parents": {"it_ups_output": "facility", "cooling": "facility"},
                "tolerance": 0.08 + j / 100,
            }
        )
    return yaml.safe_dump({"rules": out[:n]})


def naive_per_rule(store: DuckDBStore, rules: RuleSet, sample: int) -> float:
    """Seconds per metric rule when each rule queries the store with its own aggregate."""
    metric_rules = [
        r for r in rules.rules if r.kind == "metric" and r.agg in ("max", "mean", "last")
    ]
    picked = metric_rules[:sample]
    started = time.perf_counter()
    for rule in picked:
        window = pd.Timedelta(rule.window)
        store.query(
            rule.metric, NOW - window, NOW, labels={"site": rule.match[0].value}, agg=rule.agg
        )
    return (time.perf_counter() - started) / len(picked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    inventory = load_inventory()
    sites = [s.id for s in inventory.sites]
    store = DuckDBStore(":memory:")
    sim = Simulator(inventory, seed=0, start=NOW - HISTORY)
    started = time.perf_counter()
    network = sim.advance(NOW)
    store.write(network)
    gpus = args.series - sim.series_count()
    temperatures = gpu_batch(sites, gpus, NOW - HISTORY)
    store.write(temperatures)
    setup = time.perf_counter() - started
    series = len(store.series())
    rules = parse_rules(load_yaml("bench-rules.yaml", rules_yaml(sites, args.rules)))
    engine = AlertEngine(store, inventory, rules, clock=lambda: NOW)
    engine.evaluate(NOW - pd.Timedelta(minutes=1))  # warm-up: hourly caches, imports
    times, cpu = [], []
    for k in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        engine.evaluate(NOW + pd.Timedelta(seconds=k))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    counts = engine.status()["alerts"]
    # As in service: every series gets a sample between two evaluations (the last minute's
    # samples again, a minute later each time), and only the evaluation is timed.
    last = pd.concat(
        [b[b["ts"] == b["ts"].max()] for b in (network, temperatures)], ignore_index=True
    )
    written, written_cpu = [], []
    for k in range(1, args.repeat + 1):
        later = NOW + pd.Timedelta(minutes=k)
        store.write(last.assign(ts=last["ts"] + pd.Timedelta(minutes=k)))
        t0, c0 = time.perf_counter(), time.process_time()
        engine.evaluate(later)
        written.append(time.perf_counter() - t0)
        written_cpu.append(time.process_time() - c0)
    per_rule = naive_per_rule(store, rules, 30)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"store: {series:,} series, {args.series * 120:,} samples (setup {setup:.1f} s); "
        f"rules: {len(rules.rules):,} ({len(engine.rule_errors)} failed)"
    )
    print(
        f"one evaluation of {len(rules.rules):,} rules over {series:,} series: "
        f"median {statistics.median(times) * 1000:.0f} ms, best {min(times) * 1000:.0f} ms "
        f"({args.repeat} runs, store unchanged); CPU time median "
        f"{statistics.median(cpu) * 1000:.0f} ms (all threads); alerts now {counts}"
    )
    print(
        f"after a write to every series (as in service): median "
        f"{statistics.median(written) * 1000:.0f} ms, best {min(written) * 1000:.0f} ms; "
        f"CPU time median {statistics.median(written_cpu) * 1000:.0f} ms (goal < 100 ms)"
    )
    print(
        f"peer, one store query per rule (aggregate pushed down): {per_rule * 1000:.1f} ms/rule "
        f"= {per_rule * len(rules.rules):.1f} s for {len(rules.rules):,} rules "
        f"({per_rule * len(rules.rules) / statistics.median(times):.0f}x slower)"
    )
    result(
        f"alert evaluation, {len(rules.rules):,} rules / {series:,} series, store unchanged",
        statistics.median(times) * 1000,
        "ms",
        "one store query per rule",
        per_rule * len(rules.rules) * 1000,
    )
    result(
        f"alert evaluation, {len(rules.rules):,} rules / {series:,} series, after a write",
        statistics.median(written) * 1000,
        "ms",
        "one store query per rule",
        per_rule * len(rules.rules) * 1000,
    )
    engine.close()
    store.close()


if __name__ == "__main__":
    main()
