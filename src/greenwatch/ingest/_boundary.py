"""The boundary: what a pushed batch must satisfy before any of it reaches a figure.

One columnar pass per batch (numpy over rows, Python only per distinct label value):

==========================  ==============================================================
check                       outcome
==========================  ==============================================================
timestamp window            outside ``[now - max_age, now + max_future]``: refused (``time``)
site                        not in the inventory: refused (``unknown_site``), or, with
                            ``unknown_sites: quarantine``, held out of the store, counted and
                            listed as an unregistered source (``quarantined``)
closed vocabularies         ``meter``, ``instrument``, ``resource``, ``device_kind`` of a
                            canonical metric outside the registry's values: refused
                            (``vocabulary``), the error lists the allowed values
site power                  ``power_watts`` above ``power_margin`` × ``it_capacity_kw``:
                            refused (``site_power``)
==========================  ==============================================================

Refusals are errors ``(ref, reason)`` of the request (a 400 that stores nothing); the counts
by reason go into the response headers and :class:`BoundaryStats` (``/metrics``). Label hygiene
(control characters) and value ranges per metric are checked where series are mapped
(:mod:`greenwatch.ingest._mapping`), once per series.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from greenwatch.inventory import Inventory, load_inventory
from greenwatch.model import EXT_PREFIX, VOCABULARIES, GreenwatchError

UnknownSites = Literal["refuse", "quarantine"]
SiteCapacities = Mapping[str, float]  # site id -> it_capacity_kw
MAX_AGE = pd.Timedelta(days=400)
MAX_FUTURE = pd.Timedelta(minutes=10)
MAX_REFS = 100  # errors kept per check: a request's 400 names at most this many lines


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|min|s)")
_SECONDS = {"d": 86_400, "h": 3_600, "min": 60, "s": 1}


def parse_duration(text: str) -> pd.Timedelta:
    """``400d``, ``10min``, ``12h``, ``30s`` as a Timedelta; ``ValueError`` naming the text."""
    found = _DURATION.fullmatch(text.strip())
    if found is None:
        raise ValueError(f"{text!r} is not a duration (a number and d, h, min or s: 400d)")
    return pd.Timedelta(float(found[1]) * _SECONDS[found[2]], unit="s")


@dataclass(frozen=True)
class BoundaryPolicy:
    """The plausibility window, what an unknown site gets, and the site power margin.

    ``power_margin`` 3.0: a site's ``power_watts`` may reach three times its IT capacity (a
    PUE of 3 at full IT load, above any centre of the network); more is a wrong unit or a
    forged value.
    """

    max_age: pd.Timedelta = MAX_AGE
    max_future: pd.Timedelta = MAX_FUTURE
    unknown_sites: UnknownSites = "refuse"
    power_margin: float = 3.0

    def widened(self, max_age: pd.Timedelta | None) -> BoundaryPolicy:
        """This policy with a longer ``max_age`` (a bulk backfill), never a shorter one."""
        if max_age is None or max_age <= self.max_age:
            return self
        return BoundaryPolicy(max_age, self.max_future, self.unknown_sites, self.power_margin)


class InventorySites:
    """Site capacities from an inventory file, reloaded when the file's mtime changes.

    A new inventory that does not load keeps the previous one (the error is kept in
    ``last_error`` for the log), so a half-saved file never refuses every site.
    """

    def __init__(self, inventory: Inventory, path: Path | None = None) -> None:
        self._path = path
        self._mtime = self._stat()
        self._sites = _capacities(inventory)
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def _stat(self) -> float | None:
        try:
            return os.stat(self._path).st_mtime if self._path is not None else None
        except OSError:
            return None

    def __call__(self) -> SiteCapacities:
        mtime = self._stat()
        if mtime is not None and mtime != self._mtime:
            with self._lock:
                if mtime != self._mtime:
                    self._mtime = mtime
                    try:
                        self._sites = _capacities(load_inventory(self._path))
                        self.last_error = None
                    except GreenwatchError as exc:
                        self.last_error = str(exc)
        return self._sites


def _capacities(inventory: Inventory) -> dict[str, float]:
    return {site.id: float(site.it_capacity_kw) for site in inventory.sites}


@dataclass
class Source:
    """An unregistered site that sent data: when first and last, and how many samples."""

    site: str
    first_seen: pd.Timestamp
    last_seen: pd.Timestamp
    samples: int


@dataclass
class BoundaryStats:
    """Counters of the boundary since start (``/metrics``) and the unregistered sources."""

    refused_requests: int = 0
    refused: dict[str, int] = field(default_factory=dict)  # reason -> samples (format: lines)
    flagged: dict[str, int] = field(default_factory=dict)  # what -> samples
    sources: dict[str, Source] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def refuse(self, reasons: Mapping[str, int]) -> None:
        """One request refused; ``reasons``: samples (lines, for ``format``) by reason."""
        with self._lock:
            self.refused_requests += 1
            _add(self.refused, reasons)

    def flag(self, counts: Mapping[str, int]) -> None:
        """Samples of a stored request that were flagged (dropped, held out) by what."""
        with self._lock:
            _add(self.flagged, counts)

    def saw(self, sites: Mapping[str, int], now: pd.Timestamp) -> None:
        """Samples of unregistered ``sites`` (site -> samples) held out at ``now``."""
        with self._lock:
            for site, n in sites.items():
                known = self.sources.get(site)
                if known is None:
                    self.sources[site] = Source(site, now, now, n)
                else:
                    known.last_seen, known.samples = now, known.samples + n

    def snapshot(self) -> BoundaryStats:
        """A consistent copy (sources most recent first)."""
        with self._lock:
            sources = sorted(self.sources.values(), key=lambda s: s.last_seen, reverse=True)
            return BoundaryStats(
                self.refused_requests,
                dict(self.refused),
                dict(self.flagged),
                {s.site: Source(s.site, s.first_seen, s.last_seen, s.samples) for s in sources},
            )


def _add(into: dict[str, int], counts: Mapping[str, int]) -> None:
    for key, n in counts.items():
        if n:
            into[key] = into.get(key, 0) + n


@dataclass
class Checked:
    """A batch past the boundary: what may be stored, the refusals, and counts by reason."""

    batch: pd.DataFrame
    refs: np.ndarray
    errors: list[tuple[int, str]]
    refused: dict[str, int]
    quarantined: dict[str, int]  # unregistered site -> samples held out


def _first_refs(
    refs: np.ndarray, mask: np.ndarray, reason: Callable[[int], str]
) -> list[tuple[int, str]]:
    """``(ref, reason(row))`` for the first row of each of the first MAX_REFS refs in mask."""
    rows = np.flatnonzero(mask)
    if not len(rows):
        return []
    unique, first = np.unique(refs[rows], return_index=True)
    pairs = zip(unique[:MAX_REFS], first[:MAX_REFS], strict=True)
    return [(int(r), reason(int(rows[i]))) for r, i in pairs]


def _factor(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes per row (-1: missing) and the distinct values (an object array)."""
    codes, uniques = pd.factorize(column)
    return codes, np.asarray(uniques, dtype=object)


