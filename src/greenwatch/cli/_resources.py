"""``greenwatch resources``: register, list, show and remove compute pools; record verifications.

Every action works on a running greenwatch (``--url`` with a token: admin to change pools, write
to record verifications, read to list) or directly on a data directory's registry
(``DATA_DIR/resources.sqlite``, which a running ``greenwatch serve`` may share).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field

from greenwatch.cli._common import (
    TOKEN_ENV,
    Subparsers,
    data_dir_help,
    default_data_dir,
    say,
    text_table,
)
from greenwatch.inventory import BUILTIN, ComputeClass, ComputePool, Precision, load_inventory
from greenwatch.metrics import PFLOP
from greenwatch.model import (
    ConfigError,
    GreenwatchError,
    YamlDocument,
    format_loc,
    load_yaml,
    parse_model,
)
from greenwatch.resources import (
    BENCHMARKS,
    REGISTRY_FILE,
    RegistrationError,
    ResourceRegistry,
)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    site: str = Field(min_length=1)
    pool: ComputePool
    expected_version: int | None = Field(default=None, ge=0)


class _Entries(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pools: tuple[_Entry, ...]


Loc = tuple[str | int, ...]


def _entries(doc: YamlDocument) -> list[tuple[Loc, _Entry]]:
    """``(location in the file, entry)``: one ``site``/``pool`` or a list under ``pools:``."""
    if isinstance(doc.data, dict) and "pools" in doc.data:
        listed = parse_model(doc, _Entries).pools
        if not listed:
            raise ConfigError(doc.source, [(doc.line_of(("pools",)), "pools", "no pools listed")])
        return [(("pools", i), entry) for i, entry in enumerate(listed)]
    return [((), parse_model(doc, _Entry))]


class _Backend(Protocol):
    def register(self, entry: _Entry) -> tuple[dict[str, Any], bool]: ...
    def pools(self, filters: dict[str, str]) -> list[dict[str, Any]]: ...
    def show(self, site: str, pool: str) -> dict[str, Any]: ...
    def remove(self, site: str, pool: str) -> dict[str, Any]: ...
    def verify(self, record: dict[str, Any]) -> dict[str, Any]: ...
    def close(self) -> None: ...


class _Local:
    """The registry in a data directory; changes are recorded as ``by``."""

    def __init__(self, args: argparse.Namespace) -> None:
        if not args.by:
            raise GreenwatchError("name who makes the change with --by (no $USER here)")
        self.by: str = args.by
        path = Path(args.data_dir) / REGISTRY_FILE
        self.registry = ResourceRegistry(path, load_inventory(args.inventory))

    def register(self, entry: _Entry) -> tuple[dict[str, Any], bool]:
        before = self.registry.get(entry.site, entry.pool.id)
        after = self.registry.register(entry.site, entry.pool, self.by, entry.expected_version)
        changed = before is None or before.version != after.version
        return self.registry.view(after), changed

    def pools(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        found = self.registry.pools(
            site=filters.get("site"),
            hub=filters.get("hub"),
            region=filters.get("region"),
            compute_class=filters.get("class"),
        )
        return [self.registry.view(v) for v in found]

    def show(self, site: str, pool: str) -> dict[str, Any]:
        shown = self.registry.detail(site, pool)
        if shown is None:
            raise GreenwatchError(f"no pool {pool!r} at site {site!r}")
        return shown

    def remove(self, site: str, pool: str) -> dict[str, Any]:
        return self.registry.view(self.registry.remove(site, pool, self.by))

    def verify(self, record: dict[str, Any]) -> dict[str, Any]:
        return self.registry.record_verification(record, self.by).to_dict()

    def close(self) -> None:
        self.registry.close()


class _Remote:
    """A running greenwatch; changes are recorded under the token's name."""

    def __init__(self, args: argparse.Namespace) -> None:
        token = args.token or os.environ.get(TOKEN_ENV)
        if not token:
            raise GreenwatchError(f"--url needs --token or ${TOKEN_ENV}")
        self.url = args.url.rstrip("/")
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Token {token}"}, timeout=60
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            answer = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise GreenwatchError(f"{self.url}: {exc}") from None
        if answer.status_code < 400:
            return answer
        try:
            body = answer.json()
        except ValueError:
            body = {"message": answer.text}
        if answer.status_code == 400 and body.get("problems"):
            raise RegistrationError([(p["key"], p["message"]) for p in body["problems"]])
        message = body.get("message", answer.text)
        raise GreenwatchError(f"{self.url}: HTTP {answer.status_code}: {message}")

    def register(self, entry: _Entry) -> tuple[dict[str, Any], bool]:
        body = {
            "site": entry.site,
            "pool": entry.pool.model_dump(by_alias=True, mode="json"),
            "expected_version": entry.expected_version,
        }
        answer = self._call("POST", "/api/v1/resources", json=body)
        return answer.json(), answer.status_code == 201

    def pools(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        answer = self._call("GET", "/api/v1/resources", params=filters)
        listed: list[dict[str, Any]] = answer.json()["pools"]
        return listed

    def show(self, site: str, pool: str) -> dict[str, Any]:
        shown: dict[str, Any] = self._call("GET", f"/api/v1/resources/{site}/{pool}").json()
        return shown

    def remove(self, site: str, pool: str) -> dict[str, Any]:
        removed: dict[str, Any] = self._call("DELETE", f"/api/v1/resources/{site}/{pool}").json()
        return removed

    def verify(self, record: dict[str, Any]) -> dict[str, Any]:
        answer = self._call("POST", "/api/v1/resources/verifications", json=record)
        recorded: dict[str, Any] = answer.json()
        return recorded

    def close(self) -> None:
        self.client.close()


@contextmanager
def _backend(args: argparse.Namespace) -> Iterator[_Backend]:
    """The server at ``--url``, else the registry in the data directory; closed after use."""
    backend: _Backend = _Remote(args) if args.url else _Local(args)
    try:
        yield backend
    finally:
        backend.close()


def _key_loc(key: str) -> Loc:
    return tuple(int(p) if p.isdigit() else p for p in key.split(".") if p)


def _cmd_register(args: argparse.Namespace) -> int:
    doc = load_yaml(args.file)
    entries = _entries(doc)  # every entry's fields are checked before any is registered
    with _backend(args) as backend:
        for where, entry in entries:
            try:
                view, changed = backend.register(entry)
            except RegistrationError as exc:
                problems: list[tuple[int | None, str, str]] = []
                for key, message in exc.problems:
                    loc = (*where, *_key_loc(key))
                    problems.append((doc.line_of(loc), format_loc(loc), message))
                raise ConfigError(doc.source, problems) from None
            state = "registered" if changed else "unchanged"
            say(f"{view['site']}/{view['pool']['id']}: version {view['version']} ({state})")
    return 0


def _row(view: dict[str, Any]) -> list[str]:
    pool = view["pool"]
    return [
        view["site"],
        pool["id"],
        pool["class"],
        pool["model"],
        str(pool["count"]),
        f"{view['rated_flops'] / PFLOP:,.1f}",
        view["precision"],
        str(view["version"]),
        view["registered_by"],
    ]


HEADER = ["SITE", "POOL", "CLASS", "MODEL", "COUNT", "PFLOPS", "PRECISION", "VERSION", "BY"]


def _cmd_list(args: argparse.Namespace) -> int:
    wanted = {"site": args.site, "hub": args.hub, "region": args.region, "class": args.cls}
    filters = {k: v for k, v in wanted.items() if v}
    with _backend(args) as backend:
        views = backend.pools(filters)
    if args.format == "json":
        say(json.dumps({"pools": views}, indent=2))
    else:
        say(text_table([HEADER, *(_row(v) for v in views)]))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    with _backend(args) as backend:
        view = backend.show(args.site, args.pool)
    if args.format == "json":
        say(json.dumps(view, indent=2))
        return 0
    state = " (removed)" if view["removed"] else ""
    say(f"{view['site']}/{view['pool']['id']}{state}, hub {view['hub']}, region {view['region']}")
    for name, value in view["pool"].items():
        if value is not None:
            say(f"  {name}: {value}")
    say(f"  rated: {view['rated_flops'] / PFLOP:,.1f} PFLOPS {view['precision']}")
    say("history:")
    for old in view["history"]:
        change = "removed" if old["removed"] else f"count {old['pool']['count']}"
        say(f"  v{old['version']}  {old['registered_at']}  {old['registered_by']}  {change}")
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    with _backend(args) as backend:
        view = backend.remove(args.site, args.pool)
    say(f"{view['site']}/{view['pool']['id']}: removed (version {view['version']})")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    record: dict[str, Any] = {
        "site": args.site,
        "pool": args.pool,
        "benchmark": args.benchmark,
        "precision": args.precision,
        "measured_flops": args.measured_flops,
        "devices": args.devices,
        "passed": args.passed,
        "detail": args.detail,
    }
    if args.at:
        record["at"] = args.at
    with _backend(args) as backend:
        done = backend.verify(record)
    flops = "" if done["measured_flops"] is None else f" {done['measured_flops']:.4g} FLOPS"
    outcome = "passed" if done["passed"] else "failed"
    say(
        f"{done['site']}/{done['pool']}: {done['benchmark']} {done['precision']}{flops} on "
        f"{done['devices']} devices {outcome} at {done['at']}"
    )
    return 0


def _login() -> str:
    try:
        return getpass.getuser()  # $LOGNAME, $USER, …, else the password database
    except (OSError, KeyError):
        return ""


def _target_args(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group(
        "where", "a running greenwatch (--url) or a data directory (default)"
    )
    where.add_argument("--url", help="a running greenwatch, e.g. http://127.0.0.1:8050")
    where.add_argument(
        "--token",
        help=f"API token for --url (default: ${TOKEN_ENV}); admin to change pools, write to "
        "record verifications, read to list",
    )
    where.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help=data_dir_help(f"without --url: the registry is DATA_DIR/{REGISTRY_FILE}"),
    )
    where.add_argument(
        "--inventory",
        default=BUILTIN,
        help=f"without --url: inventory YAML (default: {BUILTIN!r}, the built-in network)",
    )
    where.add_argument(
        "--by",
        default=_login(),
        help="without --url: who makes the change (default: $USER, else the login name); with "
        "--url the token's name is recorded",
    )


def add_commands(sub: Subparsers) -> None:
    """Register ``resources register|list|show|remove|verify``."""
    resources = sub.add_parser(
        "resources",
        help="the computing-resource registry: compute pools per site and their verifications",
        description="Compute pools (devices of one model at a site, counted as general, ai or "
        "supercomputing power) with their version history, and verification records "
        "(benchmark results). Pools declared in the inventory are version 0; each change "
        "makes the next version.",
    )
    act = resources.add_subparsers(dest="action", required=True, metavar="ACTION")

    register = act.add_parser(
        "register",
        help="register pools from a YAML file; exit 2 naming file, line and key",
        description="Register the pools of a YAML file: one 'site:' and 'pool:' (id, class, "
        "model, count, optional nodes, memory_bytes, storage_bytes, in_service, retired, "
        "source; optional 'expected_version:') or a list of them under 'pools:'. Each is "
        "checked like an inventory pool (known site and device model, devices within the "
        "site's IT capacity); a pool identical to its current version is left unchanged, so "
        "re-running a file is safe. Exit 2 with FILE:LINE: KEY: MESSAGE on a problem.",
    )
    register.add_argument("file", type=Path, help="pool registration YAML")
    _target_args(register)
    register.set_defaults(handler=_cmd_register)

    listing = act.add_parser(
        "list",
        help="list current pools with their rated FLOPS",
        description="List the current pools (inventory ones overlaid by registrations) with "
        "count, rated peak in PFLOPS at the class's precision, version and who registered it.",
    )
    listing.add_argument("--site", help="only this site")
    listing.add_argument("--hub", help="only sites of this national hub")
    listing.add_argument("--region", choices=["east", "west"], help="only this region")
    listing.add_argument(
        "--class", dest="cls", choices=[c.value for c in ComputeClass], help="only this class"
    )
    listing.add_argument("--format", choices=["table", "json"], default="table")
    _target_args(listing)
    listing.set_defaults(handler=_cmd_list)

    show = act.add_parser("show", help="show one pool and its version history")
    show.add_argument("site", help="site id")
    show.add_argument("pool", help="pool id")
    show.add_argument("--format", choices=["table", "json"], default="table")
    _target_args(show)
    show.set_defaults(handler=_cmd_show)

    remove = act.add_parser(
        "remove", help="remove a pool (a new version marks it removed; its history is kept)"
    )
    remove.add_argument("site", help="site id")
    remove.add_argument("pool", help="pool id")
    _target_args(remove)
    remove.set_defaults(handler=_cmd_remove)

    verify = act.add_parser(
        "verify",
        help="record a verification: a benchmark run on some of a pool's devices",
        description="Record that DEVICES devices of a pool ran a benchmark at a precision and "
        "passed or failed, with the FLOPS measured (leave out for a probe).",
    )
    verify.add_argument("--site", required=True, help="site id")
    verify.add_argument("--pool", required=True, help="pool id")
    verify.add_argument(
        "--benchmark", required=True, help=f"{', '.join(BENCHMARKS)} or another [a-z0-9-] name"
    )
    verify.add_argument("--precision", required=True, choices=[p.value for p in Precision])
    verify.add_argument("--measured-flops", type=float, help="measured FLOPS (all devices)")
    verify.add_argument("--devices", type=int, required=True, help="devices the run used")
    outcome = verify.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--passed", dest="passed", action="store_true", help="the run passed")
    outcome.add_argument("--failed", dest="passed", action="store_false", help="the run failed")
    verify.add_argument("--at", help="when it ran, RFC 3339 with offset (default: now)")
    verify.add_argument("--detail", default="", help="free text: job id, settings, log link")
    _target_args(verify)
    verify.set_defaults(handler=_cmd_verify)
