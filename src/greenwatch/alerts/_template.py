"""Annotation templates: ``str.format`` fields over an alert's labels and its figures.

``"PUE {value:.3f} at {site} over {window}, target {threshold}"``: a field is a label name or
one of ``value``, ``threshold``, ``coverage``, ``window``; a missing label renders empty. Field
names must be plain identifiers (no attribute or index access), which keeps templates safe on
user input and translatable into Prometheus's Go templates for ``alerts export``.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping

NUMERIC_FIELDS = ("value", "threshold", "coverage", "min_coverage")
_FORMATTER = string.Formatter()


class _Fields(dict[str, object]):
    def __missing__(self, key: str) -> object:
        return ""


def check_template(text: str) -> None:
    """Raise ValueError when ``text`` is not a valid template (syntax, fields, format specs)."""
    try:
        fields = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise ValueError(f"bad template {text!r}: {exc}") from None
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"template field {{{name}}} must be a label name or value/threshold")
        if conversion:
            raise ValueError(f"template field {{{name}!{conversion}}}: conversions are not allowed")
        samples: tuple[object, ...] = (1.5,) if name in NUMERIC_FIELDS else ("x", 1.5)
        errors = []
        for sample in samples:
            try:
                format(sample, spec or "")
                break
            except ValueError as exc:
                errors.append(str(exc))
        else:
            raise ValueError(f"template field {{{name}:{spec}}}: {errors[-1]}")


def render(text: str, labels: Mapping[str, str], figures: Mapping[str, object]) -> str:
    """Render a checked template; a figure that is ``nan`` renders as ``n/a``."""
    fields = _Fields(labels)
    for key, value in figures.items():
        fields[key] = value
    out = []
    for literal, name, spec, _ in _FORMATTER.parse(text):
        out.append(literal)
        if name is None:
            continue
        value = fields[name]
        if isinstance(value, float) and math.isnan(value):
            out.append("n/a")
            continue
        try:
            out.append(format(value, spec or ("g" if isinstance(value, float) else "")))
        except (TypeError, ValueError):
            out.append(str(value))
    return "".join(out)


def go_template(text: str, constants: Mapping[str, object]) -> str:
    """The template in Prometheus's Go template syntax (``$labels``, ``$value``, ``printf``).

    ``constants`` are figures known when exporting (threshold, window); they are inlined.
    """
    out = []
    for literal, name, spec, _ in _FORMATTER.parse(text):
        out.append(literal.replace("{{", "{{ `{{` }}"))
        if name is None:
            continue
        if name in constants:
            value = constants[name]
            if isinstance(value, str):
                out.append(value)
            else:
                out.append(format(value, spec or ("g" if isinstance(value, float) else "")))
        elif name == "value":
            out.append(_go_value(spec or ""))
        elif name in NUMERIC_FIELDS:
            out.append("n/a")
        else:
            out.append(f"{{{{ $labels.{name} }}}}")
    return "".join(out)


def _go_value(spec: str) -> str:
    if not spec:
        return "{{ $value }}"
    if spec.endswith("%"):
        return "{{ humanizePercentage $value }}"
    kind = spec[-1] if spec[-1] in "eEfFgGd" else "g"
    verb = "%" + spec.rstrip("eEfFgGd%") + ("f" if kind == "F" else kind)
    if kind == "d":
        verb = "%.0f"
    return f'{{{{ printf "{verb}" $value }}}}'
