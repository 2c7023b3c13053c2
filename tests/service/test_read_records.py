"""The read API's JSON answers, written a few thousand rows at a time: the very bytes
``flask.jsonify`` writes of all the rows at once, whatever the frame holds."""

from __future__ import annotations

import flask
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwatch.service import _api_read
from greenwatch.service._api_read import frame_records, records_response

FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0, 1e-300])
LABELS = st.none() | st.text(max_size=8)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 12))
    seconds = draw(st.lists(st.integers(0, 2**31), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(np.array(seconds, dtype="int64"), unit="s", utc=True),
            "metric": "power_watts",
            "site": draw(st.lists(LABELS, min_size=n, max_size=n)),
            "value": draw(st.lists(FLOATS, min_size=n, max_size=n)),
            "count": draw(st.lists(st.integers(0, 10**12), min_size=n, max_size=n)),
        }
    )


@given(frame=frames(), at_once=st.integers(1, 5))
@settings(max_examples=200, deadline=None)
def test_the_answer_is_jsonify_of_every_row(frame: pd.DataFrame, at_once: int) -> None:
    app = flask.Flask("t")
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(_api_read, "RECORDS_AT_ONCE", at_once)
        got = records_response(frame)
        want = flask.jsonify(data=frame_records(frame))
    assert got.get_data() == want.get_data()
    assert got.mimetype == want.mimetype == "application/json"
