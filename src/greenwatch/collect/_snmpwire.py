"""SNMPv2c GETBULK on the wire: the request encoded and the response decoded by hand.

A community (v2c) poll is a few GETBULK exchanges whose every byte pysnmp would pass through
pyasn1's general BER codec and its message-processing layers: three quarters of a poll's CPU
for a rack PDU (``bench/RESULTS.md``). This module speaks the one message pair a walk needs
(RFC 3416 GetBulkRequest-PDU and Response-PDU in an RFC 1901 message) over one UDP socket and
decodes a response's values to what the collector keeps: integers (INTEGER, Counter32,
Gauge32, TimeTicks, Counter64), text (OCTET STRING, IpAddress and Opaque as their octets, UTF-8,
stripped, as for pysnmp's values), dotted OIDs, and None for NULL and the end markers
(noSuchObject, noSuchInstance, endOfMibView). v3 (USM) stays on pysnmp. The codec is checked
against pyasn1's encoder by generated messages (``tests/collect/test_snmp_wire.py``).
"""

from __future__ import annotations

import secrets
import socket
import time
from dataclasses import dataclass
from functools import lru_cache

Value = int | str | None

_SEQUENCE, _INTEGER, _OCTETS, _NULL, _OID = 0x30, 0x02, 0x04, 0x05, 0x06
_GET_BULK, _RESPONSE = 0xA5, 0xA2
_NUMBERS = frozenset({_INTEGER, 0x41, 0x42, 0x43, 0x46})  # INTEGER, Counter32, Gauge32, …
_TEXTS = frozenset({_OCTETS, 0x40, 0x44})  # OCTET STRING, IpAddress, Opaque
_NOTHING = frozenset({_NULL, 0x80, 0x81, 0x82})  # NULL, noSuchObject, noSuchInstance, end
# RFC 3416 error-status names, as agents and pysnmp print them.
ERRORS = (
    "noError",
    "tooBig",
    "noSuchName",
    "badValue",
    "readOnly",
    "genErr",
    "noAccess",
    "wrongType",
    "wrongLength",
    "wrongEncoding",
    "wrongValue",
    "noCreation",
    "inconsistentValue",
    "resourceUnavailable",
    "commitFailed",
    "undoFailed",
    "authorizationError",
    "notWritable",
    "inconsistentName",
)


class WireError(ValueError):
    """A datagram that is not a well-formed SNMPv2c response (a signal to the collector,
    which reports it as a malformed answer: never shown as such)."""


@dataclass(frozen=True)
class Response:
    request_id: int
    error_status: int
    varbinds: list[tuple[str, Value]]


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _length(len(body)) + body


