"""Typed errors of the resource registry; each names what it refers to."""

from __future__ import annotations

from greenwatch.model import GreenwatchError


class RegistrationError(GreenwatchError):
    """A registration or verification record is invalid.

    ``problems`` holds one ``(key, message)`` per problem (``site``, ``pool.count``, ``devices``),
    so a caller sees all of them at once.
    """

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{key}: {message}" for key, message in problems))


class VersionConflictError(GreenwatchError):
    """``expected_version`` is not the pool's current version (someone changed it meanwhile)."""

    def __init__(self, site: str, pool: str, expected: int, current: int) -> None:
        self.site, self.pool, self.expected, self.current = site, pool, expected, current
        super().__init__(
            f"pool {site}/{pool} is at version {current}, not the expected {expected}: "
            "reload it and register again"
        )


class PoolNotFoundError(GreenwatchError):
    """No current (non-removed) pool with this id at this site."""

    def __init__(self, site: str, pool: str) -> None:
        self.site, self.pool = site, pool
        super().__init__(f"no pool {pool!r} at site {site!r}")
