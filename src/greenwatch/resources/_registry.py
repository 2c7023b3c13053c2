"""The computing-resource registry: versioned compute pools and their verification records.

Pools declared in the inventory are version 0 (``registered_by="inventory"``); they are derived,
never stored, so an edit of the inventory shows up. Each registration or removal of a pool stores
the next version of that (site, pool), so the history is kept. Everything lives in one SQLite
file (in memory when no path is given): writes run in ``BEGIN IMMEDIATE`` transactions that
read the current version and insert the next one, so concurrent writers in many threads and
several processes never lose an update.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from greenwatch.inventory import (
    CLASS_PRECISION,
    ComputePool,
    Inventory,
    Precision,
    Site,
    pool_peak_flops,
    pool_problems,
)
from greenwatch.model import Clock, ConfigError, YamlDocument, parse_model, utc_now
from greenwatch.resources._errors import PoolNotFoundError, RegistrationError, VersionConflictError
from greenwatch.resources._verify import (
    Verification,
    parse_verification,
    plausibility_problems,
    utc,
)

INVENTORY = "inventory"
# A record stamped later than this past the registry's clock is a clock error, not a result.
MAX_CLOCK_SKEW = pd.Timedelta(minutes=5)
BUSY_TIMEOUT_S = 60.0  # how long a writer waits for another process's transaction

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS pool_versions (
        site TEXT NOT NULL,
        pool_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        registered_by TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        payload TEXT NOT NULL,
        removed INTEGER NOT NULL,
        PRIMARY KEY (site, pool_id, version))""",
    """CREATE TABLE IF NOT EXISTS verifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        site TEXT NOT NULL,
        pool_id TEXT NOT NULL,
        benchmark TEXT NOT NULL,
        precision TEXT NOT NULL,
        measured_flops REAL,
        devices INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        at TEXT NOT NULL,
        recorded_by TEXT NOT NULL,
        detail TEXT NOT NULL)""",
)
_VERSION_COLUMNS = "site, pool_id, version, registered_by, registered_at, payload, removed"
_LATEST = (
    f"SELECT {_VERSION_COLUMNS} FROM pool_versions AS p WHERE version = "
    "(SELECT MAX(version) FROM pool_versions AS q WHERE q.site = p.site AND q.pool_id = p.pool_id)"
)


def _payload(pool: ComputePool) -> str:
    return json.dumps(pool.model_dump(by_alias=True, mode="json"), sort_keys=True)


@dataclass(frozen=True)
class PoolVersion:
    """One version of a site's pool; ``removed`` marks the version that took it away."""

    site: str
    pool: ComputePool
    version: int
    registered_by: str
    registered_at: pd.Timestamp
    removed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """``{"site", "pool": {pool fields, YAML keys}, "version", "registered_by",
        "registered_at" (ISO 8601 UTC), "removed"}``."""
        return {
            "site": self.site,
            "pool": self.pool.model_dump(by_alias=True, mode="json"),
            "version": self.version,
            "registered_by": self.registered_by,
            "registered_at": self.registered_at.isoformat(),
            "removed": self.removed,
        }


def _version(row: tuple[Any, ...]) -> PoolVersion:
    site, _, version, by, at, payload, removed = row
    pool = ComputePool.model_validate(json.loads(payload))
    return PoolVersion(site, pool, int(version), by, pd.Timestamp(at), bool(removed))


def _parse_pool(pool: ComputePool | Mapping[str, Any]) -> tuple[ComputePool | None, list[Any]]:
    if isinstance(pool, ComputePool):
        return pool, []
    try:
        return parse_model(YamlDocument("<pool>", dict(pool)), ComputePool), []
    except ConfigError as exc:
        return None, [(f"pool.{key}" if key else "pool", msg) for _, key, msg in exc.problems]