def _integer(n: int) -> bytes:
    return _tlv(_INTEGER, n.to_bytes(n.bit_length() // 8 + 1, "big", signed=True))


def _arc(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def encode_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER's BER encoding (tag and length included)."""
    arcs = [int(part) for part in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"{dotted!r} is not an OID")
    body = _arc(arcs[0] * 40 + arcs[1]) + b"".join(_arc(a) for a in arcs[2:])
    return _tlv(_OID, body)


def encode_bulk(community: bytes, request_id: int, max_repetitions: int, oids: list[str]) -> bytes:
    """A v2c message holding a GetBulkRequest (non-repeaters 0) for ``oids``."""
    varbinds = b"".join(_tlv(_SEQUENCE, encode_oid(o) + b"\x05\x00") for o in oids)
    pdu = _integer(request_id) + _integer(0) + _integer(max_repetitions)
    pdu += _tlv(_SEQUENCE, varbinds)
    return _tlv(_SEQUENCE, _integer(1) + _tlv(_OCTETS, community) + _tlv(_GET_BULK, pdu))


def _read(data: bytes, at: int) -> tuple[int, int, int]:
    """The TLV at ``at``: (tag, start of its value, end of its value)."""
    if at + 2 > len(data):
        raise WireError("truncated")
    tag, first = data[at], data[at + 1]
    at += 2
    if first & 0x80:
        size = first & 0x7F
        if not 0 < size <= 4 or at + size > len(data):
            raise WireError("bad length")
        length = int.from_bytes(data[at : at + size], "big")
        at += size
    else:
        length = first
    if at + length > len(data):
        raise WireError("truncated")
    return tag, at, at + length


def _expect(data: bytes, at: int, tag: int) -> tuple[int, int]:
    found, start, end = _read(data, at)
    if found != tag:
        raise WireError(f"tag 0x{found:02x} where 0x{tag:02x} was expected")
    return start, end


def _int_at(data: bytes, at: int) -> tuple[int, int]:
    start, end = _expect(data, at, _INTEGER)
    if start == end:
        raise WireError("empty INTEGER")
    return int.from_bytes(data[start:end], "big", signed=True), end


def decode_oid(body: bytes) -> str:
    """A dotted OID from the value octets of an OBJECT IDENTIFIER (a table's OIDs come back
    every poll: short ones are remembered, at most :data:`_OIDS_KEPT` of them)."""
    return _known_oid(body) if len(body) <= _OID_KEPT_BYTES else _oid_text(body)


_OIDS_KEPT, _OID_KEPT_BYTES = 65536, 48  # at most ~10 MiB of remembered OIDs


def _oid_text(body: bytes) -> str:
    if not body or body[-1] & 0x80:
        raise WireError("bad OID")
    arcs: list[int] = []
    n = 0
    for byte in body:
        n = (n << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(n)
            n = 0
    first = arcs[0]
    head = [first // 40, first % 40] if first < 80 else [2, first - 80]
    return ".".join(map(str, head + arcs[1:]))


_known_oid = lru_cache(maxsize=_OIDS_KEPT)(_oid_text)


def _value(tag: int, body: bytes) -> Value:
    if tag in _NUMBERS:
        if not body:
            raise WireError("empty number")
        return int.from_bytes(body, "big", signed=True)
    if tag in _TEXTS:
        return body.decode("utf-8", "replace").strip().strip("\x00")
    if tag == _OID:
        return decode_oid(body)
    if tag in _NOTHING:
        return None
    raise WireError(f"value of unknown type 0x{tag:02x}")


def decode_response(data: bytes) -> Response:
    """A v2c message holding a Response-PDU; :class:`WireError` when it is not one."""
    start, end = _expect(data, 0, _SEQUENCE)
    version, at = _int_at(data, start)
    if version != 1:
        raise WireError(f"SNMP version {version}, not v2c")
    _, at = _expect(data, at, _OCTETS)
    at, pdu_end = _expect(data, at, _RESPONSE)
    request_id, at = _int_at(data, at)
    status, at = _int_at(data, at)
    _, at = _int_at(data, at)  # error-index
    at, list_end = _expect(data, at, _SEQUENCE)
    varbinds: list[tuple[str, Value]] = []
    while at < list_end:
        at, bind_end = _expect(data, at, _SEQUENCE)
        oid_start, oid_end = _expect(data, at, _OID)
        tag, value_start, value_end = _read(data, oid_end)
        if value_end != bind_end:
            raise WireError("varbind holds more than a name and a value")
        varbinds.append(
            (decode_oid(data[oid_start:oid_end]), _value(tag, data[value_start:value_end]))
        )
        at = bind_end
    if list_end != pdu_end or pdu_end != end:
        raise WireError("trailing octets")
    return Response(request_id, status, varbinds)


class BulkClient:
    """GETBULK exchanges with one agent over one UDP socket: each request is sent up to
    ``retries + 1`` times, waiting ``timeout_s`` for each; answers to other requests (late
    ones to an earlier try) are ignored."""

    def __init__(self, host: str, port: int, community: bytes, timeout_s: float, retries: int):
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self._sock = socket.socket(family, kind, proto)
        self._sock.connect(address)
        self.community = community
        self.timeout_s = timeout_s
        self.retries = retries

    def bulk(self, oids: list[str], max_repetitions: int) -> Response:
        """One GETBULK answered. TimeoutError when no try is, :class:`WireError` when only
        malformed datagrams came, OSError when the network refuses (port unreachable)."""
        request_id = secrets.randbelow(2**31 - 1) + 1
        message = encode_bulk(self.community, request_id, max_repetitions, oids)
        garbled: WireError | None = None
        for _ in range(self.retries + 1):
            self._sock.send(message)
            deadline = time.monotonic() + self.timeout_s
            while (left := deadline - time.monotonic()) > 0:
                self._sock.settimeout(left)
                try:
                    data = self._sock.recv(65535)
                except TimeoutError:
                    break
                try:
                    answer = decode_response(data)
                except WireError as exc:
                    garbled = exc  # perhaps not ours: wait on, and say so if nothing else comes
                    continue
                if answer.request_id == request_id:
                    return answer
        if garbled is not None:
            raise garbled
        raise TimeoutError("No SNMP response received before timeout")

    def close(self) -> None:
        self._sock.close()
