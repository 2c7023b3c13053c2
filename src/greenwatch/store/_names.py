"""The store's light names: what the command line offers before anything is loaded."""

from __future__ import annotations

RAW_RETENTION_DAYS = 400
ROLLUP_RETENTION_DAYS = 3653  # ten years
