"""The registry's light names: what the command line offers before anything is loaded."""

from __future__ import annotations

REGISTRY_FILE = "resources.sqlite"  # in a data directory (greenwatch serve, resources CLI)

BENCHMARKS = ("probe", "hpl", "hpcg", "mlperf", "gpu-matmul")
