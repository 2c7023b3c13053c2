"""Package faces that load their modules on first use, so that ``greenwatch --help`` and other
light callers can take a constant from a face without importing pandas, DuckDB or Flask.

A package keeps its light modules imported at once and names the others here; a name taken
from the face that is not yet there loads the named modules in their order until one defines
it, so a command that needs one light module of a package does not pay for its heavy ones.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_face(package: str, *modules: str) -> Callable[[str], object]:
    """The module ``__getattr__`` of ``package``: on first use of a name of its ``__all__``,
    loads its private ``modules`` (``"_batch"``) in order until the name is there, and returns
    it."""

    def attribute(name: str) -> object:
        face = sys.modules[package]
        names = set(getattr(face, "__all__", ()))
        if name in names:
            for module in modules:
                loaded = importlib.import_module(f"{package}.{module}")
                for found in names & vars(loaded).keys() - vars(face).keys():
                    setattr(face, found, getattr(loaded, found))
                if name in vars(face):
                    return vars(face)[name]
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return attribute