class ResourceRegistry:
    """Versioned compute pools over an inventory, in SQLite at ``path`` (None: in memory).

    One connection is shared by the threads of a process (under a lock); other processes may
    open the same file at the same time. Close it with :meth:`close` or a ``with`` block.
    """

    def __init__(self, path: Path | None, inventory: Inventory, clock: Clock = utc_now) -> None:
        self.path = path
        self.inventory = inventory
        self._clock = clock
        self._sites = {site.id: site for site in inventory.sites}
        self._catalogue = inventory.catalogue()
        self._loaded_at = utc(clock())  # registered_at of the inventory's version 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(
            ":memory:" if path is None else str(path),
            timeout=BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
        self._lock = threading.Lock()
        if path is not None:
            self._con.execute("PRAGMA journal_mode=WAL")
        with self._write() as cur:
            for statement in _SCHEMA:
                cur.execute(statement)

    def __enter__(self) -> ResourceRegistry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._con.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction that holds the database's write lock from its first statement."""
        with self._lock:
            cur = self._con.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                cur.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._con.execute(sql, params).fetchall()

    def _declared(self, site: str, pool_id: str) -> PoolVersion | None:
        declared = self._sites.get(site)
        for pool in declared.compute if declared is not None else ():
            if pool.id == pool_id:
                return PoolVersion(site, pool, 0, INVENTORY, self._loaded_at)
        return None

    def _latest(self, cur: sqlite3.Cursor, site: str, pool_id: str) -> PoolVersion | None:
        row = cur.execute(
            f"SELECT {_VERSION_COLUMNS} FROM pool_versions WHERE site = ? AND pool_id = ? "
            "ORDER BY version DESC LIMIT 1",
            (site, pool_id),
        ).fetchone()
        return _version(row) if row is not None else self._declared(site, pool_id)

    def _current(self, rows: list[tuple[Any, ...]], site: str | None = None) -> list[PoolVersion]:
        """Inventory pools overlaid by the latest stored ``rows``; removed ones left out."""
        latest = {(r[0], r[1]): _version(r) for r in rows}
        for declared in self.inventory.sites:
            if site is None or declared.id == site:
                for pool in declared.compute:
                    latest.setdefault(
                        (declared.id, pool.id),
                        PoolVersion(declared.id, pool, 0, INVENTORY, self._loaded_at),
                    )
        # A site since dropped from the inventory has nothing to count its pools against.
        kept = [v for v in latest.values() if not v.removed and v.site in self._sites]
        return sorted(kept, key=lambda v: (v.site, v.pool.id))

    def _insert(
        self,
        cur: sqlite3.Cursor,
        site: str,
        pool: ComputePool,
        version: int,
        by: str,
        *,
        removed: bool,
    ) -> PoolVersion:
        at = utc(self._clock())
        cur.execute(
            f"INSERT INTO pool_versions ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (site, pool.id, version, by, at.isoformat(), _payload(pool), int(removed)),
        )
        return PoolVersion(site, pool, version, by, at, removed)

    def register(
        self,
        site: str,
        pool: ComputePool | Mapping[str, Any],
        by: str,
        expected_version: int | None = None,
    ) -> PoolVersion:
        """Store ``pool`` as the next version of (site, pool id); returns that version.

        A pool identical to the current version stores nothing and returns the current one (a
        retried request is harmless). ``expected_version`` (0: declared in the inventory or
        new) guards against overwriting a change made meanwhile: :class:`VersionConflictError`.
        Every problem is reported at once in a :class:`RegistrationError` keyed ``site``,
        ``by`` or ``pool.<field>``.
        """
        parsed, problems = _parse_pool(pool)
        if not by:
            problems.append(("by", "name who registers the pool"))
        known = self._sites.get(site)
        if known is None:
            problems.append(("site", f"unknown site {site!r}"))
            if parsed is not None:  # still judge the model and class, against no capacity
                problems += [
                    (f"pool.{key}", msg)
                    for key, msg in pool_problems(parsed, self._catalogue, math.inf)
                ]
        if problems or parsed is None or known is None:
            raise RegistrationError(problems)
        with self._write() as cur:
            current = self._latest(cur, site, parsed.id)
            if current is not None and not current.removed and current.pool == parsed:
                return current
            version = current.version if current is not None else 0
            if expected_version is not None and expected_version != version:
                raise VersionConflictError(site, parsed.id, expected_version, version)
            others = self._site_pools(cur, known)
            problems = [
                (f"pool.{key}", msg)
                for key, msg in pool_problems(
                    parsed, self._catalogue, known.it_capacity_kw, [v.pool for v in others]
                )
            ]
            if problems:
                raise RegistrationError(problems)
            return self._insert(cur, site, parsed, version + 1, by, removed=False)

    def _site_pools(self, cur: sqlite3.Cursor, site: Site) -> list[PoolVersion]:
        rows = cur.execute(f"{_LATEST} AND site = ?", (site.id,)).fetchall()
        return self._current(rows, site.id)

    def remove(self, site: str, pool_id: str, by: str) -> PoolVersion:
        """Store a version marking the pool removed (its history stays); :class:`PoolNotFoundError`
        when there is no current pool to remove."""
        if not by:
            raise RegistrationError([("by", "name who removes the pool")])
        with self._write() as cur:
            current = self._latest(cur, site, pool_id)
            if current is None or current.removed:
                raise PoolNotFoundError(site, pool_id)
            return self._insert(cur, site, current.pool, current.version + 1, by, removed=True)

    def pools(
        self,
        *,
        site: str | None = None,
        hub: str | None = None,
        region: str | None = None,
        compute_class: str | None = None,
    ) -> list[PoolVersion]:
        """Current, non-removed pools sorted by (site, pool id), optionally filtered."""
        rows = self._rows(f"{_LATEST} AND site = ?", (site,)) if site else self._rows(_LATEST)
        out = []
        for version in self._current(rows, site):
            where = self._sites[version.site]
            if hub is not None and where.hub != hub:
                continue
            if region is not None and where.region.value != region:
                continue
            if compute_class is not None and version.pool.compute_class.value != compute_class:
                continue
            out.append(version)
        return out

    def get(self, site: str, pool_id: str) -> PoolVersion | None:
        """The current version of a pool, or None when unknown or removed."""
        history = self.history(site, pool_id)
        return history[-1] if history and not history[-1].removed else None

    def history(self, site: str, pool_id: str) -> list[PoolVersion]:
        """Every version of a pool, oldest first (version 0 when the inventory declares it)."""
        rows = self._rows(
            f"SELECT {_VERSION_COLUMNS} FROM pool_versions WHERE site = ? AND pool_id = ? "
            "ORDER BY version",
            (site, pool_id),
        )
        declared = self._declared(site, pool_id)
        return [*([declared] if declared is not None else []), *map(_version, rows)]

    def view(self, version: PoolVersion) -> dict[str, Any]:
        """:meth:`PoolVersion.to_dict` plus the site's ``hub`` and ``region``, ``precision``
        (the class's) and ``rated_flops`` (the pool's rated peak in FLOPS; 0 for an unknown
        model)."""
        site = self._sites.get(version.site)
        model = self._catalogue.find(version.pool.model)
        rated = pool_peak_flops(version.pool, model) if model is not None else 0.0
        return {
            **version.to_dict(),
            "hub": site.hub if site is not None else None,
            "region": site.region.value if site is not None else None,
            "precision": CLASS_PRECISION[version.pool.compute_class].value,
            "rated_flops": rated,
        }

    def detail(self, site: str, pool_id: str) -> dict[str, Any] | None:
        """:meth:`view` of the latest version (a removed pool too) with its ``history``; None
        for a pool that never existed."""
        history = self.history(site, pool_id)
        if not history:
            return None
        return {**self.view(history[-1]), "history": [v.to_dict() for v in history]}

    def record_verification(self, record: Mapping[str, Any], by: str) -> Verification:
        """Validate and store a verification record (keys as :class:`Verification`, ``at``
        optional: now); :class:`RegistrationError` keyed by field for every problem."""
        parsed = parse_verification(record)
        now = utc(self._clock())
        at = utc(parsed.at) if parsed.at is not None else now
        problems: list[tuple[str, str]] = []
        if not by:
            problems.append(("by", "name who records the verification"))
        if at > now + MAX_CLOCK_SKEW:
            problems.append(("at", f"{at.isoformat()} is in the future (now {now.isoformat()})"))
        with self._write() as cur:
            pool = None
            if parsed.site not in self._sites:
                problems.append(("site", f"unknown site {parsed.site!r}"))
            else:
                current = self._latest(cur, parsed.site, parsed.pool)
                pool = current.pool if current is not None and not current.removed else None
                if pool is None:
                    problems.append(("pool", f"no pool {parsed.pool!r} at site {parsed.site}"))
            if pool is not None:
                model = self._catalogue.find(pool.model)
                problems += plausibility_problems(parsed, pool, model)
            if problems:
                raise RegistrationError(problems)
            out = Verification(
                parsed.site,
                parsed.pool,
                parsed.benchmark,
                parsed.precision,
                parsed.measured_flops,
                parsed.devices,
                parsed.passed,
                at,
                by,
                parsed.detail,
            )
            cur.execute(
                "INSERT INTO verifications (site, pool_id, benchmark, precision, "
                "measured_flops, devices, passed, at, recorded_by, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    out.site,
                    out.pool,
                    out.benchmark,
                    out.precision.value,
                    out.measured_flops,
                    out.devices,
                    int(out.passed),
                    out.at.isoformat(),
                    out.recorded_by,
                    out.detail,
                ),
            )
            return out

    def verifications(self, site: str | None = None, pool: str | None = None) -> list[Verification]:
        """Stored verification records, oldest ``at`` first, optionally of one site or pool."""
        rows = self._rows(
            "SELECT site, pool_id, benchmark, precision, measured_flops, devices, passed, at, "
            "recorded_by, detail FROM verifications "
            "WHERE (? IS NULL OR site = ?) AND (? IS NULL OR pool_id = ?) ORDER BY id",
            (site, site, pool, pool),
        )
        records = [
            Verification(
                s, p, b, Precision(prec), flops, int(n), bool(ok), pd.Timestamp(at), by, detail
            )
            for s, p, b, prec, flops, n, ok, at, by, detail in rows
        ]
        return sorted(records, key=lambda r: r.at)
