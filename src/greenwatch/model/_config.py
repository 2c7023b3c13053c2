"""YAML loading that remembers where every value came from.

PyYAML's composer gives each node its source line; we build plain Python data from the node
tree and keep a map from key path to line, so a pydantic error on ``sites[3].location.lat``
is reported as ``inventory.yaml:42: sites[3].location.lat: ...``. Duplicate mapping keys, which
PyYAML would silently overwrite, are errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from greenwatch.model._errors import ConfigError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class YamlDocument:
    """Plain data from a YAML file plus the source line of every key path."""

    source: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int | None:
        """Line of the deepest known prefix of ``loc`` (1-based)."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:end]))
            if line is not None:
                return line
        return None


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _build(
    node: yaml.Node, loc: Loc, lines: dict[Loc, int], source: str, scalars: yaml.SafeLoader
) -> Any:
    """Plain data of ``node``; ``scalars`` constructs its keys and scalar values."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = scalars.construct_object(key_node)
            if key in out:
                raise ConfigError(
                    source,
                    [(key_node.start_mark.line + 1, format_loc((*loc, key)), "duplicate key")],
                )
            out[key] = _build(value_node, (*loc, key), lines, source, scalars)
            # A block value starts on the line after its key; errors point at the key.
            lines[(*loc, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*loc, i), lines, source, scalars) for i, item in enumerate(node.value)
        ]
    return scalars.construct_object(node, deep=True)


def _compose(text: str) -> yaml.Node | None:
    """The node tree of ``text``: by libyaml where PyYAML has it (about 10x faster: the builtin
    inventory in 7 instead of 66 ms of a ``greenwatch report``'s start), by the pure-Python
    parser on an error, for its messages (libyaml's name the same line in other words)."""
    try:
        return yaml.compose(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader)


_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(path: str | Path, text: str | None = None) -> YamlDocument:
    """Parse one YAML document, raising :class:`ConfigError` with the line on syntax errors."""
    source = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(source, [(None, "", f"cannot read: {exc.strerror}")]) from exc
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError(source, [(line, "", f"invalid YAML: {exc.problem}")]) from exc
    if node is None:
        return YamlDocument(source, None, {(): 1})
    lines: dict[Loc, int] = {}
    try:
        # One constructor for the document's scalars (a loader is costly to set up).
        data = _build(node, (), lines, source, yaml.SafeLoader(""))
    except yaml.constructor.ConstructorError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigError(source, [(line, "", f"invalid YAML: {exc.problem}")]) from exc
    return YamlDocument(source, data, lines)


def parse_model(doc: YamlDocument, model: type[M], context: dict[str, Any] | None = None) -> M:
    """Validate ``doc`` against a pydantic model; every problem names file, line and key."""
    try:
        return model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        problems: list[tuple[int | None, str, str]] = []
        for err in exc.errors():
            loc: Loc = tuple(err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            problems.append((doc.line_of(loc), format_loc(loc), msg))
        raise ConfigError(doc.source, problems) from None
