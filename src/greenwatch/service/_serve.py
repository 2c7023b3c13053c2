"""``greenwatch serve``: one process with the HTTP API, the dashboard and the scheduler.

**Roles** split it for a scale-out deployment (``deploy/scale-out.md``): ``ingest`` takes
pushes only (stateless: several replicas behind one URL, a retry landing on another replica
stored once by the store); ``ui`` serves the dashboard and the read, KPI, report, resource and
operations APIs; ``jobs`` runs the scheduler — alert evaluation and its API, the KPI snapshot
behind ``/metrics``, reports, retention, kept roll-ups, collection — and must run in exactly
one process. ``all`` is the three (one box). Every role answers ``/healthz`` and ``/readyz``.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import flask
import pandas as pd
from apscheduler.schedulers.background import BackgroundScheduler

from greenwatch.alerts import (
    AUDIT_FILE,
    AlertEngine,
    AuditLog,
    build_dispatcher,
    load_config,
    load_rules,
)
from greenwatch.collect import Collector, Scheduler
from greenwatch.export import ExportSettings, KpiExports, ServiceHealth
from greenwatch.ingest import Boundary, BoundaryPolicy, Ingest, InventorySites
from greenwatch.inventory import Inventory
from greenwatch.model import Clock, concat_batches, utc_now
from greenwatch.query import keep_hourly_pue
from greenwatch.reports import PdfWorker, ReportScheduler, ReportSettings, report_scheduler
from greenwatch.resources import REGISTRY_FILE, ResourceRegistry
from greenwatch.service import (
    _api_alerts,
    _api_ingest,
    _api_kpi,
    _api_metrics,
    _api_ops,
    _api_read,
    _api_reports,
    _api_resources,
    _auth,
)
from greenwatch.service._context import ApiContext
from greenwatch.service._http import HttpServer, create_flask
from greenwatch.service._local import admin_token, publish, withdraw
from greenwatch.service._source import registry_source
from greenwatch.service._tokens import TokenStore
from greenwatch.simulate import Simulator
from greenwatch.store import Store, StoreError

log = logging.getLogger("greenwatch.serve")
LIVE_STEP = pd.Timedelta(seconds=15)
FLUSH_S = 5.0  # collected batches are written together, not one store write per poll
# Each module registers its routes with ``register(app, ctx)``; a role serves its own.
ROLE_MODULES = {
    "ingest": (_api_ingest,),
    "ui": (_api_kpi, _api_read, _api_reports, _api_resources, _api_ops),
    "jobs": (_api_alerts, _api_metrics),
}
ROLES = tuple(ROLE_MODULES)
RETENTION_EVERY_H = 24  # delete what the store's retention no longer keeps, then checkpoint
HOURLY_PUE_EVERY_MIN = 10  # keep the hourly PUE inputs of hours that settled meanwhile
HOURLY_PUE_DAYS = 31  # over the longest window the overview and the monthly report read
ROLLUP_EVERY_S = 60.0  # the engine's hourly summaries: at most once a minute (revisions)
STORE_PROBE_S = 15.0  # read the store this often; a failure makes /readyz 503
ALERT_TICK_S = 15.0  # dispatch this often; rules are evaluated every evaluation_interval


def default_external_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` of the service; a wildcard address becomes this machine's name."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@dataclass
class Service:
    """The running parts of ``greenwatch serve``; :meth:`stop` flushes and closes them."""

    store: Store
    inventory: Inventory
    host: str = "127.0.0.1"
    port: int = 8050
    external_url: str | None = None  # in notifications; default http://HOST:PORT
    clock: Clock = utc_now
    live: Simulator | None = None
    poll_s: float = 15.0
    data_dir: Path | None = None
    tokens: TokenStore | None = None  # default: tokens.json in the data directory
    max_body_bytes: int = _api_ingest.DEFAULT_MAX_BODY
    collectors: Sequence[Collector] = ()  # polled on their targets' intervals into ingest
    reports: ReportSettings | None = None  # scheduled reports into DATA_DIR/reports
    alert_rules: Path | None = None  # None: the national rule pack shipped in greenwatch.alerts
    alert_config: Path | None = None  # None: the shipped default (alerts kept, sent nowhere)
    alerting: bool = True
    dashboards: Path | None = None  # dashboard pages and settings; None: the shipped dashboards/
    export: ExportSettings = field(default_factory=ExportSettings)  # /metrics, OTLP, Influx
    # What pushed data must satisfy; the inventory file (when one) is re-read when it changes.
    boundary_policy: BoundaryPolicy = field(default_factory=BoundaryPolicy)
    inventory_path: Path | None = None
    roles: frozenset[str] = frozenset(ROLES)  # what this process does (see the module's doc)
    ingest: Ingest = field(init=False)
    _ready: threading.Event = field(default_factory=threading.Event, init=False)

    def __post_init__(self) -> None:
        """Built in named steps, each from the ones before it: the write path, the registries
        and the alert engine, the API context, the exports, the HTTP app (API and dashboard),
        the jobs."""
        self.ingest = Ingest(self.store.write)
        self.boundary = Boundary(
            InventorySites(self.inventory, self.inventory_path), self.boundary_policy
        )
        self._store_trouble: str | None = None
        self.resources = self._resource_registry()
        self.compute = registry_source(self.resources)
        unknown = self.roles - set(ROLES)
        if unknown or not self.roles:
            raise ValueError(f"roles must be some of {', '.join(ROLES)}, not {sorted(unknown)}")
        self.alerts = self._alert_engine() if self.alerting and "jobs" in self.roles else None
        audit = self.data_dir / AUDIT_FILE if self.data_dir is not None else None
        self.audit = AuditLog(audit, self.clock)
        self.pdf = PdfWorker(start=False)  # for reports' PDFs; started by the first report
        self.context = self._api_context()
        self.exports = KpiExports(
            self.store,
            self.inventory,
            self.clock,
            self.export,
            health=self._health,
            compute=self.compute,
        )
        self.context.exports = self.exports
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.app = self._flask_app()
        self.http = HttpServer(self.app, self.host, self.port)
        self._collected: list[pd.DataFrame] = []
        self._collected_lock = threading.Lock()
        self.collection: Scheduler | None = None
        self.report_scheduler: ReportScheduler | None = None
        self._add_jobs()

    def _resource_registry(self) -> ResourceRegistry:
        """Computing resources: DATA_DIR/resources.sqlite (in memory without a data directory)."""
        registry = self.data_dir / REGISTRY_FILE if self.data_dir is not None else None
        return ResourceRegistry(registry, self.inventory, clock=self.clock)

    def _api_context(self) -> ApiContext:
        """What every API module serves; tokens default to tokens.json in the data directory."""
        return ApiContext(
            self.store,
            self.inventory,
            self.ingest,
            self.clock,
            self.data_dir,
            self.alerts,
            self.resources,
            self.audit,
            self.boundary,
            tokens=self.tokens or _auth.default_tokens(self.data_dir, self.store),
            max_body_bytes=self.max_body_bytes,
            render_pdf=self.pdf.render,
        )

    def _flask_app(self) -> flask.Flask:
        """The HTTP API (each module registers its routes) with the dashboard mounted on it."""
        flask_app = create_flask(self._ready.is_set, lambda: self._store_trouble)
        _auth.register(flask_app, self.context)
        for role in ROLES:
            for module in ROLE_MODULES[role] if role in self.roles else ():
                module.register(flask_app, self.context)
        if "ui" not in self.roles:
            return flask_app
        from greenwatch.dashboard import create_app  # noqa: PLC0415 - Dash for the ui role only

        create_app(
            self.store,
            self.inventory,
            clock=self.clock,
            server=flask_app,
            dashboards_dir=self.dashboards,
            alerts=self.alerts,
            reports_dir=_api_reports.archive_dir(self.context),
            compute=self.compute,
            bind_host=self.host,
            audit=self.audit,
            boundary=self.boundary.stats,
            scheduler=self.scheduler,
        )
        return flask_app

    def _add_jobs(self) -> None:
        """The store probe; with the jobs role also retention, exports, alerts, the
        simulator, reports, collection."""
        self._every(self.check_store, "store-probe", seconds=STORE_PROBE_S)
        if "jobs" not in self.roles:
            return
        self._every(self.apply_retention, "retention", hours=RETENTION_EVERY_H)
        if callable(getattr(self.store, "roll_up", None)):  # summaries kept in the engine
            self._every(self.roll_up, "rollup", seconds=ROLLUP_EVERY_S)
        if callable(getattr(self.store, "keep", None)):  # else nothing to keep, only to compute
            self._every(self.keep_hourly_pue, "hourly-pue", minutes=HOURLY_PUE_EVERY_MIN)
        self.exports.install(self.scheduler)  # KPI snapshot job; OTLP and Influx pushes
        if self.alerts is not None:
            self._every(self.alerts.tick, "alerts", seconds=ALERT_TICK_S)
        if self.live is not None:
            self._every(self.poll_live, "simulator", seconds=self.poll_s)
        if self.reports is not None:
            if self.data_dir is None:
                raise ValueError("scheduled reports need data_dir (archive: DATA_DIR/reports)")
            archive = _api_reports.archive_dir(self.context)
            assert archive is not None
            self.report_scheduler = report_scheduler(
                self.store,
                self.inventory,
                self.reports,
                archive,
                self.clock,
                compute=self.compute,
                pdf_renderer=self.pdf.render,
            )
            self.report_scheduler.install(self.scheduler)
        if self.collectors:
            self.collection = Scheduler(self._keep, self.collectors, clock=self.clock)
            self._every(self.flush_collected, "collected", seconds=FLUSH_S)

    def _every(self, job: Callable[[], object], job_id: str, **interval: float) -> None:
        """Run ``job`` on the scheduler every ``interval`` (one at a time; missed runs merged)."""
        self.scheduler.add_job(
            job, "interval", id=job_id, max_instances=1, coalesce=True, **interval
        )

    def _keep(self, batch: pd.DataFrame) -> None:
        with self._collected_lock:
            self._collected.append(batch)

    def flush_collected(self) -> int:
        """Ingest what the collectors sent since the last flush, as one batch."""
        with self._collected_lock:
            batches, self._collected = self._collected, []
        return self.ingest.submit(concat_batches(batches)) if batches else 0

    def _alert_engine(self) -> AlertEngine:
        """Rules and receivers as configured; state in DATA_DIR/alerts.sqlite (else memory)."""
        state = self.data_dir / "alerts.sqlite" if self.data_dir is not None else None
        config = load_config(self.alert_config)
        return AlertEngine(
            self.store,
            self.inventory,
            load_rules(self.alert_rules),
            config,
            state_path=state,
            clock=self.clock,
            dispatcher=build_dispatcher(
                config,
                self.inventory,
                clock=self.clock,
                external_url=self.external_url or default_external_url(self.host, self.port),
            ),
            compute=self.compute,
        )

    def _health(self) -> ServiceHealth:
        pending = len(self._collected)
        health = _api_metrics.service_health(
            self.context, self.collection, self.collectors, pending
        )
        memory = getattr(self.store, "memory", None)
        return replace(
            health,
            store_up=self._store_trouble is None,
            store_memory_bytes=memory() if callable(memory) else None,
            store_memory_limit_bytes=getattr(self.store, "memory_limit", None),
        )

    def apply_retention(self) -> None:
        """One retention pass, for stores that have one (:class:`greenwatch.store.Retention`)."""
        apply = getattr(self.store, "apply_retention", None)
        if callable(apply):
            outcome = apply(self.clock())
            if outcome is not None:
                log.info("retention: deleted %s", outcome)

    def keep_hourly_pue(self) -> None:
        """Keep each site's hourly PUE inputs of the hours settled since the last run
        (:func:`greenwatch.query.keep_hourly_pue`): a restarted server answers a month's
        trend from them."""
        now = self.clock()
        sites = [s.id for s in self.inventory.sites]
        keep_hourly_pue(self.store, sites, now - pd.Timedelta(days=HOURLY_PUE_DAYS), now, now)

    def roll_up(self) -> None:
        """Summarise the hours that settled, and redo those late writes touched, over the
        last month (a store that keeps its hourly summaries in the engine)."""
        now = self.clock()
        hours, rows = self.store.roll_up(now, now - pd.Timedelta(days=HOURLY_PUE_DAYS))  # type: ignore[attr-defined]
        if hours:
            log.info("rollup: %s hour(s), %s summary row(s)", hours, rows)

    def check_store(self) -> str | None:
        """Read the store once (stores that can be probed); the failure, or None."""
        probe = getattr(self.store, "probe", None)
        if callable(probe):
            try:
                probe()
            except StoreError as exc:
                if self._store_trouble is None:
                    log.error("store unreadable: %s", exc)
                self._store_trouble = str(exc)
            else:
                self._store_trouble = None
        return self._store_trouble

    def poll_live(self) -> int:
        """Advance the simulated network to now and ingest what it produced."""
        assert self.live is not None
        until = self.clock().floor(LIVE_STEP)
        if until <= self.live.cursor:
            return 0
        return self.ingest.submit(self.live.advance(until, LIVE_STEP))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.http.port}/"

    def start(self) -> None:
        self.check_store()
        self.http.start()
        self.scheduler.start()
        if self.collection is not None:
            self.collection.start()
        if self._published:  # local commands find this server through the data dir
            assert self.data_dir is not None
            admin_token(self.data_dir, self.context.tokens)
            publish(self.data_dir, self.url)
        self._ready.set()

    @property
    def _published(self) -> bool:
        """Whether local commands are sent here: a data directory and the ui's APIs (ingest
        replicas share the directory and serve none of what those commands ask)."""
        return self.data_dir is not None and "ui" in self.roles

    def stop(self) -> None:
        self._ready.clear()
        if self._published:
            assert self.data_dir is not None
            withdraw(self.data_dir)
        if self.collection is not None:
            self.collection.shutdown()
        self.scheduler.shutdown(wait=True)
        self.exports.close()
        if self.alerts is not None:
            self.alerts.close()
        self.flush_collected()
        self.ingest.close()  # refuse new writes (503), let those in flight finish
        self.http.stop()
        self.pdf.close()
        self.resources.close()
        self.store.close()


def wait_for_stop() -> None:
    """Block until Ctrl-C (SIGINT) or SIGTERM.

    Both are handled explicitly: a process started in the background inherits SIGINT ignored,
    so waiting for KeyboardInterrupt would never end.
    """
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


# A server's garbage is mostly big, short-lived batches (a 20,000-line push is as many tag
# dicts and tuples): with the default thresholds those tip the collector into full passes over
# every long-lived object many times a minute, a third of an ingest replica's CPU
# (``bench/scale.py``). Young passes every 50,000 allocations, and full ones more rarely.
GC_THRESHOLDS = (50_000, 20, 100)


def settle_gc() -> None:
    """Once started: what start-up built is kept out of collections for good (``gc.freeze``),
    and the collector runs at :data:`GC_THRESHOLDS`."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def return_freed_memory() -> None:
    """Arrow allocates from the C library's heap (its system pool), which gives back what a
    request freed, not from its default mimalloc pool, which keeps it: ``bench/rss.py``'s serve
    peak went from 871 to 777 MiB, ingest throughput within noise. ``$ARROW_DEFAULT_MEMORY_POOL``
    still chooses."""
    if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
        import pyarrow  # noqa: PLC0415 - the parser's library; imported by then

        pyarrow.set_memory_pool(pyarrow.system_memory_pool())


def run_until_stopped(service: Service, announce: Callable[[str], None]) -> None:
    """Start the service, block until Ctrl-C or SIGTERM, then stop it cleanly."""
    return_freed_memory()
    service.start()
    settle_gc()
    roles = "" if service.roles == set(ROLES) else f" ({', '.join(sorted(service.roles))})"
    what = "the dashboard" if "ui" in service.roles else "its APIs"
    announce(f"greenwatch{roles} is serving {what} at {service.url} (Ctrl-C stops)")
    wait_for_stop()
    announce("greenwatch: stopping…")
    service.stop()
    announce("greenwatch: stopped")
