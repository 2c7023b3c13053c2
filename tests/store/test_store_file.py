"""The store's file: schema versions and forward migrations, and every way opening can fail
(missing, damaged header, truncated, locked by another process, too new) as one sentence."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from greenwatch.model import make_batch
from greenwatch.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    DuckDBStore,
    Migration,
    StoreMissingError,
    StoreUnavailableError,
)
from greenwatch.store._schema import prepare

TESTDATA = Path(__file__).parent / "testdata"
START, END = pd.Timestamp("2026-11-01T00:00Z"), pd.Timestamp("2026-11-01T06:00Z")


def release_0(tmp_path: Path) -> Path:
    """A copy of the store written by the release before schema versions."""
    path = tmp_path / "data" / "greenwatch.duckdb"
    path.parent.mkdir()
    with gzip.open(TESTDATA / "release-0.duckdb.gz") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def test_a_store_of_the_first_release_opens_migrated_and_reads_the_same(tmp_path: Path) -> None:
    path = release_0(tmp_path)
    expected = json.loads((TESTDATA / "release-0.expected.json").read_text(encoding="utf-8"))
    store = DuckDBStore(path, create=False)
    assert store.migrated_from == 0
    assert store.schema_version == SCHEMA_VERSION
    for metric in ("energy_joules_total", "power_watts"):
        got = store.query(
            metric,
            START,
            END,
            labels={"site": "guian-1", "meter": "facility"},
            step=pd.Timedelta(hours=1),
            agg=["increase", "integral", "count"],
        )
        assert got[["increase", "integral", "count"]].to_dict("list") == expected[metric]
    assert len(store.series()) == expected["series"]
    assert store.check() == []
    store.close()
    again = DuckDBStore(path, create=False)
    assert again.migrated_from == SCHEMA_VERSION  # nothing left to migrate
    again.close()


def test_migration_steps_run_in_order_once(tmp_path: Path) -> None:
    path = release_0(tmp_path)
    calls: list[int] = []

    def add_note(con: duckdb.DuckDBPyConnection) -> None:
        calls.append(2)
        con.execute("ALTER TABLE series ADD COLUMN note VARCHAR")

    steps = (*MIGRATIONS, Migration(SCHEMA_VERSION + 1, "a note per series", add_note))
    con = duckdb.connect(str(path))
    assert prepare(con, path, migrations=steps) == 0
    assert prepare(con, path, migrations=steps) == SCHEMA_VERSION + 1
    assert calls == [2]
    assert "note" in {r[0] for r in con.execute("DESCRIBE series").fetchall()}
    con.close()
    with pytest.raises(StoreUnavailableError, match="newer than this greenwatch knows"):
        DuckDBStore(path)


def test_a_new_store_records_the_current_version(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "new" / "greenwatch.duckdb")
    assert (store.migrated_from, store.schema_version) == (-1, SCHEMA_VERSION)
    store.close()


def test_a_read_never_creates_a_store(tmp_path: Path) -> None:
    where = tmp_path / "no" / "such"
    with pytest.raises(StoreMissingError, match=f"no store at {where}"):
        DuckDBStore(where / "greenwatch.duckdb", create=False)
    assert not (tmp_path / "no").exists()


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "header":
        path.write_bytes(b"not a database at all" + data[21:])
    else:
        path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("how", ["header", "truncated"])
def test_a_damaged_store_is_named_with_what_to_do(tmp_path: Path, how: str) -> None:
    path = release_0(tmp_path)
    _damage(path, how)
    with pytest.raises(StoreUnavailableError) as caught:
        DuckDBStore(path, create=False)
    message = str(caught.value)
    assert f"the store {path} is damaged" in message
    assert "greenwatch restore" in message
    assert "\n" not in message


def test_a_store_locked_by_another_process_names_its_pid(tmp_path: Path) -> None:
    path = release_0(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, sys; c = duckdb.connect({str(path)!r}); print('held', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(
            StoreUnavailableError, match=f"in use by another process \\(PID {holder.pid}\\)"
        ):
            DuckDBStore(path, create=False)
    finally:
        holder.communicate("")


@given(
    rounds=st.lists(
        st.tuples(st.booleans(), st.lists(st.integers(0, 5), min_size=1, max_size=6)),
        min_size=1,
        max_size=6,
    )
)
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_two_stores_over_one_file_share_series_ids(
    tmp_path_factory: pytest.TempPathFactory, rounds: list[tuple[bool, list[int]]]
) -> None:
    """Each store keeps the series ids it has seen; writes through two stores over one file,
    in any order and with any overlap, give each series one id and lose no sample."""
    path = tmp_path_factory.mktemp("shared") / "greenwatch.duckdb"
    stores = (DuckDBStore(path), DuckDBStore(path))
    expected: set[tuple[str, pd.Timestamp]] = set()
    try:
        for k, (second, devices) in enumerate(rounds):
            ts = pd.Timestamp("2026-10-01T00:00Z") + pd.Timedelta(minutes=k)
            names = [f"srv-{d}" for d in devices]
            batch = make_batch(
                ts,
                "device_power_watts",
                [100.0 + d for d in devices],
                {"site": "guian-1", "device": names, "device_kind": "server"},
            )
            stores[second].write(batch)
            expected |= {(name, ts) for name in names}
    finally:
        for store in stores:
            store.close()
    store = DuckDBStore(path)
    try:
        assert store.series()["device"].is_unique
        raw = store.query(
            "device_power_watts",
            pd.Timestamp("2026-10-01T00:00Z"),
            pd.Timestamp("2026-10-02T00:00Z"),
        )
    finally:
        store.close()
    assert set(zip(raw["device"], raw["ts"], strict=True)) == expected
