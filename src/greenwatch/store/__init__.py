"""Stores: the embedded DuckDB store (default) behind one contract."""

from typing import TYPE_CHECKING

from greenwatch._lazy import lazy_face
from greenwatch.store._names import (
    RAW_RETENTION_DAYS,
    ROLLUP_RETENTION_DAYS,
    STORE_MEMORY_LIMIT,
    parse_size,
)

if TYPE_CHECKING:
    from greenwatch.store._base import Gaps, LabelFilter, Store, StoreError
    from greenwatch.store._duckdb import DuckDBStore
    from greenwatch.store._retention import (
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
    "RAW_RETENTION_DAYS",
    "ROLLUP_RETENTION_DAYS",
    "SCHEMA_VERSION",
    "STORE_MEMORY_LIMIT",
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
    "parse_size",
]

__getattr__ = lazy_face(__name__, "_base", "_duckdb", "_retention", "_schema", "_victoria")
