"""The simulator's HTTP side: Prometheus exposition pages and one Redfish service per site.

One waitress server (a fixed pool of worker threads, poll-based, so a thousand scrapers'
keep-alive connections cost file descriptors, not threads) listens on every port and routes
by the port a request came in on. Pages are rendered once per snapshot, when the live network
refreshes; a request only looks its bytes up.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from waitress.server import create_server

from greenwatch.model import REGISTRY
from greenwatch.simulate._serve_live import (
    LiveNetwork,
    SeriesKey,
    Snapshot,
    protocol_of,
)

StartResponse = Callable[..., Any]
Page = tuple[str, bytes]  # status line, body
TEXT = "text/plain; version=0.0.4; charset=utf-8"
JSON = "application/json; charset=utf-8"
ROOT = "/redfish/v1"
METER_NAMES = {
    "it_ups_output": "UPS output (IT, PUE category 1)",
    "it_pdu_output": "PDU output (IT, PUE category 2)",
    "it_input": "IT equipment input (PUE category 3)",
    "cooling": "Cooling plant",
    "generator": "Generator",
    "renewable_onsite": "On-site renewable generation",
}
JOULES_PER_KWH = 3.6e6
_NOT_FOUND: Page = ("404 Not Found", b'{"error": "not found"}')
_DOWN: Page = ("503 Service Unavailable", b'{"error": "site collection is down"}')
_THREAD = "simulate-http"


def _not_ours(record: logging.LogRecord) -> bool:
    """Drop waitress's "Task queue depth" warnings of the simulator's server (its burst of
    scrapes every 15 s queues by design); a service's own server in the process keeps them."""
    return record.threadName != _THREAD


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def exposition(rows: Iterable[tuple[str, str, SeriesKey, float]]) -> bytes:
    """Prometheus text format 0.0.4 of ``(site, metric, (metric, labels), value)`` rows.

    Values are written with ``repr`` (shortest text that reads back as the same float).
    """
    by_metric: dict[str, list[str]] = {}
    for site, metric, (_, labels), value in rows:
        pairs = sorted((("site", site), *labels))
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
        by_metric.setdefault(metric, []).append(f"{metric}{{{text}}} {value!r}")
    lines: list[str] = []
    for metric in sorted(by_metric):
        spec = REGISTRY.get(metric)
        if spec is not None:
            lines.append(f"# HELP {metric} {spec.help}")
            lines.append(f"# TYPE {metric} {spec.kind.value}")
        lines.extend(sorted(by_metric[metric]))
    return ("\n".join(lines) + "\n").encode()


def _doc(path: str, kind: str, **body: Any) -> bytes:
    return json.dumps({"@odata.id": path, "@odata.type": kind, **body}).encode()


def _link(path: str) -> dict[str, str]:
    return {"@odata.id": path}


