"""SNMP collector: v2c on the wire (:mod:`greenwatch.collect._snmpwire`), v3 USM over pysnmp.

A poll bulk-walks every column the profile names — all columns in one GETBULK stream, the way
``snmpbulkwalk`` does for one — then maps rows. A rule's ``index`` pattern picks rows and binds
parts of the row index (``{pdu}.{outlet}.5`` for a Raritan outlet's active power); ``lookups``
are further columns read at an index built from those variables (``ifName`` for an interface
label, a sensor's decimal digits). ``decimals`` names a lookup holding a power of ten to divide
by (Raritan PDU2-MIB); a missing one counts as 0.

A collector keeps its UDP socket (v2c), or its SNMP engine, socket and event loop (v3: an
engine costs a hundred times a poll to build), from poll to poll; a poll that fails drops
them, as does ``close``.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from greenwatch.collect._base import Collector
from greenwatch.collect._errors import AUTH, ERROR, MALFORMED, TIMEOUT, CollectorError
from greenwatch.collect._oids import NUMERIC, index_pattern, resolve_oid
from greenwatch.collect._profile import ProfileBase, Rule, template_fields
from greenwatch.collect._rows import BatchBuilder
from greenwatch.collect._snmpwire import ERRORS, BulkClient, WireError
from greenwatch.collect._target import Target, reveal
from greenwatch.model import Clock, StrictModel, utc_now

# Names of pysnmp's protocol constants; pysnmp itself loads with the first SNMP collector
# (tens of MiB that a process without SNMP targets does not need).
AUTH_PROTOCOLS = {
    "MD5": "USM_AUTH_HMAC96_MD5",
    "SHA": "USM_AUTH_HMAC96_SHA",
    "SHA224": "USM_AUTH_HMAC128_SHA224",
    "SHA256": "USM_AUTH_HMAC192_SHA256",
    "SHA384": "USM_AUTH_HMAC256_SHA384",
    "SHA512": "USM_AUTH_HMAC384_SHA512",
}
PRIV_PROTOCOLS = {
    "DES": "USM_PRIV_CBC56_DES",
    "3DES": "USM_PRIV_CBC168_3DES",
    "AES": "USM_PRIV_CFB128_AES",
    "AES192": "USM_PRIV_CFB192_AES",
    "AES256": "USM_PRIV_CFB256_AES",
}
_AUTH_WORDS = ("digest", "user", "auth", "decrypt", "security", "time window", "community")
_END_TYPES = ("EndOfMibView", "NoSuchObject", "NoSuchInstance", "Null")


def _oid(value: str, info: ValidationInfo) -> str:
    symbols = (info.context or {}).get("symbols") or {}
    return resolve_oid(value, symbols if isinstance(symbols, dict) else {})


class Lookup(StrictModel):
    """Columns read at ``index`` (a template over row variables); the first with a value wins."""

    oid: list[str] = Field(min_length=1)
    index: str = "{index}"

    @field_validator("oid", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("oid")
    @classmethod
    def _oids(cls, values: list[str], info: ValidationInfo) -> list[str]:
        return [_oid(v, info) for v in values]

    @field_validator("index")
    @classmethod
    def _index(cls, template: str) -> str:
        template_fields(template)
        return template


class SnmpRule(Rule):
    """``oid``: the column (or scalar) walked; ``index``: row pattern; ``decimals``: a lookup."""

    oid: str
    index: str | None = None
    decimals: str | None = None

    @field_validator("oid")
    @classmethod
    def _column(cls, value: str, info: ValidationInfo) -> str:
        return _oid(value, info)

    @field_validator("index")
    @classmethod
    def _pattern(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            index_pattern(pattern)
        return pattern

    def bound(self) -> set[str]:
        names = {"index", "target"}
        if self.index is not None:
            names |= set(index_pattern(self.index).groupindex)
        return names


class SnmpProfile(ProfileBase):
    family: Literal["snmp"]
    symbols: dict[str, str] = Field(default_factory=dict)
    lookups: dict[str, Lookup] = Field(default_factory=dict)
    rules: tuple[SnmpRule, ...] = Field(min_length=1)
    max_repetitions: int = Field(default=25, ge=1, le=200)

    @field_validator("symbols")
    @classmethod
    def _numeric(cls, symbols: dict[str, str]) -> dict[str, str]:
        for name, oid in symbols.items():
            if not NUMERIC.match(oid):
                raise ValueError(f"symbol {name}: {oid!r} is not a dotted numeric OID")
        return symbols

    @model_validator(mode="after")
    def _references(self) -> SnmpProfile:
        for i, rule in enumerate(self.rules):
            known = rule.bound() | set(self.lookups)
            missing = rule.variables() - known
            if missing:
                raise ValueError(f"rules[{i}]: templates use unknown {sorted(missing)}")
            if rule.decimals is not None and rule.decimals not in self.lookups:
                raise ValueError(f"rules[{i}]: decimals names no lookup {rule.decimals!r}")
        return self

    def all_rules(self) -> tuple[SnmpRule, ...]:
        return self.rules

    def columns(self) -> list[str]:
        """Every column a poll walks, each once, in profile order."""
        cols = [r.oid for r in self.rules] + [o for lk in self.lookups.values() for o in lk.oid]
        return list(dict.fromkeys(cols))


class _NoMibCompiler:
    """Stands in for pysmi's MIB compiler: the collector sends numeric OIDs only.

    Without it pysnmp attaches a pysmi compiler on first use (through pysmi's deprecated API,
    writing compiled MIBs under ``~/.pysnmp``); a missing MIB is then simply missing.
    """

    def compile(self, *names: str, **options: Any) -> dict[str, str]:
        del options
        return dict.fromkeys(names, "missing")


@cache
def _pysnmp() -> Any:
    """pysnmp's asyncio API, imported on first use."""
    with warnings.catch_warnings():
        # pysnmp 7.1 imports pysmi's deprecated camelCase alias (getReadersFromUrls) at import
        # time; the warning is about pysnmp's own code and harmless to us.
        warnings.simplefilter("ignore", DeprecationWarning)
        import pysnmp.hlapi.v3arch.asyncio as snmp  # type: ignore[import-untyped]  # noqa: PLC0415 - first use
    return snmp


