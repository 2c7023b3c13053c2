"""The simulated network on the wire: one live Simulator, served the way centres' devices are.

:class:`LiveNetwork` advances a :class:`Simulator` to the present in 15 s steps (a ticker
thread, or :meth:`LiveNetwork.refresh` by hand) and keeps the latest sample of every series
as a :class:`Snapshot`. :class:`SimulatedCentres` serves it on loopback; each canonical series
comes from exactly one protocol, so collecting every endpoint yields every series once:

============  ===========================================  ==================================
protocol      what (per site)                              profile that reads it
============  ===========================================  ==================================
Modbus TCP    the facility incomer, an Eastron SDM630-     ``eastron-sdm630`` with target
              style meter (float32 input registers) on a   labels ``{meter: facility}``
              gateway: one unit id per site
Redfish       one service (port) per site: a Chassis per   ``redfish-meters`` (power_watts /
              other metering point, Id = the meter         energy_joules_total by meter) or
              (``it_input``, ``cooling``…), with           ``redfish`` (device_* series)
              EnvironmentMetrics PowerWatts and EnergykWh
SNMP v2c      one agent (UDP port) per link: IF-MIB        ``snmp-if-mib`` with target labels
              ``wan0`` octet counters, speed, status       ``{link: <id>}``
Prometheus    ``/sites/<site>/metrics``: the site's BMS    ``greenwatch`` (canonical names)
              exporter, every other series (water, green
              energy, utilisation, temperatures, probes)
============  ===========================================  ==================================

``/metrics`` on the Prometheus port serves every series of every site (with ``site``
labels) for a look or a Prometheus server. :meth:`SimulatedCentres.target_specs` lists the
matching collector targets as plain dicts (the ``targets:`` entries of a targets file).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from greenwatch.inventory import Inventory
from greenwatch.model import utc_now
from greenwatch.simulate._serve_http import HttpEndpoints
from greenwatch.simulate._serve_live import FACILITY, LiveNetwork
from greenwatch.simulate._serve_modbus import ModbusGateway
from greenwatch.simulate._simulator import Simulator

LOOPBACK = "127.0.0.1"
UNITS_PER_GATEWAY = 247  # Modbus unit ids 1..247


@dataclass(frozen=True)
class Endpoint:
    """One listening endpoint: protocol, ``host:port`` and what it serves."""

    protocol: str
    address: str
    serves: str


class SimulatedCentres:
    """Protocol servers on loopback over one :class:`LiveNetwork`.

    ``base_port`` 0 takes free ports; otherwise the Prometheus endpoint listens on
    ``base_port``, the Modbus gateways on the next ports (247 sites each), then one Redfish
    service per site; SNMP agents use UDP ports from ``base_port`` on, one per link.
    ``snmp=False`` leaves link counters to the Prometheus pages.
    """

    def __init__(
        self,
        live: LiveNetwork,
        inventory: Inventory,
        *,
        host: str = LOOPBACK,
        base_port: int = 0,
        snmp: bool = True,
        http_threads: int = 8,
    ) -> None:
        self.live = live
        self.host = host
        self.sites = tuple(s.id for s in inventory.sites)
        self.links = tuple((link.id, link.a) for link in inventory.links)
        self.snmp = snmp
        self._base = base_port
        self._http_threads = http_threads
        self._stack = ExitStack()
        self.prometheus_port = 0
        self.redfish_ports: dict[str, int] = {}
        self.modbus_units: dict[str, tuple[int, int]] = {}  # site -> (port, unit id)
        self.snmp_ports: dict[str, int] = {}  # link -> UDP port

    def _port(self, offset: int) -> int:
        return self._base + offset if self._base else 0

    def start(self) -> None:
        """Refresh the network, start every server and the ticker."""
        try:
            self.live.start()
            self._stack.callback(self.live.stop)
            groups = [
                self.sites[i : i + UNITS_PER_GATEWAY]
                for i in range(0, len(self.sites), UNITS_PER_GATEWAY)
            ]
            for g, sites in enumerate(groups):
                gateway = ModbusGateway(self.live, sites, self.host, self._port(1 + g))
                self._stack.enter_context(gateway)
                self.modbus_units |= {s: (gateway.port, u + 1) for u, s in enumerate(sites)}
            first = 1 + len(groups)
            http = HttpEndpoints(
                self.live,
                self.host,
                self._port(0),
                {s: self._port(first + i) for i, s in enumerate(self.sites)},
                snmp=self.snmp,
                threads=self._http_threads,
            )
            self._stack.enter_context(http)
            self.prometheus_port, self.redfish_ports = http.prometheus_port, http.redfish_ports
            if self.snmp and self.links:
                from greenwatch.simulate._serve_snmp import (  # noqa: PLC0415 - pysnmp when asked
                    SnmpAgents,
                )

                agents = SnmpAgents(
                    self.live,
                    self.links,
                    self.host,
                    {lk: self._port(i) for i, (lk, _) in enumerate(self.links)},
                )
                self._stack.enter_context(agents)
                self.snmp_ports = agents.ports
        except BaseException:
            self._stack.close()
            raise

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> SimulatedCentres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def endpoints(self) -> list[Endpoint]:
        """What listens where (for ``greenwatch simulate serve`` to print)."""
        h = self.host
        out = [
            Endpoint(
                "prometheus",
                f"{h}:{self.prometheus_port}",
                "/metrics (every site), /sites/<site>/metrics (one site's BMS exporter)",
            )
        ]
        for port in sorted({p for p, _ in self.modbus_units.values()}):
            units = sorted(u for p, u in self.modbus_units.values() if p == port)
            out.append(
                Endpoint(
                    "modbus", f"{h}:{port}", f"facility meters, unit ids {units[0]}-{units[-1]}"
                )
            )
        out += [Endpoint("redfish", f"{h}:{p}", s) for s, p in self.redfish_ports.items()]
        out += [Endpoint("snmp", f"{h}:{p}/udp", lk) for lk, p in self.snmp_ports.items()]
        return out

    def target_specs(
        self, interval_s: float = 15.0, timeout_s: float = 5.0, snmp_interval_s: float = 60.0
    ) -> list[dict[str, Any]]:
        """Collector targets for every endpoint, as ``targets:`` entries of a targets file.

        Every target carries its ``profile``; each canonical series is read by one target.
        Link routers are polled every ``snmp_interval_s``: interface counters are commonly
        read once a minute (the backfill's resolution), and an SNMP poll costs the collector
        about ten times an HTTP one.
        """
        h = self.host
        timing: dict[str, Any] = {"interval_s": interval_s, "timeout_s": timeout_s}
        out: list[dict[str, Any]] = []
        for site in self.sites:
            port, unit = self.modbus_units[site]
            out += [
                {
                    "name": f"{site}/bms",
                    "site": site,
                    "profile": "greenwatch",
                    "url": f"http://{h}:{self.prometheus_port}/sites/{site}/metrics",
                    **timing,
                },
                {
                    "name": f"{site}/redfish",
                    "site": site,
                    "profile": "redfish-meters",
                    "url": f"http://{h}:{self.redfish_ports[site]}",
                    **timing,
                },
                {
                    "name": f"{site}/facility-meter",
                    "site": site,
                    "profile": "eastron-sdm630",
                    "address": f"{h}:{port}",
                    "device_id": unit,
                    "labels": {"meter": FACILITY},
                    **timing,
                },
            ]
        sites = dict(self.links)
        out += [
            {
                "name": f"{link}/router",
                "site": sites[link],
                "profile": "snmp-if-mib",
                "address": f"{h}:{port}",
                "labels": {"link": link},
                **timing,
                "interval_s": snmp_interval_s,
            }
            for link, port in self.snmp_ports.items()
        ]
        return out


@contextmanager
def serving(sim: Simulator, inventory: Inventory, **options: Any) -> Iterator[SimulatedCentres]:
    """Serve ``sim`` live for the duration of the block (see :class:`SimulatedCentres`)."""
    clock = options.pop("clock", utc_now)
    with SimulatedCentres(LiveNetwork(sim, clock=clock), inventory, **options) as centres:
        yield centres
