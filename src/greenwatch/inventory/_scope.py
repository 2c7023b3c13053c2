"""What a figure is about: an aggregation :class:`Level` and a :class:`Scope` (level + key).

Parsed once, at the edges (CLI, HTTP API, YAML files), and passed on as values; nothing past
the edge spells a level as a string. Old spellings (``nation``) are accepted by the parsers
only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from greenwatch.inventory._schema import Inventory, Site
from greenwatch.model import GreenwatchError


class ScopeError(GreenwatchError):
    """An unknown level, scope, KPI or period."""


class Level(StrEnum):
    """Aggregation levels of the network, finest first."""

    SITE = "site"
    HUB = "hub"
    REGION = "region"
    KIND = "kind"
    NATIONAL = "national"

    @classmethod
    def parse(cls, text: str) -> Level:
        """A level from its name; ``nation`` is an old spelling of ``national``."""
        name = "national" if text == "nation" else text
        try:
            return cls(name)
        except ValueError:
            known = ", ".join(level.value for level in cls)
            raise ScopeError(f"unknown level {text!r} (one of {known})") from None

    def key_of(self, site: Site) -> str | None:
        """The key ``site`` has at this level (``national`` for the network; None: no hub)."""
        if self is Level.NATIONAL:
            return "national"
        if self is Level.SITE:
            return site.id
        if self is Level.HUB:
            return site.hub
        return site.region.value if self is Level.REGION else site.kind.value


SCOPE_FORMS = "national, site:ID, hub:ID, region:east|west, kind:KIND"


@dataclass(frozen=True)
class Scope:
    """A level and a key: ``national``, ``site:guian-1``, ``hub:guizhou``, ``region:west``."""

    level: Level
    key: str = "national"

    def __post_init__(self) -> None:
        # A level given by its name in code (``Scope("site", "guian-1")``) becomes the enum.
        object.__setattr__(self, "level", Level(self.level))

    @classmethod
    def parse_syntax(cls, text: str) -> Scope:
        """A scope from its text without checking that the key exists (YAML at load time)."""
        if text in ("national", "nation"):
            return cls(Level.NATIONAL)
        level, _, key = text.partition(":")
        try:
            parsed = Level.parse(level)
        except ScopeError:
            raise ScopeError(f"bad scope {text!r}: use {SCOPE_FORMS}") from None
        if parsed is Level.NATIONAL or not key:
            raise ScopeError(f"bad scope {text!r}: use {SCOPE_FORMS}")
        return cls(parsed, key)

    @classmethod
    def parse(cls, text: str, inventory: Inventory) -> Scope:
        """A scope from its text, its key checked against ``inventory``."""
        scope = cls.parse_syntax(text)
        if scope.level is not Level.NATIONAL and not scope.sites(inventory):
            known = sorted({k for s in inventory.sites if (k := scope.level.key_of(s)) is not None})
            raise ScopeError(f"unknown {scope.level} {scope.key!r} (known: {', '.join(known)})")
        return scope

    def sites(self, inventory: Inventory) -> list[Site]:
        """The inventory's sites in this scope, in inventory order."""
        return [s for s in inventory.sites if self.level.key_of(s) == self.key]

    def __str__(self) -> str:
        return "national" if self.level is Level.NATIONAL else f"{self.level}:{self.key}"
