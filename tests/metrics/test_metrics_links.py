"""Golden cases for link utilisation, availability and probe percentiles."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from greenwatch.metrics import (
    link_availability,
    link_summary,
    link_utilisation,
    link_utilisation_per_bucket,
    percentiles,
    site_link_summary,
)
from tests.metrics._frames import at, frame

EXACT = {"rel": 1e-9, "abs": 1e-12}


def test_utilisation_from_byte_counter() -> None:
    counter = frame([(0, 0), (10, 1.25e9), (20, 2.5e9)])
    got = link_utilisation(counter, capacity_bps=2e9, start=at(0), end=at(20), max_gap="60s")
    # 2.5e9 B x 8 / (20 s x 2e9 bit/s)
    assert got.bits_per_second == pytest.approx(1e9, **EXACT)
    assert got.utilisation == pytest.approx(0.5, **EXACT)
    assert got.coverage == 1.0


def test_gap_neither_inflates_nor_dilutes_the_rate() -> None:
    counter = frame([(0, 0), (10, 1.25e9), (20, 2.5e9), (1000, 9e9), (1010, 10.25e9)])
    got = link_utilisation(counter, capacity_bps=2e9, start=at(0), end=at(1010), max_gap="60s")
    assert got.utilisation == pytest.approx(0.5, **EXACT)
    assert got.covered_s == 30.0
    assert got.coverage == pytest.approx(30 / 1010, **EXACT)


def test_octet_counter_wrap() -> None:
    wrap = 2.0**32
    counter = frame([(0, wrap - 1e8), (8, 1e8)])
    got = link_utilisation(
        counter, capacity_bps=1e9, start=at(0), end=at(8), max_gap="60s", wrap_at=wrap
    )
    assert got.bits_per_second == pytest.approx(2e8 * 8 / 8, **EXACT)


def test_utilisation_per_bucket() -> None:
    counter = frame([(0, 0), (60, 7.5e9), (120, 7.5e9)])
    got = link_utilisation_per_bucket(
        counter, capacity_bps=1e9, bucket="1min", start=at(0), end=at(180), max_gap="5min"
    )
    assert got["utilisation"].tolist()[:2] == pytest.approx([1.0, 0.0], **EXACT)
    assert math.isnan(got["utilisation"].iloc[2])
    assert got["coverage"].tolist() == [1.0, 1.0, 0.0]


def test_availability_is_the_time_weighted_share_up() -> None:
    up = frame([(0, 1), (10, 0), (40, 1), (60, 1)])
    got = link_availability(up, start=at(0), end=at(60), max_gap="60s")
    assert got.mean == pytest.approx(30 / 60, **EXACT)  # state holds until the next sample
    assert got.coverage == 1.0


def test_percentiles_of_probe_results() -> None:
    latency = frame([(s, (s + 1) / 1000) for s in range(100)])
    got = percentiles(latency, start=at(0), end=at(100))
    assert got == pytest.approx({"p50": 0.0505, "p95": 0.09505, "p99": 0.09901}, **EXACT)
    assert math.isnan(percentiles(latency, start=at(200), end=at(300))["p50"])


def _batch() -> pd.DataFrame:
    rows = []
    for link, scale in (("a--b", 1.0), ("a--c", 0.5)):
        for s in range(0, 61, 10):
            rows += [
                (at(s), "link_transmit_bytes_total", s * 1.25e8 * scale, link, "a"),
                (at(s), "link_receive_bytes_total", s * 0.25e8, link, "a"),
                (at(s), "link_up", 1.0 if (link == "a--b" or s < 30) else 0.0, link, "a"),
                (at(s), "link_latency_seconds", 0.01 * scale, link, ""),
                (at(s), "link_loss_ratio", 0.0, link, ""),
            ]
    return pd.DataFrame(rows, columns=["ts", "metric", "value", "link", "interface"])


LINKS = pd.DataFrame(
    {"link": ["a--b", "a--c"], "a": ["a", "a"], "b": ["b", "c"], "capacity_bps": [2e9, 1e9]}
)


def test_link_summary_per_link() -> None:
    got = link_summary(_batch(), LINKS, start=at(0), end=at(60), max_gap="30s").set_index("link")
    # busier direction: tx 1.25e8 B/s = 1e9 bit/s on 2e9; a--c tx 0.5e9 bit/s on 1e9
    assert got.loc["a--b", "utilisation"] == pytest.approx(0.5, **EXACT)
    assert got.loc["a--c", "utilisation"] == pytest.approx(0.5, **EXACT)
    assert got.loc["a--b", "availability"] == 1.0
    assert got.loc["a--c", "availability"] == pytest.approx(0.5, **EXACT)
    assert got.loc["a--c", "latency_p99_s"] == pytest.approx(0.005, **EXACT)


def test_site_link_summary_sums_before_dividing() -> None:
    got = site_link_summary(_batch(), LINKS, start=at(0), end=at(60), max_gap="30s")
    a = got.set_index("site").loc["a"]
    assert a["links"] == 2
    # (1e9 x 60 + 0.5e9 x 60) bits / ((2e9 + 1e9) x 60 s)
    assert a["utilisation"] == pytest.approx(1.5 / 3.0, **EXACT)
    assert a["availability"] == pytest.approx(90 / 120, **EXACT)
    assert set(got["site"]) == {"a", "b", "c"}
