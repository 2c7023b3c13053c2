"""Run the test suite several times while every core is kept busy (``make test-stress``).

One busy-loop process per core runs for the whole time, so timing assumptions, races on
shutdown and thread start-up order show up as failures here first. The load is started and
stopped by this script; the exit status is that of the first failing run (0 when all pass).

    python .ci/stress.py [--runs 3] [--load N] [-- PYTEST ARGS…]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time


def _spin() -> None:
    while True:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="suite runs (default 3)")
    parser.add_argument(
        "--load", type=int, default=os.cpu_count() or 1, help="busy processes (default: cores)"
    )
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args()
    load = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.load)]
    for proc in load:
        proc.start()
    status = 0
    try:
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            code = subprocess.call([sys.executable, "-m", "pytest", "-q", *args.pytest_args])
            took = time.monotonic() - started
            print(f"stress run {run}/{args.runs} under {args.load} busy process(es): "
                  f"exit {code} in {took:.0f} s", flush=True)  # fmt: skip
            status = status or code
    finally:
        for proc in load:
            proc.kill()
            proc.join()
    return status


if __name__ == "__main__":
    sys.exit(main())
