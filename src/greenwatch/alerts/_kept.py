"""Figures kept from one evaluation to the next while what they are computed from is unchanged.

A raw window whose series and samples are those of the evaluation before is handed out as the
very same table (see ``_evaluate``), so whatever is computed from tables alone (site totals,
sub-meter findings, a rule's hits) can be kept under the identity of its tables: it is what
computing it again would give. A figure no evaluation asked for is dropped at the next one.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")


class Kept:
    """Figures by key, each with the objects it was computed from."""

    def __init__(self) -> None:
        # key: (the ids of the sources, the sources (held, so their ids stay theirs), figure)
        self._now: dict[Hashable, tuple[tuple[int, ...], tuple[object, ...], Any]] = {}
        self._before: dict[Hashable, tuple[tuple[int, ...], tuple[object, ...], Any]] = {}

    def get(self, key: Hashable, sources: tuple[object, ...], compute: Callable[[], T]) -> T:
        """The figure under ``key`` computed from these very ``sources`` (by identity), or
        ``compute()`` when it was computed from others or not at all."""
        ids = tuple(map(id, sources))
        found = self._now.get(key) or self._before.get(key)
        if found is None or found[0] != ids:
            found = (ids, sources, compute())
        self._now[key] = found
        return cast(T, found[2])

    def turn(self) -> None:
        """A new evaluation: figures the last one did not ask for are dropped."""
        self._before, self._now = self._now, {}