def redfish_tree(site: str, meters: Iterable[str], snap: Snapshot) -> dict[str, bytes]:
    """A site's Redfish documents by path: a Chassis per metering point, Id = the meter.

    EnvironmentMetrics carries ``PowerWatts.Reading`` (W) and ``EnergykWh.Reading`` (kWh);
    a reading the snapshot lacks (meter dropout) is ``null``.
    """
    chassis = f"{ROOT}/Chassis"
    docs = {
        ROOT: _doc(
            ROOT,
            "#ServiceRoot.v1_17_0.ServiceRoot",
            Id="RootService",
            Name=f"greenwatch simulator, site {site}",
            RedfishVersion="1.20.0",
            Chassis=_link(chassis),
        )
    }
    members = []
    for meter in sorted(meters):
        path = f"{chassis}/{meter}"
        members.append(_link(path))
        docs[path] = _doc(
            path,
            "#Chassis.v1_25_0.Chassis",
            Id=meter,
            Name=METER_NAMES.get(meter, meter),
            ChassisType="Zone",
            Status={"State": "Enabled", "Health": "OK"},
            EnvironmentMetrics=_link(f"{path}/EnvironmentMetrics"),
        )
        watts = snap.meter(site, "power_watts", meter)
        joules = snap.meter(site, "energy_joules_total", meter)
        docs[f"{path}/EnvironmentMetrics"] = _doc(
            f"{path}/EnvironmentMetrics",
            "#EnvironmentMetrics.v1_3_2.EnvironmentMetrics",
            Id="EnvironmentMetrics",
            Name=f"{METER_NAMES.get(meter, meter)} metrics",
            PowerWatts={"Reading": watts},
            EnergykWh={"Reading": None if joules is None else joules / JOULES_PER_KWH},
        )
    docs[chassis] = _doc(
        chassis,
        "#ChassisCollection.ChassisCollection",
        Name="Chassis Collection",
        Members=members,
        **{"Members@odata.count": len(members)},
    )
    return docs


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class HttpEndpoints:
    """Prometheus on one port, a Redfish service per site on the others (0: a free port)."""

    def __init__(
        self,
        live: LiveNetwork,
        host: str,
        prometheus_port: int,
        redfish_ports: Mapping[str, int],
        *,
        snmp: bool,
        threads: int = 8,
    ) -> None:
        self._snmp = snmp
        self._sites = tuple(redfish_ports)
        self._meters: dict[str, set[str]] = {s: set() for s in self._sites}
        self._prometheus: dict[str, Page] = {}
        self._redfish: dict[str, dict[str, bytes]] = {}
        self._down: set[str] = set()
        self._lock = threading.Lock()
        sockets: list[socket.socket] = []
        try:
            sockets.append(_bind(host, prometheus_port))
            sockets += [_bind(host, port) for port in redfish_ports.values()]
        except OSError:
            for sock in sockets:
                sock.close()
            raise
        ports = [int(s.getsockname()[1]) for s in sockets]
        self.prometheus_port = ports[0]
        self.redfish_ports = dict(zip(self._sites, ports[1:], strict=True))
        self._site_of_port = {p: s for s, p in self.redfish_ports.items()}
        self._server = create_server(
            self._app,
            sockets=sockets,
            threads=threads,
            connection_limit=8192,
            channel_timeout=60,
            asyncore_use_poll=True,  # select() stops at 1024 descriptors
            ident="greenwatch-simulator",
        )
        self._thread = threading.Thread(target=self._server.run, name=_THREAD, daemon=True)
        logging.getLogger("waitress.queue").addFilter(_not_ours)
        live.subscribe(self._render)

    def _render(self, snap: Snapshot) -> None:
        rows: list[tuple[str, str, SeriesKey, float]] = []
        mine: dict[str, list[tuple[str, str, SeriesKey, float]]] = {s: [] for s in self._sites}
        for site in self._sites:
            for key, value in snap.site(site).items():
                metric, labels = key
                row = (site, metric, key, value)
                rows.append(row)
                where = protocol_of(metric, labels, snmp=self._snmp)
                if where == "prometheus":
                    mine[site].append(row)
                elif where == "redfish":
                    self._meters[site].add(dict(labels)["meter"])
        pages = {f"/sites/{s}/metrics": ("200 OK", exposition(r)) for s, r in mine.items()}
        pages["/metrics"] = ("200 OK", exposition(rows))
        trees = {s: redfish_tree(s, self._meters[s], snap) for s in self._sites}
        down = {s for s in self._sites if not snap.site(s)}
        with self._lock:
            self._prometheus, self._redfish, self._down = pages, trees, down

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        path = environ.get("PATH_INFO", "/").rstrip("/") or "/"
        site = self._site_of_port.get(int(environ["SERVER_PORT"]))
        with self._lock:
            if environ.get("REQUEST_METHOD") != "GET":
                status, body, ctype = "405 Method Not Allowed", b"{}", JSON
            elif site is None:
                status, body = self._prometheus.get(path, _NOT_FOUND)
                ctype = TEXT if status.startswith("200") else JSON
                if path.startswith("/sites/") and path.split("/")[2] in self._down:
                    status, body, ctype = *_DOWN, JSON
            elif site in self._down:
                status, body, ctype = *_DOWN, JSON
            else:
                doc = self._redfish.get(site, {}).get(path)
                status, body = ("200 OK", doc) if doc is not None else _NOT_FOUND
                ctype = JSON
        headers = [("Content-Type", ctype), ("Content-Length", str(len(body)))]
        if site is not None:
            headers.append(("OData-Version", "4.0"))
        start_response(status, headers)
        return iter([body])

    def __enter__(self) -> HttpEndpoints:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()
        self._thread.join(timeout=5)