def _not_one_of(
    label: str, values: np.ndarray, codes: np.ndarray, choices: str
) -> Callable[[int], str]:
    return lambda i: f"{label} {values[codes[i]]!r} is not one of: {choices}"


class Boundary:
    """Checks batches against a :class:`BoundaryPolicy` and the inventory's sites."""

    def __init__(
        self,
        sites: Callable[[], SiteCapacities] | None = None,
        policy: BoundaryPolicy | None = None,
    ) -> None:
        self.sites = sites
        self.policy = policy or BoundaryPolicy()
        self.stats = BoundaryStats()

    def check(
        self,
        batch: pd.DataFrame,
        refs: np.ndarray,
        now: pd.Timestamp,
        policy: BoundaryPolicy | None = None,
    ) -> Checked:
        """Refusals and quarantine of one batch (columns ts, metric, value, site, labels…)."""
        policy = policy or self.policy
        if batch.empty:
            return Checked(batch, refs, [], {}, {})
        found = _Refusals(refs, np.zeros(len(batch), dtype=bool))
        _check_time(batch, now, policy, found)
        metric_codes, metrics = _factor(batch["metric"])
        _check_vocabularies(batch, metric_codes, metrics, found)
        quarantined: dict[str, int] = {}
        if self.sites is not None:
            quarantined = _check_sites(batch, metric_codes, metrics, self.sites(), policy, found)
        if found.errors:
            return Checked(batch.iloc[:0], refs[:0], sorted(found.errors), found.refused, {})
        keep = ~found.bad
        if keep.all():
            return Checked(batch, refs, [], {}, {})
        return Checked(batch[keep].reset_index(drop=True), refs[keep], [], {}, quarantined)


