"""``greenwatch serve``: one process with the HTTP API, the dashboard and the scheduler."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from apscheduler.schedulers.background import BackgroundScheduler

from greenwatch.dashboard import create_app
from greenwatch.ingest import Ingest
from greenwatch.inventory import Inventory
from greenwatch.service import _api_kpi
from greenwatch.service._context import ApiContext
from greenwatch.service._http import HttpServer, create_flask
from greenwatch.simulate import Simulator
from greenwatch.store import Store

log = logging.getLogger("greenwatch.serve")
Clock = Callable[[], pd.Timestamp]
LIVE_STEP = pd.Timedelta(seconds=15)
# Each module registers its routes with ``register(app, ctx)``.
API_MODULES = (_api_kpi,)


def _utcnow() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


@dataclass
class Service:
    """The running parts of ``greenwatch serve``; :meth:`stop` flushes and closes them."""

    store: Store
    inventory: Inventory
    host: str = "127.0.0.1"
    port: int = 8050
    clock: Clock = _utcnow
    live: Simulator | None = None
    poll_s: float = 15.0
    data_dir: Path | None = None
    ingest: Ingest = field(init=False)
    _ready: threading.Event = field(default_factory=threading.Event, init=False)

    def __post_init__(self) -> None:
        self.ingest = Ingest(self.store.write)
        flask_app = create_flask(self._ready.is_set)
        self.context = ApiContext(
            self.store, self.inventory, self.ingest, self.clock, self.data_dir
        )
        for module in API_MODULES:
            module.register(flask_app, self.context)
        create_app(self.store, self.inventory, clock=self.clock, server=flask_app)
        self.http = HttpServer(flask_app, self.host, self.port)
        self.scheduler = BackgroundScheduler(timezone="UTC")
        if self.live is not None:
            self.scheduler.add_job(
                self.poll_live,
                "interval",
                seconds=self.poll_s,
                id="simulator",
                max_instances=1,
                coalesce=True,
            )

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
        self.http.start()
        self.scheduler.start()
        self._ready.set()

    def stop(self) -> None:
        self._ready.clear()
        self.scheduler.shutdown(wait=True)
        self.http.stop()
        self.store.close()


def run_until_stopped(service: Service, announce: Callable[[str], None]) -> None:
    """Start the service, block until Ctrl-C or SIGTERM, then stop it cleanly."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service.start()
    announce(f"greenwatch is serving the dashboard at {service.url} (Ctrl-C stops)")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    announce("greenwatch: stopping…")
    service.stop()
    announce("greenwatch: stopped")
