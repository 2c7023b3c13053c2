"""Modbus TCP collector (energy meters: Eastron SDM630/SDM120 and the like).

A rule reads one value: input or holding registers at a zero-based ``address`` (Eastron's
30053 is address 52), decoded as ``type``. Multi-register values are assembled in the
profile's ``word_order`` (big: most significant register first, as Eastron sends) and
``byte_order`` within each register. Adjacent values are read in one request of at most
``max_registers_per_read`` registers, each starting on a value boundary (some meters reject
reads that split a value).
"""

from __future__ import annotations

import socket
import struct
from typing import ClassVar, Literal

from pydantic import Field, model_validator
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from greenwatch.collect._base import Collector
from greenwatch.collect._errors import MALFORMED, TIMEOUT, CollectorError, reason_of
from greenwatch.collect._profile import ProfileBase, Rule
from greenwatch.collect._rows import BatchBuilder
from greenwatch.collect._target import Target
from greenwatch.model import Clock, utc_now

ValueType = Literal["uint16", "int16", "uint32", "int32", "float32", "uint64", "int64", "float64"]
FORMATS: dict[str, tuple[str, int]] = {
    "uint16": (">H", 1),
    "int16": (">h", 1),
    "uint32": (">I", 2),
    "int32": (">i", 2),
    "float32": (">f", 2),
    "uint64": (">Q", 4),
    "int64": (">q", 4),
    "float64": (">d", 4),
}


class RegisterRule(Rule):
    """One value: ``address`` (0-65535), ``type``, optional ``count`` (must fit the type)."""

    address: int = Field(ge=0, le=65535)
    type: ValueType = "float32"
    count: int | None = Field(default=None, ge=1, le=4)
    function: Literal["input", "holding"] = "input"

    @model_validator(mode="after")
    def _fits(self) -> RegisterRule:
        need = FORMATS[self.type][1]
        if self.count is not None and self.count != need:
            parity = " (odd)" if self.count % 2 and need % 2 == 0 else ""
            raise ValueError(f"{self.type} takes {need} registers, not count {self.count}{parity}")
        if self.address + need - 1 > 65535:
            raise ValueError(f"registers {self.address}..{self.address + need - 1} pass 65535")
        return self

    @property
    def width(self) -> int:
        return FORMATS[self.type][1]


class ModbusProfile(ProfileBase):
    family: Literal["modbus"]
    word_order: Literal["big", "little"] = "big"
    byte_order: Literal["big", "little"] = "big"
    max_registers_per_read: int = Field(default=80, ge=1, le=125)
    rules: tuple[RegisterRule, ...] = Field(min_length=1)

    def all_rules(self) -> tuple[RegisterRule, ...]:
        return self.rules


def decode(registers: list[int], kind: str, word_order: str, byte_order: str) -> float:
    """One value from its registers, honouring word and byte order."""
    words = registers if word_order == "big" else list(reversed(registers))
    raw = b"".join(w.to_bytes(2, "big" if byte_order == "big" else "little") for w in words)
    fmt, _ = FORMATS[kind]
    return float(struct.unpack(fmt, raw)[0])


def blocks(rules: tuple[RegisterRule, ...], limit: int) -> list[list[RegisterRule]]:
    """Rules grouped into requests: same function, exactly adjacent, within ``limit``."""
    out: list[list[RegisterRule]] = []
    ordered = sorted(rules, key=lambda r: (r.function, r.address))
    for rule in ordered:
        last = out[-1] if out else None
        if (
            last is not None
            and last[-1].function == rule.function
            and last[-1].address + last[-1].width == rule.address
            and rule.address + rule.width - last[0].address <= limit
        ):
            last.append(rule)
        elif last is not None and last[-1].address == rule.address and last[-1].type == rule.type:
            last.append(rule)  # the same value mapped twice
        else:
            out.append([rule])
    return out


class ModbusCollector(Collector):
    """Polls one Modbus TCP device (``address`` host[:port], default 502; ``device_id``)."""

    family: ClassVar[str] = "modbus"
    profile_model: ClassVar[type[ProfileBase]] = ModbusProfile

    def __init__(
        self, profile: ProfileBase, target: Target, clock: Clock = utc_now, *, retries: int = 0
    ) -> None:
        super().__init__(profile, target, clock)
        assert isinstance(profile, ModbusProfile)
        self.modbus = profile
        self.retries = retries
        self._address = target.host_port(502)
        self._client: ModbusTcpClient | None = None
        self._blocks = blocks(profile.rules, profile.max_registers_per_read)

    def _connect(self) -> ModbusTcpClient:
        if self._client is not None and self._client.connected:
            return self._client
        host, port = self._address
        client = ModbusTcpClient(
            host, port=port, timeout=self.target.timeout_s, retries=self.retries
        )
        if not client.connect():  # type: ignore[no-untyped-call]
            client.close()  # type: ignore[no-untyped-call]
            why = _why(host, port, self.target.timeout_s)
            raise CollectorError(self.target.name, f"cannot connect to {host}:{port}", why)
        self._client = client
        return client

    def _read(self, client: ModbusTcpClient, block: list[RegisterRule]) -> list[int]:
        start = block[0].address
        count = max(r.address + r.width for r in block) - start
        unit = self.target.device_id
        try:
            if block[0].function == "input":
                response = client.read_input_registers(start, count=count, device_id=unit)
            else:
                response = client.read_holding_registers(start, count=count, device_id=unit)
        except ModbusIOException as exc:
            self.close()
            raise CollectorError(self.target.name, exc, TIMEOUT) from exc
        except (ConnectionException, ModbusException) as exc:
            self.close()
            raise CollectorError(self.target.name, exc, reason_of(exc)) from exc
        if response.isError() or len(response.registers) < count:
            raise CollectorError(
                self.target.name, f"registers {start}+{count}: {response}", MALFORMED
            )
        return list(response.registers)

    def _poll(self, out: BatchBuilder) -> None:
        client = self._connect()
        order = (self.modbus.word_order, self.modbus.byte_order)
        for block in self._blocks:
            registers = self._read(client, block)
            start = block[0].address
            for rule in block:
                at = rule.address - start
                value = decode(registers[at : at + rule.width], rule.type, *order)
                out.add(rule, value, {"address": str(rule.address)})

    def close(self) -> None:
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]
            self._client = None


def _why(host: str, port: int, timeout: float) -> str:
    """Why a TCP connect fails (pymodbus only says that it did)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return MALFORMED
    except OSError as exc:
        return reason_of(exc)
