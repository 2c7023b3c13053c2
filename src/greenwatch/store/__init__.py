"""Stores: the embedded DuckDB store (default) behind one contract."""

from greenwatch.store._base import Gaps, LabelFilter, Store, StoreError
from greenwatch.store._duckdb import DuckDBStore
from greenwatch.store._retention import (
    RAW_RETENTION,
    ROLLUP_RETENTION,
    Retention,
)
from greenwatch.store._schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    StoreMissingError,
    StoreUnavailableError,
)
from greenwatch.store._victoria import VictoriaMetricsStore

__all__ = [
    "MIGRATIONS",
    "RAW_RETENTION",
    "ROLLUP_RETENTION",
    "SCHEMA_VERSION",
    "DuckDBStore",
    "Gaps",
    "LabelFilter",
    "Migration",
    "Retention",
    "Store",
    "StoreError",
    "StoreMissingError",
    "StoreUnavailableError",
    "VictoriaMetricsStore",
]
