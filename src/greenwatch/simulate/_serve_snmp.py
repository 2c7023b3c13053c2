"""The simulator's SNMP side: one SNMPv2c agent (UDP port) per inter-centre link.

Each agent is the router port of a link at its reporting site: IF-MIB (RFC 2863) with one
interface, ``wan0`` (``ifAlias`` the link id): 64-bit and 32-bit octet counters, speed and
operational status, plus the system group. All agents share one pysnmp engine (its own
thread and event loop); a request is answered from the table of the UDP port it came in on.
Community ``public``, read-only.
"""

from __future__ import annotations

import asyncio
import bisect
import socket
import threading
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from greenwatch.simulate._serve_live import LiveNetwork, Snapshot

with warnings.catch_warnings():
    # pysnmp 7.1 imports pysmi's deprecated camelCase aliases at import time.
    warnings.simplefilter("ignore", DeprecationWarning)
    from pysnmp.carrier.asyncio.dgram import udp  # type: ignore[import-untyped]
    from pysnmp.entity import config, engine  # type: ignore[import-untyped]
    from pysnmp.entity.rfc3413 import cmdrsp, context  # type: ignore[import-untyped]
    from pysnmp.proto import rfc1902, rfc1905  # type: ignore[import-untyped]
    from pysnmp.smi import instrum  # type: ignore[import-untyped]

Oid = tuple[int, ...]
IF = (1, 3, 6, 1, 2, 1, 2, 2, 1)  # IF-MIB::ifEntry
IFX = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)  # IF-MIB::ifXEntry
SYSTEM = (1, 3, 6, 1, 2, 1, 1)
INTERFACE = "wan0"
UP, DOWN = 1, 2
ETHERNET = 6  # ifType ethernetCsmacd
_DOMAIN = "rfc3412.receiveMessage:request"


