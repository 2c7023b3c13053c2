"""Typed errors that carry their context (file, line, key; metric; target).

Every error a user can cause is a :class:`GreenwatchError`. Its ``exit_code`` says which kind it
is: 2, the input is wrong (a file, a flag, a request: the user can fix it); 1, the system failed
(:class:`SystemFailureError`: a store locked or damaged, a port taken, a server down).
"""

from __future__ import annotations

from typing import ClassVar


class GreenwatchError(Exception):
    """Base class of every error greenwatch raises on purpose; by default bad input."""

    exit_code: ClassVar[int] = 2


class SystemFailureError(GreenwatchError):
    """The system failed, not the input: the command may succeed when run again."""

    exit_code: ClassVar[int] = 1


class ConfigError(GreenwatchError):
    """A configuration file (inventory, profile, rules, dashboard) is invalid.

    ``problems`` holds one ``(line, key, message)`` per problem, so a user sees all of them at once.
    """

    def __init__(self, source: str, problems: list[tuple[int | None, str, str]]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = []
        for line, key, message in self.problems:
            where = f"{self.source}:{line}" if line is not None else self.source
            lines.append(f"{where}: {key}: {message}" if key else f"{where}: {message}")
        return "\n".join(lines)


class BatchError(GreenwatchError):
    """A sample batch breaks the contract (unknown metric, naive timestamp, non-finite value…)."""
