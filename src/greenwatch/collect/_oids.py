"""OID syntax and the symbolic names profiles may use without a MIB compiler.

Profiles name OIDs as dotted numbers (``1.3.6.1.2.1.31.1.1.1.6``) or symbols
(``IF-MIB::ifHCInOctets``, ``ifHCInOctets``, optionally with a numeric suffix). Symbols come
from the standard objects below (RFC 2863 IF-MIB, RFC 3418 SNMPv2-MIB) or from a profile's own
``symbols`` map, so a vendor profile can name its PowerNet-MIB or PDU2-MIB columns.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

NUMERIC = re.compile(r"^\.?(0|[12])(\.(0|[1-9][0-9]*)){1,127}$")
SYMBOLIC = re.compile(
    r"^(?:(?P<mib>[A-Za-z][A-Za-z0-9-]*)::)?(?P<name>[A-Za-z][A-Za-z0-9-]*)"
    r"(?P<suffix>(\.(0|[1-9][0-9]*))*)$"
)

_IF_TABLE = "1.3.6.1.2.1.2.2.1"
_IFX_TABLE = "1.3.6.1.2.1.31.1.1.1"
_SYSTEM = "1.3.6.1.2.1.1"

STANDARD: dict[str, dict[str, str]] = {
    "IF-MIB": {
        "ifNumber": "1.3.6.1.2.1.2.1",
        "ifIndex": f"{_IF_TABLE}.1",
        "ifDescr": f"{_IF_TABLE}.2",
        "ifType": f"{_IF_TABLE}.3",
        "ifMtu": f"{_IF_TABLE}.4",
        "ifSpeed": f"{_IF_TABLE}.5",
        "ifPhysAddress": f"{_IF_TABLE}.6",
        "ifAdminStatus": f"{_IF_TABLE}.7",
        "ifOperStatus": f"{_IF_TABLE}.8",
        "ifLastChange": f"{_IF_TABLE}.9",
        "ifInOctets": f"{_IF_TABLE}.10",
        "ifInUcastPkts": f"{_IF_TABLE}.11",
        "ifInDiscards": f"{_IF_TABLE}.13",
        "ifInErrors": f"{_IF_TABLE}.14",
        "ifOutOctets": f"{_IF_TABLE}.16",
        "ifOutUcastPkts": f"{_IF_TABLE}.17",
        "ifOutDiscards": f"{_IF_TABLE}.19",
        "ifOutErrors": f"{_IF_TABLE}.20",
        "ifName": f"{_IFX_TABLE}.1",
        "ifInMulticastPkts": f"{_IFX_TABLE}.2",
        "ifInBroadcastPkts": f"{_IFX_TABLE}.3",
        "ifOutMulticastPkts": f"{_IFX_TABLE}.4",
        "ifOutBroadcastPkts": f"{_IFX_TABLE}.5",
        "ifHCInOctets": f"{_IFX_TABLE}.6",
        "ifHCInUcastPkts": f"{_IFX_TABLE}.7",
        "ifHCInMulticastPkts": f"{_IFX_TABLE}.8",
        "ifHCInBroadcastPkts": f"{_IFX_TABLE}.9",
        "ifHCOutOctets": f"{_IFX_TABLE}.10",
        "ifHCOutUcastPkts": f"{_IFX_TABLE}.11",
        "ifHCOutMulticastPkts": f"{_IFX_TABLE}.12",
        "ifHCOutBroadcastPkts": f"{_IFX_TABLE}.13",
        "ifHighSpeed": f"{_IFX_TABLE}.15",
        "ifAlias": f"{_IFX_TABLE}.18",
    },
    "SNMPv2-MIB": {
        "sysDescr": f"{_SYSTEM}.1",
        "sysObjectID": f"{_SYSTEM}.2",
        "sysUpTime": f"{_SYSTEM}.3",
        "sysContact": f"{_SYSTEM}.4",
        "sysName": f"{_SYSTEM}.5",
        "sysLocation": f"{_SYSTEM}.6",
    },
}


def resolve_oid(text: str, symbols: Mapping[str, str] | None = None) -> str:
    """Dotted numeric form of ``text``; ``ValueError`` if malformed or an unknown symbol."""
    text = text.strip()
    if NUMERIC.match(text):
        return text.lstrip(".")
    found = SYMBOLIC.match(text)
    if found is None or text[0].isdigit() or text.startswith("."):
        raise ValueError(f"bad OID {text!r}: not dotted numeric or MIB::name")
    mib, name, suffix = found.group("mib"), found.group("name"), found.group("suffix")
    own = dict(symbols or {})
    if mib is None and name in own:
        base = own[name]
    elif mib is not None and mib in STANDARD and name in STANDARD[mib]:
        base = STANDARD[mib][name]
    elif mib is None and (hits := [t[name] for t in STANDARD.values() if name in t]):
        base = hits[0]
    else:
        where = f"{mib}::" if mib else ""
        raise ValueError(f"unknown OID symbol {where}{name} (use a numeric OID or symbols:)")
    if not NUMERIC.match(base):
        raise ValueError(f"symbol {name} maps to {base!r}, not a dotted numeric OID")
    return base.lstrip(".") + suffix


def index_pattern(pattern: str) -> re.Pattern[str]:
    """Regex for a row-index pattern such as ``{pdu}.{outlet}.5`` (``*`` matches any sub-id)."""
    parts = []
    for part in pattern.split("."):
        if part == "*":
            parts.append(r"\d+")
        elif part.isdigit():
            parts.append(re.escape(part))
        elif part.startswith("{") and part.endswith("}") and part[1:-1].isidentifier():
            parts.append(rf"(?P<{part[1:-1]}>\d+)")
        else:
            raise ValueError(f"bad index pattern {pattern!r} at {part!r}")
    try:
        return re.compile(r"\.".join(parts))
    except re.error as exc:  # a variable named twice
        raise ValueError(f"bad index pattern {pattern!r}: {exc}") from exc