def if_mib_rows(link: str, values: Mapping[str, float], uptime_ticks: int) -> list[tuple[Oid, Any]]:
    """The agent's variables for one link, sorted by OID.

    ``values`` maps ``link_receive_bytes_total``, ``link_transmit_bytes_total``,
    ``link_capacity_bits_per_second`` and ``link_up`` to the link's readings (absent: left out).
    """
    rows: dict[Oid, Any] = {
        (*SYSTEM, 1, 0): rfc1902.OctetString(f"greenwatch simulator router port for {link}"),
        (*SYSTEM, 3, 0): rfc1902.TimeTicks(uptime_ticks % 2**32),
        (*SYSTEM, 5, 0): rfc1902.OctetString(f"{link}-router"),
        (1, 3, 6, 1, 2, 1, 2, 1, 0): rfc1902.Integer32(1),  # ifNumber
        (*IF, 1, 1): rfc1902.Integer32(1),
        (*IF, 2, 1): rfc1902.OctetString(INTERFACE),
        (*IF, 3, 1): rfc1902.Integer32(ETHERNET),
        (*IF, 7, 1): rfc1902.Integer32(UP),
        (*IFX, 1, 1): rfc1902.OctetString(INTERFACE),
        (*IFX, 18, 1): rfc1902.OctetString(link),
    }
    rx = values.get("link_receive_bytes_total")
    tx = values.get("link_transmit_bytes_total")
    if rx is not None:
        rows[(*IF, 10, 1)] = rfc1902.Counter32(int(rx) % 2**32)
        rows[(*IFX, 6, 1)] = rfc1902.Counter64(int(rx) % 2**64)
    if tx is not None:
        rows[(*IF, 16, 1)] = rfc1902.Counter32(int(tx) % 2**32)
        rows[(*IFX, 10, 1)] = rfc1902.Counter64(int(tx) % 2**64)
    capacity = values.get("link_capacity_bits_per_second")
    if capacity is not None:
        rows[(*IF, 5, 1)] = rfc1902.Gauge32(min(int(capacity), 2**32 - 1))
        rows[(*IFX, 15, 1)] = rfc1902.Gauge32(int(capacity // 1e6))
    up = values.get("link_up")
    if up is not None:
        rows[(*IF, 8, 1)] = rfc1902.Integer32(UP if up >= 0.5 else DOWN)
    return sorted(rows.items())


class _Tables(instrum.AbstractMibInstrumController):  # type: ignore[misc]
    """Answers GET and GETNEXT/GETBULK from the table of the port a request came in on."""

    def __init__(self) -> None:
        self.by_domain: dict[Oid, tuple[list[Oid], list[Any]]] = {}

    def _table(self, ctx: Mapping[str, Any]) -> tuple[list[Oid], list[Any]]:
        request = ctx["snmpEngine"].observer.get_execution_context(_DOMAIN)
        return self.by_domain.get(tuple(request["transportDomain"]), ([], []))

    def read_variables(self, *var_binds: Any, **ctx: Any) -> list[tuple[Any, Any]]:
        oids, values = self._table(ctx)
        out = []
        for name, _ in var_binds:
            at = bisect.bisect_left(oids, tuple(name))
            found = at < len(oids) and oids[at] == tuple(name)
            out.append((name, values[at] if found else rfc1905.noSuchInstance))
        return out

    def read_next_variables(self, *var_binds: Any, **ctx: Any) -> list[tuple[Any, Any]]:
        oids, values = self._table(ctx)
        out = []
        for name, _ in var_binds:
            at = bisect.bisect_right(oids, tuple(name))
            if at < len(oids):
                out.append((rfc1902.ObjectName(oids[at]), values[at]))
            else:
                out.append((name, rfc1905.endOfMibView))
        return out


class SnmpAgents:
    """SNMPv2c agents on UDP ``ports`` (link -> port, 0: a free port), one per link."""

    def __init__(
        self,
        live: LiveNetwork,
        links: Sequence[tuple[str, str]],
        host: str,
        ports: Mapping[str, int],
    ) -> None:
        self._live = live
        self._links = dict(links)  # link -> reporting site
        self._host = host
        self._wanted = dict(ports)
        self.ports: dict[str, int] = {}
        self._domains: dict[str, Oid] = {}
        self._tables = _Tables()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="simulate-snmp")
        self._thread.daemon = True
        self._engine: Any = None

    def _update(self, snap: Snapshot) -> None:
        uptime = int((snap.ts.value if snap.ts is not None else 0) // 10**7)
        tables = {}
        for link, site in self._links.items():
            readings = {
                metric: value
                for (metric, labels), value in snap.site(site).items()
                if ("link", link) in labels and ("interface", INTERFACE) in labels
            }
            rows = if_mib_rows(link, readings, uptime) if snap.site(site) else []
            tables[self._domains[link]] = ([o for o, _ in rows], [v for _, v in rows])
        self._tables.by_domain = tables

    def _bind(self) -> dict[str, socket.socket]:
        sockets: dict[str, socket.socket] = {}
        try:
            for link in self._links:
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets[link] = sock
                sock.bind((self._host, self._wanted.get(link, 0)))
        except OSError:
            for sock in sockets.values():
                sock.close()
            raise
        return sockets

    async def _open(self, sockets: Mapping[str, socket.socket]) -> None:
        snmp = engine.SnmpEngine()
        for i, (link, sock) in enumerate(sockets.items()):
            domain = (*udp.DOMAIN_NAME, i + 1)
            transport = udp.UdpTransport(loop=self._loop).open_server_mode(sock=sock)
            config.add_transport(snmp, domain, transport)
            self._domains[link] = domain
        config.add_v1_system(snmp, "greenwatch-simulator", "public")
        snmp_context = context.SnmpContext(snmp)
        snmp_context.unregister_context_name(rfc1902.OctetString(""))
        snmp_context.register_context_name(rfc1902.OctetString(""), self._tables)
        for responder in (
            cmdrsp.GetCommandResponder,
            cmdrsp.NextCommandResponder,
            cmdrsp.BulkCommandResponder,
        ):
            responder(snmp, snmp_context)
        snmp.transport_dispatcher.job_started(1)
        self._engine = snmp

    def __enter__(self) -> SnmpAgents:
        sockets = self._bind()
        self.ports = {link: int(sock.getsockname()[1]) for link, sock in sockets.items()}
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(sockets), self._loop).result(30)
        self._live.subscribe(self._update)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            if self._engine is not None:
                self._engine.transport_dispatcher.job_finished(1)
                self._engine.close_dispatcher()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
