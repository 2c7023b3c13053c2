"""What every panel renderer gets: the cached store, the inventory, shared derived frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from greenwatch.alerts import AuditLog
from greenwatch.dashboard import _data, _links
from greenwatch.dashboard._auth import Auth
from greenwatch.dashboard._cache import CachingStore, TtlCache, generation_of
from greenwatch.dashboard._spec import Dashboards
from greenwatch.dashboard._view import View
from greenwatch.ingest import BoundaryStats
from greenwatch.inventory import Inventory, Site
from greenwatch.model import Clock
from greenwatch.query import ComputeFigures, ComputeSource, compute_figures
from greenwatch.store import Store

T = TypeVar("T")


@dataclass
class Env:
    """The dashboard's side of the world; ``alerts`` is the alert engine (None: not configured),
    ``compute`` where computing pools and verification records come from (None: the
    inventory's pools, no records)."""

    raw_store: Store
    inventory: Inventory
    dashboards: Dashboards
    clock: Clock
    auth: Auth
    alerts: Any = None
    reports_dir: Path | None = None
    compute: ComputeSource | None = None
    audit: AuditLog | None = None  # operator actions, shown on the alerts page
    boundary: BoundaryStats | None = None  # the ingest boundary's counters (None: elsewhere)
    cache: TtlCache = field(default_factory=TtlCache)
    store: Store = field(init=False)

    def __post_init__(self) -> None:
        self.store = CachingStore(self.raw_store, self.cache)
        self.sites: dict[str, Site] = {s.id: s for s in self.inventory.sites}
        self.links = {lk.id: lk for lk in self.inventory.links}

    def memo(
        self, key: tuple[object, ...], compute: Callable[[], T], *, store_only: bool = False
    ) -> T:
        """A derived value shared by panels for one period (same TTL as the queries, and not
        past the store's next write). ``store_only``: a function of the store alone, kept until
        that write where the store counts its writes (what else a value reads, the registry or
        the ingest counters, changes without one)."""
        generation = generation_of(self.raw_store)
        expires = not store_only or generation is None
        return self.cache.get(("memo", generation, *key), compute, expires=expires)

    def peek(self, key: tuple[object, ...]) -> tuple[bool, Any]:
        """Whether :meth:`memo` has a fresh value of ``key`` (not ``store_only``), and the
        value; computes nothing."""
        return self.cache.peek(("memo", generation_of(self.raw_store), *key))

    def overview(self, view: View) -> pd.DataFrame:
        """Per-site totals of the view's period (one computation for every panel)."""
        return self.memo(
            ("overview", view.start, view.end),
            lambda: _data.overview(self.store, self.inventory, view.start, view.end),
            store_only=True,
        )

    def compute_figures(self, view: View) -> ComputeFigures:
        """Computing-power figures of the view's period (one computation for every panel)."""
        return self.memo(
            ("compute", view.start, view.end),
            lambda: compute_figures(
                self.store, self.inventory, view.start, view.end, source=self.compute
            ),
        )

    def link_health(self, view: View) -> pd.DataFrame:
        """Links over the view's trend range: their state is as fresh as the data."""
        start, end = view.trend_range()
        return self.memo(
            ("links", start, end),
            lambda: _links.link_health(self.store, self.inventory, start, end),
            store_only=True,
        )

    def graph_positions(self) -> dict[str, tuple[float, float]]:
        return self.memo(("graph-layout",), lambda: _links.graph_layout(self.inventory))
