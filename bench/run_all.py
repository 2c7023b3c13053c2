"""Run every benchmark, collect their key figures, write one table to bench/RESULTS.md.

Each ``bench/*.py`` runs in its own process, one after the other (they start their peers —
VictoriaMetrics, Chromium, a simulator — themselves, so every ratio compares two things measured
in the same run on the same machine). A benchmark reports its key figures as ``RESULT|…``
lines (see ``bench/_results.py``); for one that prints none yet, the figures are read from its
human-readable output by the patterns below. Each benchmark runs ``--runs`` times (3 by
default) and every figure is reported as min / median / max of its runs, its peer's as the
median, the ratio from the two medians. A missing or failing benchmark is marked as such and
the others still run. Never fails on timing.

Usage: python bench/run_all.py [--only NAME ...] [--runs N] [--timeout S] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# In the order they run; what each measures, for the table when it is missing.
BENCHES: dict[str, str] = {
    "backfill": "backfill speed, 30 days of the national network",
    "kpi": "30-day national overview queries vs VictoriaMetrics",
    "compute": "30-day national computing figures vs VictoriaMetrics reads; registrations/s",
    "ingest": "ingest vs VictoriaMetrics on the same batches",
    "report": "monthly national report",
    "alerts": "alert evaluation",
    "dashboard": "dashboard time to render (Chromium)",
    "rss": "RSS with 100k active series vs VictoriaMetrics",
    "collect": "collector CPU share",
}
NUMBER = r"([\d,]+(?:\.\d+)?)"


@dataclass(frozen=True)
class Figure:
    figure: str
    value: str
    unit: str
    peer: str = ""
    peer_value: str = ""
    ratio: str = ""


@dataclass
class Run:
    name: str
    status: str
    seconds: float = 0.0
    output: str = ""
    figures: list[Figure] = field(default_factory=list)


@dataclass(frozen=True)
class Spread:
    """One figure over the runs of its benchmark: min / median / max, the peer's median."""

    figure: str
    unit: str
    values: tuple[float, ...]
    peer: str = ""
    peer_values: tuple[float, ...] = ()
    higher_is_better: bool = False

    def cells(self) -> list[str]:
        lo, mid, hi = min(self.values), statistics.median(self.values), max(self.values)
        peer = statistics.median(self.peer_values) if self.peer_values else None
        ratio = ""
        if peer and mid:
            ratio = f"{(mid / peer) if self.higher_is_better else (peer / mid):.2f}×"
        spread = " / ".join(f"{v:.4g}" for v in (lo, mid, hi))
        return [self.figure, spread, self.unit, self.peer, f"{peer:.4g}" if peer else "", ratio]


def spreads(runs: list[Run]) -> list[Spread]:
    """Each figure's values over the runs (in order of first appearance)."""
    found: dict[str, list[Figure]] = {}
    for r in runs:
        for f in r.figures:
            found.setdefault(f.figure, []).append(f)
    out = []
    for name, figures in found.items():
        values = tuple(float(_n(f.value)) for f in figures if f.value)
        peers = tuple(float(_n(f.peer_value)) for f in figures if f.peer_value)
        first = figures[0]
        higher = first.unit.endswith("/s") or first.unit == "%"  # rates and shares
        if values:
            out.append(Spread(name, first.unit, values, first.peer, peers, higher))
    return out


def _n(text: str) -> str:
    return text.replace(",", "")


def _ratio(value: str, peer: str, higher_is_better: bool) -> str:
    a, b = float(_n(value)), float(_n(peer))
    if not a or not b:
        return ""
    return f"{(a / b) if higher_is_better else (b / a):.2f}"


def _fallback_ingest(out: str) -> list[Figure]:
    gw = re.search(rf"greenwatch serve \(DuckDB\):\s+{NUMBER} samples/s", out)
    vm = re.search(rf"VictoriaMetrics [^:]*:\s+{NUMBER} samples/s", out)
    if not gw:
        return []
    peer = _n(vm.group(1)) if vm else ""
    ratio = _ratio(gw.group(1), vm.group(1), higher_is_better=True) if vm else ""
    rows = [Figure("ingest rate", _n(gw.group(1)), "samples/s", "VictoriaMetrics", peer, ratio)]
    rss = re.findall(rf"peak RSS {NUMBER} MiB", out)
    if len(rss) == 2:
        ratio = _ratio(rss[0], rss[1], higher_is_better=False)
        rows.append(Figure("ingest peak RSS", _n(rss[0]), "MiB", "VictoriaMetrics", rss[1], ratio))
    return rows


def _fallback_report(out: str) -> list[Figure]:
    found = re.search(rf"all three formats, archived\s+first\s+{NUMBER} s\s+warm\s+{NUMBER} s", out)
    if not found:
        return []
    return [
        Figure("monthly report, HTML+PDF+CSV, first", found.group(1), "s"),
        Figure("monthly report, HTML+PDF+CSV, warm", found.group(2), "s"),
    ]


def _fallback_dashboard(out: str) -> list[Figure]:
    rows = []
    for label, seconds in re.findall(r"^(.+?)\s+rendered in\s+([\d.]+) s", out, re.MULTILINE):
        rows.append(Figure(f"dashboard: {label.strip()}", seconds, "s"))
    return rows


