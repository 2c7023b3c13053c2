"""Redfish collector: walks a BMC's or PDU's resource tree and maps readings by rules.

A rule names a resource as a path from the service root — literal segments follow the link of
that name, ``{var}`` segments iterate a collection's members and bind ``var`` to the member's
``Id`` — and a property path inside it (``PowerControl[0].PowerConsumedWatts``,
``PowerWatts.Reading``; ``[*]`` iterates an array and binds ``member``). ``bind`` names more
variables taken from properties of the resource (a Processor's ``Model``). Each resource is read
once per poll. Links to other hosts are never followed; dangling links and unreadable
sub-resources are skipped and noted. Auth: basic, or a Redfish session (``X-Auth-Token``).

The walk is remembered: a poll reads again only the resources the rules read properties from
(a chassis' ``EnvironmentMetrics``, not the service root, the collections and the chassis on
the way), so it costs one request per such resource, and reports again what the walk skipped.
The tree is walked in full every :data:`REWALK_EVERY` polls (members added since show up then)
and in the same poll whenever a remembered resource cannot be read (a member removed, a link
moved).
"""

from __future__ import annotations

import contextlib
import json
import re
from typing import Any, ClassVar, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import Field, model_validator

from greenwatch.collect._errors import AUTH, MALFORMED, CollectorError, status_reason
from greenwatch.collect._http import TRANSPORT_ERRORS, HttpCollector, Reply, request_auth
from greenwatch.collect._profile import ProfileBase, Rule
from greenwatch.collect._rows import BatchBuilder
from greenwatch.collect._target import reveal

_SEGMENT = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]*|\{[A-Za-z_][A-Za-z0-9_]*\})$")
_STEP = re.compile(r"^([A-Za-z@][A-Za-z0-9@#]*)(?:\[(\d+|\*)\])?$")
HEADERS = {"Accept": "application/json", "OData-Version": "4.0"}
REWALK_EVERY = 20  # polls between full walks of the resource tree (5 min at 15 s)


def _steps(path: str) -> list[tuple[str, str | None]]:
    steps = []
    for part in path.split("."):
        found = _STEP.match(part)
        if found is None:
            raise ValueError(f"bad property path {path!r} at {part!r}")
        steps.append((found.group(1), found.group(2)))
    return steps


class RedfishRule(Rule):
    """``resource``: path from the service root; ``property``: path inside it.

    ``where`` keeps a resource only when each named property equals the given text (spaces
    stripped), e.g. a Sensor's ``ReadingType: Power``. ``bind`` maps template variables to
    property paths of the resource (``{model: Model}``); a resource that lacks one of them
    (absent, null or blank) is skipped and noted.
    """

    resource: str = Field(min_length=1)
    property: str = Field(min_length=1)
    where: dict[str, str] = Field(default_factory=dict)
    bind: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _paths(self) -> RedfishRule:
        segments = self.resource.strip("/").split("/")
        bad = [s for s in segments if not _SEGMENT.match(s)]
        if bad:
            raise ValueError(f"resource {self.resource!r}: bad segment {bad[0]!r}")
        steps = _steps(self.property)
        for key in self.where:
            _steps(key)
        bound = {s[1:-1] for s in segments if s.startswith("{")} | {"target"}
        if any(index == "*" for _, index in steps):
            bound.add("member")
        for name, path in self.bind.items():
            if not name.isidentifier() or name in bound | {"member"}:
                raise ValueError(f"bind: {name!r} is not a free variable name")
            if any(index == "*" for _, index in _steps(path)):
                raise ValueError(f"bind: {name} = {path!r} must name one value, not [*]")
        bound |= set(self.bind)
        missing = self.variables() - bound
        if missing:
            raise ValueError(f"templates use {sorted(missing)}, not bound by resource/property")
        return self

    def segments(self) -> tuple[str, ...]:
        return tuple(self.resource.strip("/").split("/"))


class RedfishProfile(ProfileBase):
    family: Literal["redfish"]
    root: str = Field(default="/redfish/v1", pattern=r"^/")
    rules: tuple[RedfishRule, ...] = Field(min_length=1)

    def all_rules(self) -> tuple[RedfishRule, ...]:
        return self.rules


