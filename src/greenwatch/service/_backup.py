"""Backups of a data directory: one ``.tar.gz`` holding a consistent snapshot of the store, the
computing-resources registry, the alert state, the API tokens and the demo's state.

The store is copied by the process that holds it (the running server, through
``POST /api/v1/backup``, or the CLI when none runs), with writes paused for the copy; the
SQLite files are copied with SQLite's online backup. ``manifest.json`` names the schema version
and when the snapshot was taken. A restore unpacks into a data directory that has no store yet
and opens the store once, so a damaged backup is refused before anything is served from it.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import tarfile
import tempfile
from pathlib import Path

import pandas as pd

from greenwatch.model import GreenwatchError
from greenwatch.resources import REGISTRY_FILE
from greenwatch.service._tokens import TOKEN_FILE
from greenwatch.store import DuckDBStore

STORE_FILE = "greenwatch.duckdb"
ALERTS_FILE = "alerts.sqlite"
MANIFEST = "manifest.json"
_SQLITE = (REGISTRY_FILE, ALERTS_FILE)
_PLAIN = (TOKEN_FILE, "demo.json")
MEMBERS = (STORE_FILE, *_SQLITE, *_PLAIN)


class BackupError(GreenwatchError):
    """A backup file cannot be restored (not a greenwatch backup, or the target has a store)."""


def write_backup(store: DuckDBStore, data_dir: Path, out: Path) -> dict[str, object]:
    """Write the backup of ``data_dir`` (whose store is ``store``, open) to ``out``; returns
    the manifest."""
    taken = pd.Timestamp.now(tz="UTC")
    with tempfile.TemporaryDirectory(prefix="greenwatch-backup-") as tmp:
        work = Path(tmp)
        store.snapshot(work / STORE_FILE)
        for name in _SQLITE:
            if (data_dir / name).exists():
                with sqlite3.connect(data_dir / name) as src, sqlite3.connect(work / name) as dst:
                    src.backup(dst)
                src.close()
                dst.close()
        for name in _PLAIN:
            if (data_dir / name).exists():
                shutil.copyfile(data_dir / name, work / name)
        files = [name for name in MEMBERS if (work / name).exists()]
        manifest: dict[str, object] = {
            "greenwatch_backup": 1,
            "taken_at": taken.isoformat(),
            "schema_version": store.schema_version,
            "files": files,
        }
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(body), 0o600
            tar.addfile(info, io.BytesIO(body))
            for name in files:
                tar.add(work / name, arcname=name)
        partial.replace(out)  # nothing half-written under the asked name
    return manifest


def restore_backup(archive: Path, data_dir: Path) -> dict[str, object]:
    """Unpack ``archive`` into ``data_dir`` (which must hold no store), then open the store
    once (migrating it if it is older); returns the manifest."""
    if (data_dir / STORE_FILE).exists():
        raise BackupError(
            f"{data_dir} already holds a store: restore into an empty data directory "
            "(or move its files aside first)"
        )
    try:
        with tarfile.open(archive, "r:gz") as tar:
            names = tar.getnames()
            if MANIFEST not in names or not set(names) <= {MANIFEST, *MEMBERS}:
                raise BackupError(f"{archive} is not a greenwatch backup (members: {names})")
            manifest_file = tar.extractfile(MANIFEST)
            assert manifest_file is not None
            manifest: dict[str, object] = json.loads(manifest_file.read())
            data_dir.mkdir(parents=True, exist_ok=True)
            partial = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
            try:
                tar.extractall(
                    partial,
                    members=[tar.getmember(n) for n in names if n != MANIFEST],
                    filter="data",
                )
                DuckDBStore(partial / STORE_FILE, create=False).close()
                for name in names:
                    if name != MANIFEST:
                        (partial / name).replace(data_dir / name)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{archive} cannot be read as a greenwatch backup: {exc}") from None
    return manifest