def _fallback_collect(out: str) -> list[Figure]:
    found = re.search(r"collecting process CPU: .*?= ([\d.]+) cores", out)
    targets = re.search(r"^(\d+) (\w+) targets", out, re.MULTILINE)
    if not found:
        return []
    label = "collector CPU share" + (
        f", {targets.group(1)} {targets.group(2)} targets" if targets else ""
    )
    return [Figure(label, found.group(1), "cores")]


def _fallback_backfill(out: str) -> list[Figure]:
    found = re.search(rf"= {NUMBER} samples/s \(stored", out)
    return [Figure("backfill 30 d national", _n(found.group(1)), "samples/s")] if found else []


FALLBACKS = {
    "ingest": _fallback_ingest,
    "report": _fallback_report,
    "dashboard": _fallback_dashboard,
    "collect": _fallback_collect,
    "backfill": _fallback_backfill,
}


def parse(name: str, out: str) -> list[Figure]:
    """RESULT lines if the benchmark prints any, else its output read by a fallback pattern."""
    rows = []
    for line in out.splitlines():
        if line.startswith("RESULT|"):
            parts = (line.split("|") + [""] * 7)[1:7]
            rows.append(Figure(*parts))
    if rows:
        return rows
    fallback = FALLBACKS.get(name)
    return fallback(out) if fallback else []


def run(name: str, timeout: float) -> Run:
    script = BENCH / f"{name}.py"
    if not script.exists():
        return Run(name, "missing")
    print(f"== {name}: running bench/{name}.py", flush=True)
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        return Run(name, f"timed out after {timeout:.0f} s", timeout, out)
    took = time.perf_counter() - t0
    out = done.stdout + (f"\n[stderr]\n{done.stderr[-4000:]}" if done.returncode else "")
    print(done.stdout, flush=True)
    if done.returncode:
        print(done.stderr[-4000:], file=sys.stderr, flush=True)
        return Run(name, f"failed (exit {done.returncode})", took, out, parse(name, done.stdout))
    figures = parse(name, done.stdout)
    return Run(name, "ok" if figures else "ran, no figures found", took, out, figures)


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu": f"{model or platform.processor()} ({os.cpu_count()} cores)",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "commit": commit or "?",
    }


def short_machine(info: dict[str, str]) -> str:
    return f"{platform.machine()} {os.cpu_count()}c {info['memory']}".strip()


def render(
    runs: dict[str, list[Run]], info: dict[str, str], started: str, loads: tuple[float, float]
) -> str:
    where = short_machine(info)
    count = max((len(r) for r in runs.values()), default=0)
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python bench/run_all.py` (`make bench`) on {started} UTC. Each benchmark "
        f"ran {count} times; a figure is min / median / max of its runs, its peer's value the "
        "median of the peer measured in the same runs on the same data, and the ratio compares "
        "the medians: above 1 means greenwatch is better (faster, smaller, or a higher rate).",
        "",
        "| figure | min / median / max | unit | peer | peer median | ratio | machine |",
        "|---|---:|---|---|---:|---:|---|",
    ]
    for name, tries in runs.items():
        rows = spreads(tries)
        if not rows:
            what = f"{BENCHES.get(name, name)} (bench/{name}.py)"
            lines.append(f"| {what} | {tries[-1].status} | | | | | {where} |")
        lines += ["| " + " | ".join([*row.cells(), where]) + " |" for row in rows]
    lines += [
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in info.items()],
        f"- load average: {loads[0]:.1f} at start, {loads[1]:.1f} at end (a shared machine "
        "makes wall times noisy; the benchmarks print CPU time where it matters)",
        "",
        "## Runs",
        "",
        "| benchmark | status of each run | wall time of each run |",
        "|---|---|---:|",
        *[
            f"| bench/{name}.py | {', '.join(r.status for r in tries)} | "
            f"{', '.join(f'{r.seconds:.0f} s' for r in tries)} |"
            for name, tries in runs.items()
        ],
        "",
        "## Output of each benchmark's last run",
        "",
    ]
    for name, tries in runs.items():
        if tries[-1].output:
            lines += [
                f"<details><summary>bench/{name}.py</summary>",
                "",
                "```",
                tries[-1].output.rstrip(),
                "```",
                "",
                "</details>",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run only these")
    parser.add_argument("--runs", type=int, default=3, help="runs of each benchmark")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    parser.add_argument("--out", type=Path, default=BENCH / "RESULTS.md")
    args = parser.parse_args()
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    load_start = os.getloadavg()[0]
    extra = sorted(
        p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_") and p.stem != "run_all"
    )
    names = args.only or [*BENCHES, *[n for n in extra if n not in BENCHES]]
    runs = {name: [run(name, args.timeout) for _ in range(args.runs)] for name in names}
    text = render(runs, machine(), started, (load_start, os.getloadavg()[0]))
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    for name, tries in runs.items():
        print(f"  {name:10s} {', '.join(r.status for r in tries)}")


if __name__ == "__main__":
    main()