@dataclass
class _Refusals:
    """What the checks of one batch found: rows held back, errors by ref, counts by reason."""

    refs: np.ndarray
    bad: np.ndarray
    errors: list[tuple[int, str]] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)

    def refuse(self, reason: str, mask: np.ndarray, why: Callable[[int], str]) -> None:
        n = int(mask.sum())
        if n:
            self.refused[reason] = self.refused.get(reason, 0) + n
            self.errors.extend(_first_refs(self.refs, mask, why))
            self.bad |= mask


def _check_time(
    batch: pd.DataFrame, now: pd.Timestamp, policy: BoundaryPolicy, found: _Refusals
) -> None:
    t = batch["ts"].to_numpy(dtype="datetime64[ns]").view("int64")
    lo, hi = now - policy.max_age, now + policy.max_future
    window = f"[{lo.isoformat()}, {hi.isoformat()}]"
    found.refuse(
        "time",
        (t < lo.value) | (t > hi.value),
        lambda i: (
            f"timestamp {pd.Timestamp(t[i], tz='UTC').isoformat()} is outside the accepted "
            f"window {window} (max_age {policy.max_age}, max_future {policy.max_future})"
        ),
    )


def _check_vocabularies(
    batch: pd.DataFrame, metric_codes: np.ndarray, metrics: np.ndarray, found: _Refusals
) -> None:
    """Canonical metrics' labels take their vocabulary's values only. Labels are checked per
    distinct value and spread back over the rows by their codes."""
    canonical = np.array([not str(m).startswith(EXT_PREFIX) for m in metrics])[metric_codes]
    for label, allowed in VOCABULARIES.items():
        if label not in batch:
            continue
        codes, values = _factor(batch[label])
        outside = np.array([v not in allowed for v in values], dtype=bool)
        wrong = canonical & (codes >= 0) & np.append(outside, False)[codes]
        found.refuse(
            "vocabulary", wrong, _not_one_of(label, values, codes, ", ".join(sorted(allowed)))
        )


def _check_sites(
    batch: pd.DataFrame,
    metric_codes: np.ndarray,
    metrics: np.ndarray,
    capacities: SiteCapacities,
    policy: BoundaryPolicy,
    found: _Refusals,
) -> dict[str, int]:
    """Unknown sites refused or quarantined (the samples held out per site, returned); power
    above the site's IT capacity × margin refused."""
    quarantined: dict[str, int] = {}
    site_codes, sites = _factor(batch["site"])
    capacity_kw = np.array([capacities.get(s, np.nan) for s in sites], dtype="float64")
    known = ~np.isnan(capacity_kw[site_codes])
    if not known.all():
        unknown = pd.Series(sites[site_codes[~known]]).value_counts()
        names = ", ".join(str(s) for s in unknown.index[:20])
        if policy.unknown_sites == "quarantine":
            quarantined = {str(s): int(n) for s, n in unknown.items()}
            found.bad |= ~known
        else:
            found.refuse(
                "unknown_site",
                ~known,
                lambda i: (
                    f"site {sites[site_codes[i]]!r} is not in the inventory "
                    f"(unknown site(s): {names})"
                ),
            )
    power = np.array([m == "power_watts" for m in metrics], dtype=bool)[metric_codes]
    limit_w = capacity_kw[site_codes] * 1000.0 * policy.power_margin
    values = batch["value"].to_numpy("float64")
    over = power & (values > limit_w)  # NaN limit (unknown site) compares False
    found.refuse(
        "site_power",
        over,
        lambda i: (
            f"power_watts {values[i]:.6g} W at site {sites[site_codes[i]]!r} exceeds "
            f"{policy.power_margin:g} × its it_capacity_kw "
            f"({capacity_kw[site_codes[i]]:.6g} kW)"
        ),
    )
    return quarantined
