"""A poll's few rows are checked row by row: the same batch, the same errors as the vectorised
checks, for any rows — one timestamp or one per row, known, unknown and ``ext_`` metrics,
labels a metric does or does not take, missing sites, non-finite and out-of-range values,
integers and floats."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwatch.model import BatchError, concat_batches, make_batch
from greenwatch.model import _batch as batch_module

METRICS = ("power_watts", "energy_joules_total", "collector_up", "ext_anything", "no_such")
LABELS = ("meter", "resource", "sensor", "target", "reason", "zone")
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([0.0, 1.0, -1.0, 1e12]),
)
TEXT = st.one_of(st.none(), st.sampled_from(["a", "b", "", "guian-1"]))


@st.composite
def rows(draw: st.DrawFn) -> tuple[Any, list[str], list[Any], dict[str, Any]]:
    n = draw(st.integers(min_value=1, max_value=12))
    metric = draw(st.lists(st.sampled_from(METRICS), min_size=n, max_size=n))
    value = draw(st.lists(VALUES, min_size=n, max_size=n))
    labels: dict[str, Any] = {"site": draw(st.one_of(TEXT, st.lists(TEXT, min_size=n, max_size=n)))}
    for name in draw(st.lists(st.sampled_from(LABELS), unique=True, max_size=3)):
        labels[name] = draw(st.one_of(TEXT, st.lists(TEXT, min_size=n, max_size=n)))
    minutes = draw(st.lists(st.integers(min_value=0, max_value=10**7), min_size=n, max_size=n))
    zone = draw(st.sampled_from(["UTC", "Europe/Paris"]))
    stamps = [pd.Timestamp("2000-01-01T00:00Z", tz=zone) + pd.Timedelta(minutes=m) for m in minutes]
    return draw(st.sampled_from([stamps[0], stamps])), metric, value, labels


def _outcome(build: Any) -> pd.DataFrame | str:
    try:
        return build()  # type: ignore[no-any-return]
    except BatchError as exc:
        return str(exc)


@settings(max_examples=300, deadline=None)
@given(rows())
def test_rows_checked_one_by_one_agree_with_the_vectorised_checks(
    case: tuple[Any, list[str], list[Any], dict[str, Any]],
) -> None:
    ts, metric, value, labels = case
    small = _outcome(lambda: make_batch(ts, metric, value, labels))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch_module, "SMALL_BATCH", 0)
        vectorised = _outcome(lambda: make_batch(ts, metric, value, labels))
    if isinstance(small, str) or isinstance(vectorised, str):
        assert small == vectorised
        return
    pd.testing.assert_frame_equal(small, vectorised)


@settings(max_examples=100, deadline=None)
@given(st.lists(rows(), min_size=1, max_size=3))
def test_small_concatenation_agrees_with_pandas(
    cases: list[tuple[Any, list[str], list[Any], dict[str, Any]]],
) -> None:
    outcomes = [_outcome(lambda c=c: make_batch(*c)) for c in cases]
    good = [b for b in outcomes if isinstance(b, pd.DataFrame)]
    small = concat_batches(good)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch_module, "SMALL_BATCH", 0)
        vectorised = concat_batches(good)
    pd.testing.assert_frame_equal(small, vectorised)


def test_a_poll_with_a_broken_reading_names_it() -> None:
    ts = pd.Timestamp("2026-01-01T00:00Z")
    with pytest.raises(BatchError, match=r"1 non-finite values \(first: power_watts=nan\)"):
        make_batch(ts, ["power_watts", "power_watts"], [1.0, math.nan], {"site": "s"})
    with pytest.raises(BatchError, match="does not take label"):
        make_batch(ts, ["power_watts"], [1.0], {"site": "s", "reason": "x"})


def test_small_concatenation_makes_any_missing_label_none() -> None:
    ts = pd.Timestamp("2026-01-01T00:00Z")
    a = make_batch(ts, ["power_watts"], [1.0], {"site": "s", "meter": "m"})
    b = make_batch(ts, ["power_watts"], [2.0], {"site": "s", "meter": "n"})
    b["meter"] = pd.Series([math.nan], dtype=object)  # as a reindex leaves it
    small = concat_batches([a, b])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch_module, "SMALL_BATCH", 0)
        vectorised = concat_batches([a, b])
    assert small["meter"].tolist() == ["m", None]
    pd.testing.assert_frame_equal(small, vectorised)
