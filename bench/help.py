"""How fast ``greenwatch --help`` and each subcommand's ``--help`` answer.

Each is run ``--repeat`` times in a fresh interpreter; the median wall time is printed, with
the peer ``python -c pass`` (the interpreter's own start-up) measured in the same run, and the
modules that dominate the import time (``python -X importtime``).

Usage: python bench/help.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from _results import result

COMMANDS = [[], ["demo"], ["serve"], ["kpi"], ["compute"], ["report"], ["store", "check"],
            ["backup"], ["restore"], ["alerts", "test"], ["resources", "list"]]  # fmt: skip


def _median_s(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bare = _median_s([sys.executable, "-c", "pass"], args.repeat)
    for command in COMMANDS:
        took = _median_s([sys.executable, "-m", "greenwatch.cli", *command, "--help"], args.repeat)
        name = " ".join(["greenwatch", *command, "--help"])
        print(f"{name}: {took * 1000:.0f} ms (python -c pass: {bare * 1000:.0f} ms)")
        result(f"{name} time", took, "s", "python -c pass", bare)
    trace = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import greenwatch.cli"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    rows = [line.split("|") for line in trace.splitlines() if line.startswith("import time:")]
    top = sorted(((int(r[1]), r[2].strip()) for r in rows if r[1].strip().isdigit()), reverse=True)[
        :8
    ]
    for cumulative_us, module in top:
        print(f"  import {module}: {cumulative_us / 1000:.0f} ms cumulative")


if __name__ == "__main__":
    main()
