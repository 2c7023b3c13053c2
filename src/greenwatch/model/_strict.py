"""Building blocks of every typed configuration: the strict model, secrets, metric names."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from greenwatch.model._errors import GreenwatchError
from greenwatch.model._registry import metric_spec

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Slug = Annotated[str, Field(pattern=SLUG, max_length=64)]
"""An identifier (site, pool, model, page): lowercase letters and digits, words joined by "-"."""


class StrictModel(BaseModel):
    """A frozen pydantic model that refuses unknown keys (a typo is an error, not a default).

    A model whose fields have aliases (``for``, ``class``) and that code builds by field name
    adds ``model_config = ConfigDict(populate_by_name=True)``; pydantic merges the two.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretError(GreenwatchError):
    """A secret's environment variable or file is missing."""


class SecretRef(StrictModel):
    """Where a secret lives: an environment variable or a file (first line, stripped)."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def reveal(self) -> str:
        """The secret's value; :class:`SecretError` when the variable or file is missing."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise SecretError(f"environment variable {self.env} is not set")
            return value
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise SecretError(f"cannot read secret file {self.file}") from exc


def _known_metric(name: str) -> str:
    """``name`` if the canonical registry declares it; ``ValueError`` otherwise."""
    if metric_spec(name) is None:
        raise ValueError(f"unknown metric {name!r} (not in the canonical registry)")
    return name


MetricName = Annotated[str, AfterValidator(_known_metric)]
"""A canonical metric name, checked against the registry when a model is validated."""


def _regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
    return pattern


def _regexes(filters: dict[str, str]) -> dict[str, str]:
    for pattern in filters.values():
        _regex(pattern)
    return filters


# Selectors: a regular expression, and label filters (label name -> regex), checked on load.
Regex = Annotated[str, AfterValidator(_regex)]
LabelFilters = Annotated[dict[str, str], AfterValidator(_regexes)]
