"""``greenwatch resources``: register, list, show and remove compute pools; record verifications.

Every action works on a running greenwatch (``--url`` with a token: admin to change pools, write
to record verifications, read to list) or directly on a data directory's registry
(``DATA_DIR/resources.sqlite``, which a running ``greenwatch serve`` may share).
"""

from __future__ import annotations

import argparse
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
    say,
    text_table,
)
from greenwatch.cli._remote import find_server
from greenwatch.inventory import ComputePool, load_inventory
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

    def __init__(self, args: argparse.Namespace, read: bool) -> None:
        if not args.by and not read:
            raise GreenwatchError("name who makes the change with --by (no $USER here)")
        self.by: str = args.by or ""
        path = Path(args.data_dir) / REGISTRY_FILE
        # A read creates no data directory and no registry: without one, the inventory's pools
        # alone, as an empty registry shows them.
        kept = None if read and not path.exists() else path
        self.registry = ResourceRegistry(kept, load_inventory(args.inventory))

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

    def __init__(self, url: str, token: str | None) -> None:
        if not token:
            raise GreenwatchError(f"--url needs --token or ${TOKEN_ENV}")
        self.url = url.rstrip("/")
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
def _backend(args: argparse.Namespace, read: bool = False) -> Iterator[_Backend]:
    """The server at ``--url``, else the registry in the data directory, closed after use; a
    read (``list``, ``show``) asks the server serving the data directory when one runs."""
    server = find_server(args) if read else None
    backend: _Backend
    if server is not None:
        backend = _Remote(server.url, server.token)
    elif args.url and not read:
        backend = _Remote(args.url, args.token or os.environ.get(TOKEN_ENV))
    else:
        backend = _Local(args, read)
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
    with _backend(args, read=True) as backend:
        views = backend.pools(filters)
    if args.format == "json":
        say(json.dumps({"pools": views}, indent=2))
    else:
        say(text_table([HEADER, *(_row(v) for v in views)]))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    with _backend(args, read=True) as backend:
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