def values_at(doc: Any, path: str) -> list[tuple[Any, str | None]]:
    """Values at a property path, each with the ``member`` an ``[*]`` step bound (or None)."""
    found: list[tuple[Any, str | None]] = [(doc, None)]
    for name, index in _steps(path):
        nxt: list[tuple[Any, str | None]] = []
        for node, member in found:
            if not isinstance(node, dict) or name not in node:
                continue
            value = node[name]
            if index is None:
                nxt.append((value, member))
            elif isinstance(value, list) and index == "*":
                for i, item in enumerate(value):
                    nxt.append((item, _member_id(item, i)))
            elif isinstance(value, list) and int(index) < len(value):
                nxt.append((value[int(index)], member))
        found = nxt
    return found


def _member_id(item: Any, i: int) -> str:
    if isinstance(item, dict):
        for key in ("MemberId", "Id", "Name"):
            if item.get(key) not in (None, ""):
                return str(item[key]).strip()
    return str(i)


class RedfishCollector(HttpCollector):
    """Polls one Redfish service; ``client`` may be injected (else one is made)."""

    family: ClassVar[str] = "redfish"
    profile_model: ClassVar[type[ProfileBase]] = RedfishProfile

    _token: str | None = None
    _session_uri: str | None = None
    # What one poll has read: set afresh by each _poll.
    _cache: dict[str, Any]
    _walks: dict[tuple[str, ...], list[tuple[str, Any, dict[str, str]]]]
    _notes: list[str]
    # A poll's request headers, with basic or bearer auth as revealed at its start (None: a
    # session's, with its token).
    _headers: dict[str, str] | None
    # The resources the last full walk found per rule path (URL, variables) and polls since.
    _leaves: dict[tuple[str, ...], list[tuple[str, dict[str, str]]]] | None = None
    _since_walk: int = 0
    _walk_notes: tuple[str, ...] = ()  # what that walk skipped, reported again each poll

    @property
    def redfish(self) -> RedfishProfile:
        assert isinstance(self.profile, RedfishProfile)
        return self.profile

    # -- HTTP ---------------------------------------------------------------------------------

    def _login(self) -> None:
        creds = self.target.credentials
        password = reveal(creds.password, self.target.name) if creds.password else ""
        url = self._base + self.redfish.root + "/SessionService/Sessions"
        body = {"UserName": creds.username or "", "Password": password}
        response = self._http().post_json(url, body, HEADERS)
        if response.status_code not in (200, 201):
            reason = status_reason(response.status_code)
            raise CollectorError(
                self.target.name, f"session login: HTTP {response.status_code}", reason
            )
        token = response.headers.get("X-Auth-Token")
        if not token:
            raise CollectorError(self.target.name, "session login: no X-Auth-Token", AUTH)
        self._token = token
        location = response.headers.get("Location")
        uri = urljoin(self._base + "/", location) if location else None
        # The token is only ever sent back to the service it came from.
        self._session_uri = uri if uri and self._same_origin(uri) else None

    def _send(self, url: str) -> Reply:
        if self._headers is None:
            if self._token is None:
                self._login()
            response = self._http().get(url, {**HEADERS, "X-Auth-Token": self._token or ""})
            if response.status_code == 401:  # session expired: log in again, once
                self._login()
                response = self._http().get(url, {**HEADERS, "X-Auth-Token": self._token or ""})
            return response
        return self._http().get(url, self._headers)

    def _get(self, uri: str, *, required: bool = False) -> Any:
        """The JSON document at ``uri`` (cached per poll); None when it cannot be read."""
        url = urljoin(self._base + "/", uri.split("#", maxsplit=1)[0])
        if not self._same_origin(url):
            self._notes.append(f"link to another host skipped: {uri}")
            return None
        if url in self._cache:
            return self._cache[url]
        response = self._send(url)
        doc: Any = None
        if response.status_code in (401, 403):
            raise CollectorError(self.target.name, f"HTTP {response.status_code} for {uri}", AUTH)
        if response.status_code != 200:
            if required:
                reason = status_reason(response.status_code)
                raise CollectorError(self.target.name, f"HTTP {response.status_code}", reason)
            self._notes.append(f"{uri}: HTTP {response.status_code}")
        else:
            try:
                doc = json.loads(response.content)
            except (ValueError, UnicodeDecodeError) as exc:
                if required:
                    raise CollectorError(self.target.name, f"{uri}: {exc}", MALFORMED) from exc
                self._notes.append(f"{uri}: not JSON")
            if required and not isinstance(doc, dict):
                raise CollectorError(self.target.name, f"{uri}: not an object", MALFORMED)
        self._cache[url] = doc
        return doc

    def _same_origin(self, url: str) -> bool:
        return urlsplit(url)[:2] == urlsplit(self._base)[:2]

    # -- walking ------------------------------------------------------------------------------

    def _resources(self, segments: tuple[str, ...]) -> list[tuple[str, Any, dict[str, str]]]:
        """Documents at a resource path, each with its URI and the variables bound on the
        way (memoised per poll)."""
        if segments in self._walks:
            return self._walks[segments]
        if not segments:
            root = self.redfish.root
            return [(root, self._get(root, required=True), {})]
        found: list[tuple[str, Any, dict[str, str]]] = []
        last = segments[-1]
        for _, doc, env in self._resources(segments[:-1]):
            if not last.startswith("{"):
                link = doc.get(last) if isinstance(doc, dict) else None
                uri = link.get("@odata.id") if isinstance(link, dict) else None
                child = self._get(uri) if isinstance(uri, str) else None
                if isinstance(uri, str) and isinstance(child, dict):
                    found.append((uri, child, env))
                continue
            members = doc.get("Members") if isinstance(doc, dict) else None
            for member in members if isinstance(members, list) else []:
                uri = member.get("@odata.id") if isinstance(member, dict) else None
                if not isinstance(uri, str):
                    continue
                child = self._get(uri)
                if isinstance(child, dict):
                    ident = str(child.get("Id") or uri.rstrip("/").rsplit("/", 1)[-1]).strip()
                    found.append((uri, child, {**env, last[1:-1]: ident}))
        self._walks[segments] = found
        return found

    def _remembered(self) -> bool:
        """Read the resources the last walk found into ``_walks`` (True), or tell the poll
        to walk the tree (False: none remembered, time for a full walk, or one unreadable)."""
        self._since_walk += 1
        if self._leaves is None or self._since_walk >= REWALK_EVERY:
            return False
        for segments, leaves in self._leaves.items():
            found = [(uri, self._get(uri), env) for uri, env in leaves]
            if not all(isinstance(doc, dict) for _, doc, _ in found):
                return False
            self._walks[segments] = found
        self._notes.extend(self._walk_notes)
        return True

    def _poll(self, out: BatchBuilder) -> None:
        self._cache, self._walks, self._notes = {}, {}, []
        creds = self.target.credentials
        if creds.method == "session" and creds.password is not None:
            self._headers = None  # each request sends the session's token
        else:
            self._headers = {**HEADERS, **request_auth(self.target)}
        if not self._remembered():
            self._cache, self._walks, self._notes = {}, {}, []
            paths = {rule.segments() for rule in self.redfish.rules}
            self._leaves = {
                path: [(uri, env) for uri, _, env in self._resources(path)] for path in paths
            }
            self._since_walk, self._walk_notes = 0, tuple(self._notes)
        for rule in self.redfish.rules:
            for _, doc, env in self._resources(rule.segments()):
                if not all(_equals(doc, key, want) for key, want in rule.where.items()):
                    continue
                bound = _bound(doc, rule.bind)
                if isinstance(bound, str):
                    self._notes.append(f"{doc.get('@odata.id', rule.resource)}: no {bound}")
                    continue
                for raw, member in values_at(doc, rule.property):
                    variables = {**env, **bound}
                    if member is not None:
                        variables["member"] = member
                    out.add(rule, raw, variables)
        out.problems.extend(self._notes)

    def close(self) -> None:
        if self._token and self._session_uri and self._client is not None:
            with contextlib.suppress(*TRANSPORT_ERRORS):  # the BMC expires sessions itself
                self._client.delete(self._session_uri, {"X-Auth-Token": self._token})
        self._token = self._session_uri = None
        super().close()


def _equals(doc: Any, key: str, want: str) -> bool:
    return any(str(v).strip() == want for v, _ in values_at(doc, key) if v is not None)


def _bound(doc: Any, bind: dict[str, str]) -> dict[str, str] | str:
    """The variables ``bind`` takes from ``doc`` (text, stripped), or the first missing path."""
    out = {}
    for name, path in bind.items():
        found = [v for v, _ in values_at(doc, path) if isinstance(v, str | int | float)]
        text = str(found[0]).strip() if found else ""
        if not text:
            return path
        out[name] = text
    return out
