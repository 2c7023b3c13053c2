"""The store's memory bound: blocks read stay in DuckDB's cache, which without a bound grows
with the data read (up to 80 % of the machine's memory) — a server's RSS would climb for days.
With ``memory_limit`` the cache stops at the bound and older blocks are evicted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from greenwatch.store import DuckDBStore, StoreError, StoreUnavailableError, parse_size

START = pd.Timestamp("2026-11-01T00:00Z")
SERIES, STEPS = 500, 8000  # 4 million samples: tens of MiB of blocks once read
LIMIT = "24MiB"
CHUNK = pd.Timedelta(minutes=20)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("memory") / "greenwatch.duckdb"
    ts = START + pd.to_timedelta(np.arange(STEPS) * 15, unit="s")
    batch = pd.DataFrame(
        {
            "ts": np.tile(ts, SERIES),
            "metric": "power_watts",
            "site": "guian-1",
            "meter": np.repeat([f"pdu-{i:03d}" for i in range(SERIES)], STEPS),
            "value": np.random.default_rng(0).uniform(100.0, 900.0, SERIES * STEPS),
        }
    )
    store = DuckDBStore(path)
    assert store.write(batch) == SERIES * STEPS
    store.close()
    return path


def _read_everything(store: DuckDBStore) -> int:
    """Read every raw sample, 20 minutes at a time (each read's own working memory well under
    the bound); the largest memory the store held meanwhile."""
    end = START + pd.Timedelta(seconds=15 * STEPS)
    most, at = 0, START
    while at < end:
        assert not store.query("power_watts", at, at + CHUNK).empty
        most = max(most, store.memory())
        at += CHUNK
    return most


def test_the_memory_limit_bounds_what_reads_leave_cached(written: Path) -> None:
    free = DuckDBStore(written)
    try:
        unbounded = _read_everything(free)
    finally:
        free.close()
    bounded_store = DuckDBStore(written, memory_limit=LIMIT)
    try:
        assert bounded_store.memory_limit == parse_size(LIMIT)
        bounded = _read_everything(bounded_store)
    finally:
        bounded_store.close()
    # Without a bound the reads leave more cached than the bound; with it, never more.
    assert unbounded > parse_size(LIMIT)
    assert 0 < bounded <= parse_size(LIMIT)


def test_a_read_larger_than_the_bound_is_one_sentence(written: Path) -> None:
    store = DuckDBStore(written, memory_limit="4MiB")
    try:
        with pytest.raises(StoreError, match=r"needs more than the store's memory bound \(4 MiB\)"):
            store.query("power_watts", START, START + pd.Timedelta(hours=30))
        one = store.query("power_watts", START, START + CHUNK, labels={"meter": "pdu-000"})
        assert len(one) == CHUNK // pd.Timedelta(seconds=15)  # and smaller reads go on
    finally:
        store.close()


def test_a_bound_too_small_to_open_the_store_says_so(written: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="needs more memory than its bound: raise"):
        DuckDBStore(written, memory_limit="1KiB")  # under one block
    DuckDBStore(written).close()  # nothing was harmed


def test_a_memory_limit_that_is_not_a_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="'lots' is not a size such as 512MiB or 4GB"):
        DuckDBStore(tmp_path / "greenwatch.duckdb", memory_limit="lots")
    assert not (tmp_path / "greenwatch.duckdb").exists()


@given(
    number=st.integers(min_value=0, max_value=10**6),
    prefix=st.sampled_from(["", "K", "M", "G", "T"]),
    binary=st.booleans(),
    lower=st.booleans(),
)
def test_sizes_in_decimal_and_binary_units(
    number: int, prefix: str, binary: bool, lower: bool
) -> None:
    unit = f"{prefix}{'i' if binary and prefix else ''}B"
    power = "KMGT".index(prefix) + 1 if prefix else 0
    text = f"{number}{unit.lower() if lower else unit}"
    assert parse_size(text) == number * (1024 if binary and prefix else 1000) ** power


@pytest.mark.parametrize("text", ["", "1G", "GiB", "-1GB", "1iB", "1 XB", "1.5.2MB", "MB1"])
def test_what_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError, match="is not a size such as 512MiB or 4GB"):
        parse_size(text)
