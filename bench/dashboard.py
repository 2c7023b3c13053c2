"""Dashboard benchmark: a fully rendered overview in Chromium over 30 days of demo data.

Builds the store with the simulator and ``greenwatch.service.backfill`` (or reuses one given
with ``--store``), serves it with ``greenwatch.service.Service`` on loopback, and drives Debian
Chromium (Playwright) through: the first visit after start (cold caches), a reload (warm), each
time range of the picker, and the network and site pages. The service draws the overview in
every period in the background from its start, so the first visit races that drawing and the
picker changes find it done. "Fully rendered" means every panel
has drawn (charts have traces, the map its coastlines and every site, tables and tiles their
text) and no callback is in flight. Every callback's server time comes from the
``Server-Timing`` header the dashboard puts on ``/_dash-update-component``.

Peer, measured in the same run: loading the 30 days of raw energy samples that the hourly
national PUE trend needs (what a callback without roll-ups would have to read).

Goals: the overview's first visit fully rendered in under 1 s, each picker change in under
0.5 s. A built store keeps each site's hourly PUE inputs of the last 31 days after the
backfill, as ``serve`` does every few minutes. Every case prints a RESULT line
(``bench/_results.py``): seconds to render, and the slowest callback's server time in ms.

Usage: python bench/dashboard.py [--days 30] [--store PATH] [--keep PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from _results import result
from greenwatch.inventory import load_inventory
from greenwatch.query import keep_hourly_pue
from greenwatch.service import Service, backfill, demo_scenarios
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

END = pd.Timestamp("2026-07-01T00:00:00Z")
# Goals in seconds, by the start of a case's label.
GOALS_S = {"overview 30d, first visit": 1.0, "overview, picker": 0.5}
NOW = END - pd.Timedelta(minutes=23)  # the clock of the served dashboard: mid-hour
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
RENDERED = """() => {
    if (document.querySelector('[data-dash-is-loading="true"]')) return false;
    const panels = [...document.querySelectorAll('.panel')];
    return panels.length > 0 && panels.every(p => {
        const g = p.querySelector('.js-plotly-plot');
        if (g) {
            // Drawn: traces, or the annotation that says why there is no data.
            const drawn = g._fullData && (g._fullData.length > 0 ||
                (g.layout && (g.layout.annotations || []).length > 0));
            if (!drawn) return false;
            if (p.querySelector('.geo') && !p.querySelector('.coastlines path, path.coastlines'))
                return false;
            return true;
        }
        const body = p.querySelector('.panel-body');
        return !!body && body.innerText.trim().length > 0;
    });
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_store(path: Path, days: int) -> float:
    inventory = load_inventory()
    start = END - pd.Timedelta(days=days)
    store = DuckDBStore(path)
    sim = Simulator(inventory, seed=0, start=start, scenarios=demo_scenarios(inventory, start, END))
    t0 = time.perf_counter()
    backfill(sim, store.write, END)
    took = time.perf_counter() - t0
    # The hourly PUE inputs of the last 31 days, as serve keeps them every few minutes.
    keep_hourly_pue(store, [s.id for s in inventory.sites], NOW - pd.Timedelta(days=31), NOW, NOW)
    store.close()
    return took


@dataclass
class Callback:
    panel: str
    ms: float


@dataclass
class Browser:
    """A Chromium page that counts callbacks in flight and records their server times."""

    page: Any
    inflight: int = 0
    issued: int = 0
    callbacks: list[Callback] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    def on_request(self, request: Any) -> None:
        if "_dash-update-component" in request.url:
            self.inflight += 1
            self.issued += 1

    def on_done(self, request: Any) -> None:
        if "_dash-update-component" not in request.url:
            return
        self.inflight -= 1
        response = request.response()
        timing = response.headers.get("server-timing", "") if response else ""
        if "dur=" in timing:
            self.callbacks.append(Callback(_callback_name(request), float(timing.split("dur=")[1])))

    def wait_rendered(self, started: float, timeout_s: float = 60.0) -> float:
        """Seconds from ``started`` until every panel has drawn and nothing is in flight."""
        deadline = started + timeout_s
        quiet_since = None
        while time.perf_counter() < deadline:
            done = self.inflight == 0 and self.page.evaluate(RENDERED)
            now = time.perf_counter()
            if done:
                quiet_since = quiet_since or now
                # Still quiet 150 ms later: no callback chained on what just arrived.
                if now - quiet_since >= 0.15:
                    return quiet_since - started
            else:
                quiet_since = None
            self.page.wait_for_timeout(15)
        raise TimeoutError("the page did not finish rendering")


def _callback_name(request: Any) -> str:
    try:
        body = json.loads(request.post_data or "{}")
    except ValueError:
        return "?"
    for item in body.get("state") or []:
        ident = item.get("id") if isinstance(item, dict) else None
        if isinstance(ident, dict) and "panel" in ident:
            return str(ident["panel"])
        if isinstance(item, list) and item and "panel" in item[0].get("id", {}):  # the tiles
            return f"{str(item[0]['id']['panel']).split('/')[0]}/{len(item)} tiles"
    return str(body.get("output", "?"))[:60]


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        state = Browser(page)
        page.on("request", state.on_request)
        page.on("requestfinished", state.on_done)
        page.on("requestfailed", state.on_done)

        def route(r: Any) -> None:
            host = r.request.url.split("/")[2].split(":")[0]
            if r.request.url.startswith("http") and host not in {"127.0.0.1", "localhost"}:
                state.outside.append(r.request.url)
                r.abort()
            else:
                r.continue_()

        page.route("**/*", route)
        try:
            yield state
        finally:
            browser.close()


def visit(state: Browser, url: str) -> tuple[float, list[Callback]]:
    state.callbacks = []
    started = time.perf_counter()
    state.page.goto(url)
    return state.wait_rendered(started), state.callbacks


def pick_period(state: Browser, period: str) -> tuple[float, list[Callback]]:
    state.callbacks = []
    before = state.issued
    started = time.perf_counter()
    state.page.locator("#period label", has_text=period).click()
    while state.issued == before:
        state.page.wait_for_timeout(5)
    return state.wait_rendered(started), state.callbacks


def slowest(callbacks: list[Callback]) -> str:
    if not callbacks:
        return "no callbacks"
    worst = max(callbacks, key=lambda c: c.ms)
    return f"slowest callback {worst.ms:,.0f} ms ({worst.panel}), {len(callbacks)} callbacks"


def peer_raw_read(path: Path, days: int) -> tuple[float, int]:
    """Seconds to load the raw energy samples of every site for ``days`` (no roll-ups)."""
    store = DuckDBStore(path)
    t0 = time.perf_counter()
    raw = store.query("energy_joules_total", END - pd.Timedelta(days=days), END)
    took = time.perf_counter() - t0
    store.close()
    return took, len(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--store", type=Path, help="reuse a store built for this END")
    parser.add_argument("--keep", type=Path, help="copy the built store here for reuse")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "greenwatch.duckdb"
        if args.store:
            shutil.copy(args.store, path)
            print(f"store: copied from {args.store}")
        else:
            took = build_store(path, args.days)
            print(f"store: {args.days} days of the national network backfilled in {took:.1f} s")
            if args.keep:
                shutil.copy(path, args.keep)
        raw_s, raw_rows = peer_raw_read(path, args.days)
        inventory = load_inventory()
        store = DuckDBStore(path)
        service = Service(
            store, inventory, port=_free_port(), clock=lambda: NOW, data_dir=Path(tmp)
        )
        service.start()
        try:
            base = service.url.rstrip("/")
            with chromium() as state:
                results = []
                took, calls = visit(state, f"{base}/?period=30d")
                results.append(("overview 30d, first visit (cold caches)", took, calls))
                took, calls = visit(state, f"{base}/?period=30d")
                results.append(("overview 30d, reload (warm caches)", took, calls))
                for period in ("24h", "7d", "30d"):
                    took, calls = pick_period(state, period)
                    results.append((f"overview, picker -> {period}", took, calls))
                took, calls = visit(state, f"{base}/network?period=30d")
                results.append(("network 30d, first visit", took, calls))
                took, calls = visit(state, f"{base}/site/guian-1?period=30d")
                results.append(("site guian-1 30d, first visit", took, calls))
                outside = list(state.outside)
        finally:
            service.stop()
    report(results, raw_s, raw_rows, args.days, outside)


def report(
    results: list[tuple[str, float, list[Callback]]],
    raw_s: float,
    raw_rows: int,
    days: int,
    outside: list[str],
) -> None:
    """Each case for people (with its goal, if it has one), then as RESULT lines."""
    every = [c for _, _, calls in results for c in calls]
    for label, took, calls in results:
        goal = next((g for name, g in GOALS_S.items() if label.startswith(name)), None)
        verdict = (
            "" if goal is None else f" (goal < {goal:g} s: {'met' if took < goal else 'missed'})"
        )
        print(f"{label:44s} rendered in {took:5.2f} s; {slowest(calls)}{verdict}")
    print(f"slowest callback of the run: {slowest(every)}")
    trend_calls = [c.ms for c in every if c.panel == "overview/pue-trend"]
    if trend_calls:
        print(
            f"peer: raw read of {raw_rows:,} energy samples ({days} days) takes "
            f"{raw_s * 1000:,.0f} ms; the hourly national PUE trend callback took "
            f"{min(trend_calls):,.0f}-{max(trend_calls):,.0f} ms "
            f"({raw_s * 1000 / max(trend_calls):,.1f}x faster than reading raw)"
        )
    print(f"requests outside loopback: {len(outside)}")
    for label, took, calls in results:
        result(f"dashboard {label}", took, "s")
        if calls:
            result(f"dashboard {label}, slowest callback", max(c.ms for c in calls), "ms")


if __name__ == "__main__":
    main()
