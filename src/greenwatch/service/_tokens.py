"""API tokens: scopes, site bindings, hashed storage, constant-time checks.

Tokens look like ``gw_<id>_<secret>`` and are shown once, when created. The token file
(``tokens.json`` in the data directory, mode 0600) keeps only each token's SHA-256, its id,
name, scopes, the sites it may write and creation time. A presented token is hashed and
compared with every stored hash using :func:`hmac.compare_digest`, so neither the comparison
nor an early exit leaks how much of a guess was right. The file is re-read when it changes, so
``greenwatch token create`` works against a running server.

Scopes: ``write`` (push APIs), ``read`` (read APIs, KPIs), ``admin`` (everything). A token that
writes is bound to sites (``--site``, repeatable: samples for any other site are refused with
403, the whole request) or created with ``--any-site``; an admin token without sites writes any
site. Files written before bindings existed are migrated when read: a token with a default
``site`` is bound to that site, one without keeps writing any site (``any_site``), so running
agents keep working; ``token list`` shows each binding.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from greenwatch.ingest import Admit
from greenwatch.model import SLUG, GreenwatchError
from greenwatch.service._names import SCOPES

log = logging.getLogger("greenwatch.auth")
TOKEN_FILE = "tokens.json"
FILE_VERSION = 2
SITE_ID = re.compile(SLUG)


@dataclass(frozen=True)
class TokenInfo:
    """A stored token (never the token itself).

    ``sites``: the sites its writes are limited to; empty with ``any_site`` (or the admin scope)
    means every site, empty without means none.
    """

    id: str
    name: str
    scopes: tuple[str, ...]
    sha256: str
    created: str
    sites: tuple[str, ...] = ()
    any_site: bool = False

    def allows(self, scope: str) -> bool:
        return scope in self.scopes or "admin" in self.scopes

    @property
    def writable_sites(self) -> frozenset[str] | None:
        """The sites this token may write; None: any site."""
        if self.sites:
            return frozenset(self.sites)
        return None if self.any_site or "admin" in self.scopes else frozenset()

    @property
    def default_site(self) -> str | None:
        """The site of pushed samples that name none: the token's one site, if it has one."""
        return self.sites[0] if len(self.sites) == 1 else None

    @property
    def binding(self) -> str:
        """How ``token list`` shows what the token may write."""
        if self.sites:
            return "sites=" + ",".join(self.sites)
        if self.writable_sites is None:
            return "any site"
        return "no site" if self.allows("write") else "-"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _migrated(entry: dict[str, Any]) -> dict[str, Any]:
    """A token entry of a file without bindings: its default site binds it, none leaves it
    writing any site (what it could do when it was created)."""
    if "site" not in entry:
        return entry
    site = entry.pop("site")
    return {**entry, "sites": [site] if site else [], "any_site": not site}


def binding_problems(scopes: Iterable[str], sites: Iterable[str], any_site: bool) -> list[str]:
    """Why a token with these scopes and bindings may not be created (empty when it may)."""
    scopes, sites = list(scopes), list(sites)
    problems = []
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        problems.append(f"scopes must be among {', '.join(SCOPES)}, not {unknown}")
    bad = [s for s in sites if not SITE_ID.match(s)]
    if bad:
        problems.append(f"site ids are lower-case letters, digits and '-', not {bad}")
    writes = "write" in scopes or "admin" in scopes
    if (sites or any_site) and not writes:
        problems.append("--site and --any-site limit writes: give the write scope too")
    if sites and any_site:
        problems.append("give either --site (repeatable) or --any-site, not both")
    if "write" in scopes and "admin" not in scopes and not sites and not any_site:
        problems.append("a write token needs --site SITE (repeatable) or an explicit --any-site")
    return problems


