"""The ingest pipeline: batch ids, graceful close, push profiles."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from greenwatch.ingest import Ingest, IngestClosedError, Mapper, load_push_profile
from greenwatch.ingest._mapping import Protocol, default_profiles
from greenwatch.model import ConfigError, make_batch

T0 = pd.Timestamp("2026-03-01T00:00:00Z")


def _batch() -> pd.DataFrame:
    return make_batch([T0], ["power_watts"], [1.0], {"site": "a", "meter": "facility"})


def test_a_known_batch_id_is_not_written_again() -> None:
    written: list[int] = []
    ingest = Ingest(lambda b: written.append(len(b)) or len(b))
    assert ingest.submit(_batch(), batch_id="x") == 1
    assert ingest.submit(_batch(), batch_id="x") == 0
    assert ingest.seen("x") == 1
    assert written == [1]


def test_close_waits_for_writes_in_flight_then_refuses() -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(batch: pd.DataFrame) -> int:
        entered.set()
        release.wait(5)
        return len(batch)

    ingest = Ingest(slow)
    writer = threading.Thread(target=ingest.submit, args=(_batch(),))
    writer.start()
    entered.wait(5)
    done: list[bool] = []
    closer = threading.Thread(target=lambda: done.append(ingest.close(10)))
    closer.start()
    time.sleep(0.2)
    assert done == []  # still waiting for the write in flight
    release.set()
    closer.join(5)
    writer.join(5)
    assert done == [True]
    assert ingest.stored == 1
    with pytest.raises(IngestClosedError):
        ingest.submit(_batch())


def test_push_profiles_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "rules:\n  - match: x\n    metric: power_wats\n    labels: {meter: m}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_push_profile(path)
    assert f"{path}:3: rules[0].metric" in str(err.value)
    path.write_text(
        "protocols: [influx]\nsite_tag: dc\nrules:\n"
        "  - {match: pdu, field: watts, metric: power_watts, labels: {meter: '{outlet}'}}\n",
        encoding="utf-8",
    )
    mapper = Mapper([load_push_profile(path)])
    mapped = mapper.map("influx", "pdu", "watts", {"dc": "guian-1", "outlet": "o1"}, None)
    assert (mapped.metric, mapped.labels) == ("power_watts", (("site", "guian-1"), ("meter", "o1")))
    unmapped = mapper.map("influx", "pdu", "volts", {"dc": "guian-1"}, "dflt")
    assert unmapped.metric == "ext_pdu_volts"
    assert dict(unmapped.labels) == {"site": "dflt", "dc": "guian-1"}


PROFILES = default_profiles()
_NAMES = st.sampled_from(
    ["ipmi_sensor", "cpu", "power_watts", "temperature_celsius", "hw.power", "pdu", "x-y"]
)
_TAGS = st.dictionaries(
    st.sampled_from(["site", "unit", "name", "host", "cpu", "meter", "sensor", "a-b", "a_b"]),
    st.sampled_from(["watts", "degrees_c", "cpu-total", "c1", "guian-1", "x"]),
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["influx", "otlp", "remote_write"]),
            _NAMES,
            st.sampled_from([None, "value", "usage_idle", "watts"]),
            _TAGS,
            st.sampled_from([None, "dflt"]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_a_mapper_maps_each_series_as_a_fresh_one_does(
    series: list[tuple[Protocol, str, str | None, dict[str, str], str | None]],
) -> None:
    """A mapper remembers which rules match a name and field, and each unmapped shape: what
    it maps after thousands of series equals what a mapper that saw none maps."""
    warm = Mapper(PROFILES)
    seen = [warm.map(*s) for s in series]
    assert seen == [Mapper(PROFILES).map(*s) for s in series]
    assert seen == [warm.map(*s) for s in reversed(series)][::-1]