def _mib_view() -> Any:
    _pysnmp()
    from pysnmp.smi import builder, view  # type: ignore[import-untyped]  # noqa: PLC0415 - first use

    mibs = builder.MibBuilder()
    mibs.set_mib_compiler(_NoMibCompiler(), os.devnull)
    return view.MibViewController(mibs)


def _value(raw: Any) -> int | str | None:
    kind = type(raw).__name__
    if kind in _END_TYPES:
        return None
    if hasattr(raw, "asOctets"):
        return bytes(raw.asOctets()).decode("utf-8", "replace").strip().strip("\x00")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return str(raw)


def _reason(indication: Any) -> str:
    text = str(indication).lower()
    if "timed out" in text or "timeout" in text:
        return TIMEOUT
    return AUTH if any(word in text for word in _AUTH_WORDS) else ERROR


def _agent_error(target: str, status: str) -> CollectorError:
    reason = AUTH if "authorization" in status.lower() else MALFORMED
    return CollectorError(target, f"agent error {status}", reason)


def _walk_columns(
    columns: list[str], bulk: Callable[[list[str]], list[tuple[str, Any]]]
) -> dict[str, dict[str, Any]]:
    """Bulk-walk ``columns`` together, as ``snmpbulkwalk`` walks one: ``bulk(oids)`` answers
    one GETBULK with (OID, value) pairs, repetitions interleaved; a column ends at the first
    OID outside it or an end marker (value None)."""
    found: dict[str, dict[str, Any]] = {c: {} for c in columns}
    cursor = {c: c for c in columns}
    while cursor:
        active = list(cursor)
        table = bulk([cursor[c] for c in active])
        done, moved = set(), False
        for i, (oid, value) in enumerate(table):
            column = active[i % len(active)]
            if column in done:
                continue
            if value is None or not oid.startswith(column + "."):
                done.add(column)
                continue
            if oid != cursor[column]:
                moved = True
            found[column][oid[len(column) + 1 :]] = value
            cursor[column] = oid
        if not table or not moved:
            break
        for column in done:
            cursor.pop(column, None)
    return found


