"""The line-protocol parser and encoder: escapes, field kinds, timestamps, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwatch.ingest import encode_lines, parse_lines

NOW = 1_772_323_200_000_000_000


def _rows(text: str, precision: str = "ns") -> tuple[list[tuple[str, dict[str, str]]], list]:
    parsed = parse_lines(text, precision, NOW)
    assert parsed.errors == []
    rows = [
        (parsed.series[s][0], parsed.series[s][1], f, k, v, t)
        for s, f, k, v, t in parsed.rows[["series", "field", "kind", "value", "t"]].itertuples(
            index=False
        )
    ]
    return parsed.series, rows


def test_escapes_in_measurement_tags_and_field_keys() -> None:
    text = r'my\ meas\,x,tag\ key=va\,l\=ue,t2=a=b fi\=eld\ 1=1.5,s="q\"uo,te \\ x" 17'
    _, rows = _rows(text)
    assert rows[0][:2] == ("my meas,x", {"tag key": "va,l=ue", "t2": "a=b"})
    assert rows[0][2:] == ("fi=eld 1", "f", 1.5, 17)
    assert rows[1][2:4] == ("s", "s")


def test_field_kinds() -> None:
    _, rows = _rows('m a=1i,b=-2i,c=3u,d=t,e=FALSE,f=-1.5e3,g=.5,h="x",i=7 1')
    got = {r[2]: (r[3], r[4]) for r in rows}
    assert got["a"] == ("i", 1.0)
    assert got["b"] == ("i", -2.0)
    assert got["c"] == ("u", 3.0)
    assert got["d"] == ("b", 1.0)
    assert got["e"] == ("b", 0.0)
    assert got["f"] == ("f", -1500.0)
    assert got["g"] == ("f", 0.5)
    assert got["h"][0] == "s"
    assert got["i"] == ("f", 7.0)


def test_comments_blank_lines_and_default_time() -> None:
    text = "# a comment\n\n   \nm,t=1 v=1\r\n  m,t=2 v=2 5\n"
    parsed = parse_lines(text, "ns", NOW)
    assert parsed.errors == []
    assert parsed.lines == 2
    assert list(parsed.rows["t"]) == [NOW, 5]


@pytest.mark.parametrize(
    ("precision", "factor"), [("ns", 1), ("us", 1_000), ("ms", 1_000_000), ("s", 10**9)]
)
def test_precision(precision: str, factor: int) -> None:
    parsed = parse_lines("m v=1 1700000000", precision, NOW)
    assert list(parsed.rows["t"]) == [1_700_000_000 * factor]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("m", "missing fields"),
        ("m v=1 12 13", "unexpected text"),
        ("m v=1 1.5", "bad timestamp"),
        ("m v=NaN", "NaN"),
        ("m v=Inf", "NaN"),
        ("m v=1x", "invalid value"),
        ('m v="open', "unterminated"),
        ("m,t= v=1", "needs a key and a value"),
        ("m,t=1,t=2 v=1", "duplicate tag"),
        ("m v=99999999999999999999i", "invalid value"),
        ("m v=1 99999999999999999999", "out of range"),
        ("m,t=" + "x" * 2000 + " v=1", "too long"),
        ("m v=1,", "trailing"),
    ],
)
def test_bad_lines_name_line_and_reason(line: str, reason: str) -> None:
    parsed = parse_lines(f"ok v=1 1\n{line}\nok v=2 2", "ns", NOW)
    assert [e.line for e in parsed.errors] == [2], parsed.errors
    assert reason in parsed.errors[0].reason
    assert sorted(parsed.rows["value"]) == [1.0, 2.0]


def test_timestamp_out_of_range_for_precision() -> None:
    parsed = parse_lines("m v=1 9999999999999", "s", NOW)
    assert parsed.errors[0].line == 1
    assert "out of range" in parsed.errors[0].reason


_labels = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\n"),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and not s.endswith("\\"))


@settings(max_examples=30, deadline=None)
@given(
    site=_labels,
    meter=_labels,
    values=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=20
    ),
)
def test_encode_then_parse_is_exact(site: str, meter: str, values: list[float]) -> None:
    ts = pd.Series(
        pd.to_datetime(np.arange(len(values)) * 1_000_000_007 + NOW, utc=True),
        dtype="datetime64[ns, UTC]",
    )
    batch = pd.DataFrame(
        {"ts": ts, "metric": "power_watts", "value": values, "site": site, "meter": meter}
    )
    parsed = parse_lines("\n".join(encode_lines(batch)), "ns", 0)
    assert parsed.errors == []
    assert parsed.series == [("power_watts", {"site": site, "meter": meter})]
    assert list(parsed.rows["value"]) == values
    assert list(parsed.rows["t"]) == list(ts.to_numpy(dtype="datetime64[ns]").view("int64"))