class TokenStore:
    """Tokens in a JSON file; ``path`` None keeps them in memory (tests, embedding)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._tokens: list[TokenInfo] = []
        self._stamp: tuple[float, int] | None = None

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> TokenStore:
        return cls(data_dir / TOKEN_FILE)

    def _load(self) -> list[TokenInfo]:
        if self.path is None:
            return self._tokens
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._tokens, self._stamp = [], None
            return self._tokens
        stamp = (stat.st_mtime, stat.st_size)
        if stamp != self._stamp:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            entries = [_migrated(dict(t)) for t in raw.get("tokens", [])]
            self._tokens = [
                TokenInfo(**{**t, "scopes": tuple(t["scopes"]), "sites": tuple(t["sites"])})
                for t in entries
            ]
            self._stamp = stamp
            if raw.get("version") != FILE_VERSION:
                self._migrate()
        return self._tokens

    def _migrate(self) -> None:
        try:
            self._save(self._tokens)
        except OSError as exc:  # a read-only data directory: the bindings hold in memory
            log.warning("cannot migrate %s: %s", self.path, exc.strerror)
            return
        log.info("migrated %s to bound tokens (version %d)", self.path, FILE_VERSION)

    def tokens(self) -> list[TokenInfo]:
        with self._lock:
            return list(self._load())

    def create(
        self,
        scopes: list[str],
        name: str = "",
        sites: Iterable[str] = (),
        any_site: bool = False,
    ) -> str:
        """A new token with ``scopes``, writing ``sites`` (or any site with ``any_site``);
        returns the token text (shown once, stored hashed)."""
        sites = tuple(dict.fromkeys(sites))
        problems = binding_problems(scopes, sites, any_site)
        if problems:
            raise GreenwatchError("; ".join(problems))
        token_id = secrets.token_hex(4)
        token = f"gw_{token_id}_{secrets.token_urlsafe(32)}"
        info = TokenInfo(
            token_id,
            name or token_id,
            tuple(dict.fromkeys(scopes)),
            _digest(token),
            pd.Timestamp.now(tz="UTC").isoformat(),
            sites,
            any_site,
        )
        with self._lock:
            tokens = [*self._load(), info]
            self._save(tokens)
        return token

    def _save(self, tokens: list[TokenInfo]) -> None:
        if self.path is None:
            self._tokens = tokens
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = json.dumps(
            {"version": FILE_VERSION, "tokens": [asdict(t) for t in tokens]}, indent=2
        )
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
        tmp.replace(self.path)
        stat = self.path.stat()
        self._tokens, self._stamp = tokens, (stat.st_mtime, stat.st_size)

    def check(self, token: str) -> TokenInfo | None:
        """The token's info if it is valid (constant-time comparison of SHA-256 digests)."""
        digest = _digest(token).encode("ascii")
        found = None
        for info in self.tokens():
            if hmac.compare_digest(digest, info.sha256.encode("ascii")):
                found = info
        return found


class SiteForbiddenError(GreenwatchError):
    """A request holds samples for sites its token may not write (403); ``errors`` lists
    ``(line, reason)`` for each refused line, ``sites`` the refused sites."""

    def __init__(self, token: TokenInfo, refused: list[tuple[int, str]], what: str) -> None:
        bound = ", ".join(token.sites) or "no site"
        self.what = what
        self.sites = sorted({site for _, site in refused})
        self.errors = [
            (ref, f"token {token.name!r} may not write site {site!r} (it writes {bound})")
            for ref, site in refused
        ]
        ref, why = self.errors[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        super().__init__(f"{what} {ref}: {why}{more}; nothing was stored")


MAX_LISTED = 100


def site_admission(token: TokenInfo | None) -> Admit | None:
    """The check a pushed batch passes before it is stored: every row's ``site`` among the
    token's sites (None: the token writes any site). Vectorised over the batch's site column;
    ``refs`` are the rows' line numbers (series or data-point indexes)."""
    allowed = token.writable_sites if token is not None else None
    if token is None or allowed is None:
        return None

    def admit(batch: pd.DataFrame, refs: np.ndarray, what: str) -> None:
        sites = batch["site"].to_numpy(dtype=object) if "site" in batch else np.array([])
        # A batch holds few distinct sites: judge each once, then map back onto the rows.
        codes, uniques = pd.factorize(sites, use_na_sentinel=False)
        foreign = np.array([u not in allowed for u in uniques], dtype=bool)
        if foreign.any():
            refused = foreign[codes]
            pairs = sorted(
                {(int(r), str(s)) for r, s in zip(refs[refused], sites[refused], strict=True)}
            )
            raise SiteForbiddenError(token, pairs[:MAX_LISTED], what)

    return admit