class SnmpCollector(Collector):
    """Polls one SNMP agent (UDP ``address``, default port 161)."""

    family: ClassVar[str] = "snmp"
    profile_model: ClassVar[type[ProfileBase]] = SnmpProfile

    def __init__(
        self,
        profile: ProfileBase,
        target: Target,
        clock: Clock = utc_now,
        *,
        retries: int = 1,
    ) -> None:
        super().__init__(profile, target, clock)
        assert isinstance(profile, SnmpProfile)
        self.spec = profile
        self.retries = retries
        self._address = target.host_port(161)
        # Kept from poll to poll (built at the first): a v2c target's socket, a v3 target's
        # engine (it costs a hundred times a poll) and loop.
        self._client: BulkClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine: Any = None
        self._transport: Any = None
        self._lock = threading.Lock()  # one poll at a time runs the loop
        self._patterns = [
            index_pattern(r.index) if r.index is not None else None for r in profile.rules
        ]

    def _auth(self) -> Any:
        """pysnmp's USM user of a v3 target."""
        creds, name, snmp = self.target.credentials, self.target.name, _pysnmp()
        priv = getattr(snmp, PRIV_PROTOCOLS[creds.priv_protocol]) if creds.priv_key else None
        assert creds.auth_key is not None  # a v3 user (see _community)
        return snmp.UsmUserData(
            creds.username,
            authKey=reveal(creds.auth_key, name),
            privKey=reveal(creds.priv_key, name) if creds.priv_key else None,
            authProtocol=getattr(snmp, AUTH_PROTOCOLS[creds.auth_protocol]),
            privProtocol=priv,
        )

    def _community(self) -> bytes | None:
        """The v2c community (None for a v3 user)."""
        creds = self.target.credentials
        if creds.username and creds.auth_key is not None:
            return None
        secret = reveal(creds.community, self.target.name) if creds.community else "public"
        return secret.encode()

    async def _engine_bulk(self, auth: Any, oids: list[str]) -> list[tuple[str, Any]]:
        """One GETBULK through pysnmp (v3, ``auth`` the USM user), on the kept engine."""
        snmp = _pysnmp()
        if self._engine is None:
            engine = snmp.SnmpEngine()
            engine.cache["mibViewController"] = _mib_view()
            self._transport = await snmp.UdpTransportTarget.create(
                self._address,
                timeout=self.target.timeout_s / (self.retries + 1),
                retries=self.retries,
            )
            self._engine = engine
        indication, status, _, table = await snmp.bulk_cmd(
            self._engine,
            auth,
            self._transport,
            snmp.ContextData(),
            0,
            self.spec.max_repetitions,
            *[snmp.ObjectType(snmp.ObjectIdentity(oid)) for oid in oids],
            lookupMib=False,
        )
        if indication:
            raise CollectorError(self.target.name, str(indication), _reason(indication))
        if status:
            text = status.prettyPrint() if hasattr(status, "prettyPrint") else str(status)
            raise _agent_error(self.target.name, text)
        return [(str(name), _value(raw)) for name, raw in table]

    def _wire_bulk(self, community: bytes, oids: list[str]) -> list[tuple[str, Any]]:
        """One GETBULK on the wire (v2c), on the kept socket."""
        name = self.target.name
        if self._client is None:
            host, port = self._address
            timeout = self.target.timeout_s / (self.retries + 1)
            self._client = BulkClient(host, port, community, timeout, self.retries)
        self._client.community = community  # a rotated secret is sent from the next poll on
        try:
            answer = self._client.bulk(oids, self.spec.max_repetitions)
        except TimeoutError as exc:
            raise CollectorError(name, str(exc), TIMEOUT) from None
        except WireError as exc:
            raise CollectorError(name, f"malformed response: {exc}", MALFORMED) from None
        except OSError as exc:
            raise CollectorError(name, f"agent unreachable: {exc.strerror or exc}", ERROR) from None
        if answer.error_status:
            status = answer.error_status
            raise _agent_error(name, ERRORS[status] if status < len(ERRORS) else str(status))
        return answer.varbinds

    def _walked(self, columns: list[str]) -> dict[str, dict[str, Any]]:
        """Walk ``columns`` on the kept socket (v2c) or engine and loop (v3); a poll that
        fails drops them, so the next starts afresh (new socket, engine, address lookup)."""
        community = self._community()
        with self._lock:
            try:
                if community is not None:
                    return _walk_columns(columns, lambda oids: self._wire_bulk(community, oids))
                if self._loop is None:
                    self._loop = asyncio.new_event_loop()
                loop, auth = self._loop, self._auth()  # the user's keys revealed once a poll
                return _walk_columns(
                    columns, lambda oids: loop.run_until_complete(self._engine_bulk(auth, oids))
                )
            except BaseException:
                self._drop()
                raise

    def _drop(self) -> None:
        client, loop, engine = self._client, self._loop, self._engine
        self._client = self._loop = self._engine = self._transport = None
        if client is not None:
            client.close()
        if loop is None:
            return
        if engine is not None:
            engine.close_dispatcher()
        loop.run_until_complete(asyncio.sleep(0))  # the cancelled timer and socket finish
        loop.close()

    def close(self) -> None:
        """Release the socket, or the engine, its socket and loop; a poll still running
        keeps them."""
        if self._lock.acquire(blocking=False):
            try:
                self._drop()
            finally:
                self._lock.release()

    def _poll(self, out: BatchBuilder) -> None:
        walked = self._walked(self.spec.columns())
        for rule, pattern in zip(self.spec.rules, self._patterns, strict=True):
            for index, raw in walked[rule.oid].items():
                variables = self._variables(pattern, index, walked)
                if variables is None:
                    continue
                value: Any = raw
                if rule.decimals is not None and rule.map is None:
                    digits = variables.get(rule.decimals)
                    number = float(raw) if isinstance(raw, int) else None
                    value = number / 10 ** int(digits or 0) if number is not None else None
                out.add(rule, value, variables)

    def _variables(
        self,
        pattern: re.Pattern[str] | None,
        index: str,
        walked: dict[str, dict[str, Any]],
    ) -> dict[str, str] | None:
        variables = {"index": index}
        if pattern is not None:
            matched = pattern.fullmatch(index)
            if matched is None:
                return None
            variables.update(matched.groupdict())
        for name, lookup in self.spec.lookups.items():
            try:
                at = lookup.index.format_map(variables)
            except KeyError:
                continue
            for column in lookup.oid:
                value = walked[column].get(at)
                if value not in (None, ""):
                    variables[name] = str(value)
                    break
        return variables
