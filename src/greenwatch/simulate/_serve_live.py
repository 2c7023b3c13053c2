"""A live simulator: the latest sample of every series, refreshed at each 15 s boundary."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from greenwatch.model import Clock, label_columns, utc_now
from greenwatch.simulate._simulator import Simulator

log = logging.getLogger("greenwatch.simulate.serve")
LIVE_STEP = pd.Timedelta(seconds=15)
METER_METRICS = ("power_watts", "energy_joules_total")
FACILITY = "facility"
SNMP_METRICS = (
    "link_transmit_bytes_total",
    "link_receive_bytes_total",
    "link_capacity_bits_per_second",
    "link_up",
)
Labels = tuple[tuple[str, str], ...]  # sorted, without site
SeriesKey = tuple[str, Labels]  # (metric, labels)


@dataclass(frozen=True)
class Snapshot:
    """The latest sample of every series at ``ts``, by site (a missing series is absent)."""

    ts: pd.Timestamp | None = None
    values: Mapping[str, Mapping[SeriesKey, float]] = field(default_factory=dict)

    def site(self, site: str) -> Mapping[SeriesKey, float]:
        """A site's series; empty when the site reported nothing (its collection is down)."""
        return self.values.get(site, {})

    def meter(self, site: str, metric: str, meter: str) -> float | None:
        """``power_watts`` or ``energy_joules_total`` of one metering point, if present."""
        return self.site(site).get((metric, (("meter", meter),)))


def snapshot_of(batch: pd.DataFrame, ts: pd.Timestamp) -> Snapshot:
    """The samples of ``batch`` at ``ts`` as a snapshot."""
    rows = batch[batch["ts"] == ts]
    labels = [c for c in label_columns(rows) if c != "site"]
    frame = rows[["metric", "site", *labels]].astype(object)
    values: dict[str, dict[SeriesKey, float]] = {}
    for record, value in zip(
        frame.itertuples(index=False, name=None), rows["value"].tolist(), strict=True
    ):
        metric, site, *rest = record
        key = tuple((k, str(v)) for k, v in zip(labels, rest, strict=True) if pd.notna(v))
        values.setdefault(str(site), {})[(str(metric), key)] = float(value)
    return Snapshot(ts, values)


def protocol_of(metric: str, labels: Labels, *, snmp: bool) -> str:
    """Which protocol serves a series: ``modbus``, ``redfish``, ``snmp`` or ``prometheus``."""
    if metric in METER_METRICS:
        return "modbus" if dict(labels).get("meter") == FACILITY else "redfish"
    if snmp and metric in SNMP_METRICS:
        return "snmp"
    return "prometheus"


class LiveNetwork:
    """A simulator kept at the present: the sample at the last 15 s boundary of ``clock``.

    Only this object advances the simulator (one simulator per process). Subscribers are
    called with every new snapshot, on the thread that refreshed.
    """

    def __init__(
        self, sim: Simulator, *, clock: Clock = utc_now, step: pd.Timedelta = LIVE_STEP
    ) -> None:
        self.sim = sim
        self.clock = clock
        self.step = pd.Timedelta(step)
        self._snapshot = Snapshot()
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[Snapshot], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    def subscribe(self, callback: Callable[[Snapshot], None]) -> None:
        """Call ``callback`` with the current snapshot now and with every later one."""
        self._subscribers.append(callback)
        callback(self._snapshot)

    def refresh(self) -> Snapshot:
        """Advance to the last step boundary at or before now; the snapshot of that instant."""
        at = self.clock().floor(self.step)
        with self._lock:
            if at < self.sim.cursor:
                return self._snapshot
            batch = self.sim.advance(at + self.step, self.step)
            self._snapshot = snapshot_of(batch, at)
            for callback in self._subscribers:
                callback(self._snapshot)
            return self._snapshot

    def _tick(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # keep serving the last snapshot; say why
                log.exception("advancing the simulated network failed")
            now = self.clock()
            wait = (now.floor(self.step) + self.step - now).total_seconds()
            self._stop.wait(max(wait, 0.0) + 0.05)

    def start(self) -> None:
        """Refresh now, then at every step boundary on a background thread."""
        self.refresh()
        self._thread = threading.Thread(target=self._tick, name="simulate-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
