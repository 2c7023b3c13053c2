"""The agent's light names: what the command line offers before anything is loaded."""

from __future__ import annotations

BACKENDS = ("auto", "torch", "cupy", "numpy")

PRECISIONS = ("fp16", "bf16", "fp64")


DEFAULT_SIZES = {"fp16": 8192, "bf16": 8192, "fp64": 4096}
