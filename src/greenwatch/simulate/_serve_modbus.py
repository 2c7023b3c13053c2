"""The simulator's Modbus side: a TCP gateway with each site's facility meter behind it.

Each site is one unit id on the gateway (as RS-485 meters behind a Modbus TCP gateway are),
holding Eastron SDM630-style input registers: IEEE-754 float32, most significant register
first, zero-based addresses (Eastron "SDM630 Modbus Protocol"):

====  =====  ==========================================
addr  30xxx  value
====  =====  ==========================================
0-4   30001  phase 1-3 line-to-neutral voltage (V)
12-16 30013  phase 1-3 active power (W, a third each)
52    30053  total system power (W)
70    30071  frequency (Hz)
72    30073  import active energy (kWh)
====  =====  ==========================================

A reading the simulator lacks (meter dropout) is a NaN; a site whose collection is down
answers with exception 0x0B (gateway target device failed to respond).
"""

from __future__ import annotations

import asyncio
import math
import struct
import threading
from collections.abc import Sequence

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from greenwatch.simulate._serve_live import FACILITY, LiveNetwork, Snapshot

REGISTERS = 80
INPUT_REGISTERS = 4  # read input registers (function code 4)
VOLTS, HERTZ = 230.0, 50.0
JOULES_PER_KWH = 3.6e6


def float_words(value: float) -> tuple[int, int]:
    """A float32 as two registers, most significant first."""
    raw = struct.pack(">f", value)
    return int.from_bytes(raw[:2], "big"), int.from_bytes(raw[2:], "big")


def meter_registers(watts: float | None, joules: float | None) -> list[int]:
    """The input registers 0..79 of an SDM630-style meter reading ``watts`` and ``joules``."""
    power = math.nan if watts is None else watts
    kwh = math.nan if joules is None else joules / JOULES_PER_KWH
    regs = [0] * REGISTERS
    values = {0: VOLTS, 2: VOLTS, 4: VOLTS, 12: power / 3, 14: power / 3, 16: power / 3}
    values |= {52: power, 70: HERTZ, 72: kwh}
    for address, value in values.items():
        regs[address], regs[address + 1] = float_words(value)
    return regs


class ModbusGateway:
    """A pymodbus TCP server (its own thread and event loop) for up to 247 sites' meters."""

    def __init__(self, live: LiveNetwork, sites: Sequence[str], host: str, port: int) -> None:
        self._sites = tuple(sites)
        self._registers: dict[str, list[int] | None] = {}
        self._address = (host, port)
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="simulate-modbus")
        self._thread.daemon = True
        self._server: ModbusTcpServer | None = None
        live.subscribe(self._update)

    def _update(self, snap: Snapshot) -> None:
        self._registers = {
            site: (
                meter_registers(
                    snap.meter(site, "power_watts", FACILITY),
                    snap.meter(site, "energy_joules_total", FACILITY),
                )
                if snap.site(site)
                else None
            )
            for site in self._sites
        }

    def _device(self, unit: int, site: str) -> SimDevice:
        async def action(
            function: int,
            start: int,
            _address: int,
            _count: int,
            registers: list[int],
            values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            if values is not None:
                return ExcCodes.ILLEGAL_FUNCTION  # a meter's readings are read-only
            if function != INPUT_REGISTERS:
                return None
            current = self._registers.get(site)
            if current is None:
                return ExcCodes.GATEWAY_NO_RESPONSE
            registers[:] = current[start : start + len(registers)]
            return None

        zero = [SimData(0, values=[0], datatype=DataType.REGISTERS)]
        bits = [SimData(0, values=[False], datatype=DataType.BITS)]
        inputs = [SimData(0, values=[0] * REGISTERS, datatype=DataType.REGISTERS)]
        return SimDevice(unit, simdata=(bits, bits, zero, inputs), action=action)

    async def _serve(self) -> int:
        devices = [self._device(u + 1, s) for u, s in enumerate(self._sites)]
        self._server = ModbusTcpServer(devices, address=self._address)
        await self._server.serve_forever(background=True)
        sockets = getattr(self._server.transport, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else self._address[1]

    def __enter__(self) -> ModbusGateway:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            stopping = self._server.shutdown()  # type: ignore[no-untyped-call]
            asyncio.run_coroutine_threadsafe(stopping, self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
