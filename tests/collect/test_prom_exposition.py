"""The exposition reader gives what prometheus_client's parser gives (names as parsed and as
exposed, labels, values) for any page, and the same errors; plain pages take the fast reader."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from greenwatch.collect import _prom as prom_module
from greenwatch.collect._prom import exposition_samples

NAMES = ("x", "x_total", "y", "y_count", "y_sum", "y_bucket", "_total", "a:b", "1bad", "x y")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped", "unknown", "COUNTER", "info")
LABEL_NAMES = ("le", "gpu", "__name__", "__r", "a_1", "9x")
LABEL_VALUES = ("0", "a b", "+Inf", "x=1,y", "}{", 'q"', "back\\\\slash", "new\\nline", "")
VALUES = ("1", "-2", "1.5", "1e3", "NaN", "+Inf", "-Inf", "nan", ".5", "1_0", "0x10", "1,", "")


@st.composite
def lines(draw: st.DrawFn, plain: bool = False) -> str:
    """A line of a page; ``plain``: only what exporters write (the fast reader's lines)."""

    def pick(pool: tuple[str, ...], good: int) -> str:
        return draw(st.sampled_from(pool[:good] if plain else pool))

    kind = draw(st.sampled_from(["help", "type", "sample", "sample", "sample", "other"]))
    name = pick(NAMES, 8)
    if kind == "help":
        doc = pick(("some doc", "", 'q "x"'), 2)
        return f"# HELP {name} {doc}"
    if kind == "type":
        return f"# TYPE {name} {pick(TYPES, 6)}"
    if kind == "other":
        return pick(("", "# a comment", "#", "# HELP", "\t", "x\r"), 3)
    pairs = draw(st.lists(st.tuples(st.sampled_from(LABEL_NAMES), st.just("")), max_size=3))
    pairs = [(pick(LABEL_NAMES, 2) if plain else k, pick(LABEL_VALUES, 6)) for k, _ in pairs]
    labels = ",".join(f'{k}="{v}"' for k, v in pairs) + draw(st.sampled_from(["", ","]))
    body = f"{{{labels}}}" if pairs or draw(st.booleans()) else ""
    space = pick((" ", "  ", "\t"), 1)
    stamp = pick(("", " 1700000000000", " -5", " x"), 3)
    return f"{name}{body}{space}{pick(VALUES, 9)}{stamp}"


def _reference(text: str) -> list[Any] | str:
    """What the collector read through prometheus_client before (or the error's type)."""
    try:
        out = []
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                names = [sample.name]
                if family.type == "counter" and sample.name == family.name + "_total":
                    names.append(family.name)
                out.append((names, dict(sample.labels), sample.value))
    except (ValueError, TypeError, IndexError) as exc:
        return type(exc).__name__
    return out


def _ours(text: str) -> list[Any] | str:
    try:
        return exposition_samples(text)
    except (ValueError, TypeError, IndexError) as exc:
        return type(exc).__name__


def _same(a: list[Any] | str, b: list[Any] | str) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    nan = [math.isnan(v) for *_, v in a] == [math.isnan(v) for *_, v in b]
    plain = [(n, lab, None if math.isnan(v) else v) for n, lab, v in a]
    return nan and plain == [(n, lab, None if math.isnan(v) else v) for n, lab, v in b]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(lines(), lines(plain=True)), max_size=12), st.booleans())
def test_any_page_reads_as_prometheus_client_reads_it(page: list[str], newline: bool) -> None:
    text = "\n".join(page) + ("\n" if newline else "")
    assert _same(_ours(text), _reference(text))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(lines(), lines(plain=True)), max_size=12))
def test_the_fast_reader_agrees_wherever_it_answers(page: list[str]) -> None:
    text = "\n".join(page)
    fast = prom_module._plain_samples(text) if prom_module._PLAIN.fullmatch(text) else None
    if fast is not None:
        assert _same(fast, _reference(text))


def test_exporter_pages_take_the_fast_reader(shared_data: Path) -> None:
    for page in sorted((shared_data / "prometheus").glob("*.prom")):
        text = page.read_text()
        fast = prom_module._plain_samples(text)
        assert fast is not None, page.name
        assert _same(fast, _reference(text)), page.name


@pytest.mark.parametrize(
    "text",
    [
        "# TYPE x counter\nx 1\n",
        "# TYPE x_total counter\nx_total 2\n",
        "# HELP x h\nx 1\n# TYPE x counter\n",
        '# TYPE y histogram\ny_bucket{le="1"} 1\ny_count 1\ny_sum 2\ny 5\n',
        'x{a="1",} 1 1700000000000\n',
    ],
)
def test_counter_names_and_families(text: str) -> None:
    assert prom_module._plain_samples(text) is not None
    assert _ours(text) == _reference(text)
