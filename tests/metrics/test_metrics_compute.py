"""Golden tests for the computing-power figures: a hand-built two-site case.

Site ``a`` (west, hub guizhou): 8 H100 SXM (AI, FP16 989.4 TFLOPS each, 700 W) and 4 EPYC 9654
sockets (general, FP64 3.6864 TFLOPS, 360 W). Site ``b`` (east, hub jingjinji): 10 SW26010
(supercomputing, FP64 3.0624 TFLOPS, 375 W) and 4 H100 SXM entering service on day 2. The
period is two days (48 h). Every expected value below is worked out by hand in the comments.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from greenwatch.inventory import builtin_catalogue
from greenwatch.metrics import (
    POOL_COLUMNS,
    VERIFICATION_COLUMNS,
    attribute_energy,
    computing_efficiency,
    computing_power,
    delivered_computing,
    free_computing,
    identify_findings,
    pool_status,
    regional_share,
)

START = pd.Timestamp("2026-01-01", tz="UTC")
END = pd.Timestamp("2026-01-03", tz="UTC")
H100, EPYC, SW = 989.4e12, 3.6864e12, 3.0624e12
CATALOGUE = builtin_catalogue()
approx = pytest.approx


def pools() -> pd.DataFrame:
    day2 = dt.date(2026, 1, 2)
    a, b = ("a", "guizhou", "west"), ("b", "jingjinji", "east")
    rows = [
        (*a, "gpu", "ai", "gpu", "nvidia-h100-sxm", 8, H100, 700.0, None, None, "fp16"),
        (*a, "cpu", "general", "cpu", "amd-epyc-9654", 4, EPYC, 360.0, None, None, "fp64"),
        (*b, "hpc", "supercomputing", "cpu", "SW26010", 10, SW, 375.0, None, None, "fp64"),
        (*b, "gpu", "ai", "gpu", "NVIDIA H100 80GB HBM3", 4, H100, 700.0, day2, None, "fp16"),
    ]
    return pd.DataFrame(rows, columns=list(POOL_COLUMNS))


def discovered() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("a", "gpu", "NVIDIA H100 80GB HBM3", 4.0),  # two targets: 4 + 2 = 6 of 8
            ("a", "gpu", "NVIDIA H100 80GB HBM3", 2.0),
            ("a", "cpu", "AMD EPYC 9654 96-Core Processor", 4.0),
            ("a", "gpu", "NVIDIA L4", 2.0),  # nobody registered these
        ],
        columns=["site", "device_kind", "model", "devices"],
    )


def verifications() -> pd.DataFrame:
    ts = pd.Timestamp
    rows = [
        ("a", "gpu", "gpu-matmul", "fp16", 5.6e15, 8, True, ts("2026-01-02T12:00Z")),
        ("a", "gpu", "gpu-matmul", "fp64", 4.0e14, 8, True, ts("2026-01-02T12:00Z")),
        ("a", "cpu", "hpcg", "fp64", None, 4, False, ts("2026-01-02T00:00Z")),
        ("b", "hpc", "hpl", "fp64", 2.3e13, 10, True, ts("2025-09-01T00:00Z")),
        ("b", "hpc", "hpcg", "fp64", 5.0e11, 10, True, ts("2025-09-02T00:00Z")),
    ]
    frame = pd.DataFrame(rows, columns=list(VERIFICATION_COLUMNS))
    frame["measured_flops"] = frame["measured_flops"].astype(float)
    return frame


def utilisation() -> pd.DataFrame:
    hours = pd.date_range(START, END, freq="h", inclusive="left")
    rows = []
    for i, ts in enumerate(hours):
        rows.append(("a", "gpu", ts, 0.4 if i < 24 else 0.6))  # mean 0.5
        if i < 24:
            rows.append(("a", "cpu", ts, 0.25))  # day 2 missing: coverage 0.5
        rows.append(("b", "cpu", ts, 0.8))
        rows.append(("b", "gpu", ts, 0.6))
    return pd.DataFrame(rows, columns=["site", "resource", "ts", "value"])


def status() -> pd.DataFrame:
    return pool_status(pools(), discovered(), verifications(), CATALOGUE, END)


def test_identify_finds_missing_and_unregistered_devices() -> None:
    found = identify_findings(pools(), discovered(), CATALOGUE, END)
    rows = {(r.site, r.model): r for r in found.itertuples()}
    assert set(rows) == {("a", "nvidia-h100-sxm"), ("a", "nvidia-l4")}  # EPYC 4 = 4: no finding
    gpu = rows[("a", "nvidia-h100-sxm")]
    assert (gpu.registered, gpu.seen, gpu.difference, gpu.finding) == (8, 6.0, -2.0, "missing")
    assert gpu.message == ("a: registered 8 x nvidia-h100-sxm (gpu), collectors see 6: 2 missing")
    assert rows[("a", "nvidia-l4")].finding == "unregistered"
    # Site b reports nothing: not identified, so not judged. A tolerance of 2 devices hides both.
    assert identify_findings(pools(), discovered(), CATALOGUE, END, tolerance=2).empty


def test_pool_status_rated_available_and_verification() -> None:
    s = status().set_index(["site", "pool"])
    # a/gpu: 8 x 989.4e12 = 7.9152e15 rated; 6 of 8 seen -> 5.9364e15 available; verified
    # 12 h before the end; fp16 measured 5.6e15 / 7.9152e15 = 0.707499...
    assert s.loc[("a", "gpu"), "rated_flops"] == approx(7.9152e15)
    assert s.loc[("a", "gpu"), "available_flops"] == approx(5.9364e15)
    assert s.loc[("a", "gpu"), "verification"] == "ok"
    assert s.loc[("a", "gpu"), "verified_age_s"] == 12 * 3600
    assert s.loc[("a", "gpu"), "measured_ratio"] == approx(5.6e15 / 7.9152e15)
    # a/cpu: all 4 seen, but its latest check failed -> nothing available.
    assert s.loc[("a", "cpu"), "seen_share"] == 1.0
    assert s.loc[("a", "cpu"), "verification"] == "failed"
    assert s.loc[("a", "cpu"), "available_flops"] == 0.0
    # b/hpc: HPCG 123 days old (> 90) -> stale; nobody reports on it -> available = rated. Its
    # measured capacity is HPL's (the higher of the two benchmarks), not the later HPCG's.
    assert s.loc[("b", "hpc"), "verification"] == "stale"
    assert s.loc[("b", "hpc"), "verified_age_s"] == 123 * 86400
    assert s.loc[("b", "hpc"), "measured_flops"] == 2.3e13
    assert s.loc[("b", "hpc"), "measured_ratio"] == approx(2.3e13 / 3.0624e13)
    assert not s.loc[("b", "hpc"), "identified"]
    assert s.loc[("b", "hpc"), "available_flops"] == approx(3.0624e13)
    assert s.loc[("b", "gpu"), "verification"] == "never"
    # The day before b/gpu enters service it rates 0.
    before = pool_status(pools(), discovered(), verifications(), CATALOGUE, START)
    assert before.set_index(["site", "pool"]).loc[("b", "gpu"), "rated_flops"] == 0.0


def test_a_failed_precision_fails_the_pool_even_when_a_later_one_passed() -> None:
    # One GPU check posts fp16 (wrong product) then fp64 (fine): the pool is failed, not ok.
    records = pd.concat(
        [
            verifications(),
            pd.DataFrame(
                [
                    (
                        "b",
                        "gpu",
                        "gpu-matmul",
                        "fp16",
                        math.nan,
                        4,
                        False,
                        END - pd.Timedelta(2, "s"),
                    ),
                    ("b", "gpu", "gpu-matmul", "fp64", 2.0e14, 4, True, END - pd.Timedelta(1, "s")),
                ],
                columns=list(VERIFICATION_COLUMNS),
            ),
        ],
        ignore_index=True,
    )
    s = pool_status(pools(), discovered(), records, CATALOGUE, END).set_index(["site", "pool"])
    assert s.loc[("b", "gpu"), "verification"] == "failed"
    assert s.loc[("b", "gpu"), "available_flops"] == 0.0
    # A later passing fp16 run mends it.
    mended = pd.concat(
        [records, records.iloc[[-2]].assign(passed=True, at=END, measured_flops=3.0e15)],
        ignore_index=True,
    )
    s = pool_status(pools(), discovered(), mended, CATALOGUE, END).set_index(["site", "pool"])
    assert s.loc[("b", "gpu"), "verification"] == "ok"


def test_computing_power_per_level_and_class() -> None:
    nation = computing_power(status(), "national").set_index("class")
    # ai: 7.9152e15 + 4 x 989.4e12 = 11.8728e15 rated; 5.9364e15 + 3.9576e15 = 9.894e15 available
    assert nation.loc["ai", "rated_flops"] == approx(11.8728e15)
    assert nation.loc["ai", "available_flops"] == approx(9.894e15)
    assert nation.loc["ai", "devices"] == 12
    assert nation.loc["ai", "identified_share"] == approx(7.9152 / 11.8728)
    assert nation.loc["ai", "verified_share"] == approx(7.9152 / 11.8728)
    assert nation.loc["general", "rated_flops"] == approx(4 * EPYC)
    assert nation.loc["general", "available_flops"] == 0.0
    assert nation.loc["supercomputing", "verified_share"] == 0.0  # stale is not verified
    hubs = computing_power(status(), "hub").set_index(["key", "class"])
    assert hubs.loc[("jingjinji", "supercomputing"), "rated_flops"] == approx(10 * SW)
    sites = computing_power(status(), "site")
    assert sorted(sites["key"].unique()) == ["a", "b"]
    share = regional_share(status(), "west").set_index("class")
    assert share.loc["ai", "rated_share"] == approx(7.9152 / 11.8728)
    assert share.loc["ai", "available_share"] == approx(5.9364 / 9.894)
    assert share.loc["supercomputing", "rated_share"] == 0.0
    assert math.isnan(share.loc["general", "available_share"])  # nothing available anywhere


def _efficiency(level: str) -> pd.DataFrame:
    delivered = delivered_computing(pools(), utilisation(), START, END)
    energy = pd.DataFrame(
        [("a", 7.2e9, 1.0, 1000.0), ("b", 5.4e9, 0.9, 900.0)],
        columns=["site", "facility_j", "facility_coverage", "co2_kg"],
    )
    return computing_efficiency(attribute_energy(delivered, energy), level, 48.0)


def test_delivered_computing_per_pool() -> None:
    d = delivered_computing(pools(), utilisation(), START, END).set_index(["site", "pool"])
    # a/gpu: 48 h x 7.9152e15 = 3.799296e17 FLOP-h; mean(0.4 x 24, 0.6 x 24) = 0.5
    assert d.loc[("a", "gpu"), "rated_flop_hours"] == approx(3.799296e17)
    assert d.loc[("a", "gpu"), "delivered_flop_hours"] == approx(1.899648e17)
    # a/cpu: data for 24 of 48 h at 0.25
    assert d.loc[("a", "cpu"), "utilisation"] == approx(0.25)
    assert d.loc[("a", "cpu"), "coverage"] == approx(0.5)
    assert d.loc[("a", "cpu"), "delivered_flop_hours"] == approx(48 * 4 * EPYC * 0.25)
    # b/gpu: in service 24 h only: 24 x 3.9576e15 x 0.6
    assert d.loc[("b", "gpu"), "hours"] == 24
    assert d.loc[("b", "gpu"), "delivered_flop_hours"] == approx(24 * 3.9576e15 * 0.6)


def test_energy_attribution_and_efficiency() -> None:
    nation = _efficiency("national").set_index("class")
    ai = nation.loc["ai"]
    # Site a shares 7.2e9 J by rated device power x hours: gpu 8x700x48 = 268,800 vs cpu
    # 4x360x48 = 69,120 -> 35/44 to the GPUs. Site b: hpc 10x375x48 = 180,000 vs gpu
    # 4x700x24 = 67,200 -> 67,200/247,200 of 5.4e9 J to the GPUs.
    energy_j = 7.2e9 * 35 / 44 + 5.4e9 * 67200 / 247200
    co2 = 1000 * 35 / 44 + 900 * 67200 / 247200
    delivered_fh = 1.899648e17 + 24 * 3.9576e15 * 0.6  # 2.4695424e17 FLOP-h
    rated_fh = 3.799296e17 + 24 * 3.9576e15  # 4.74912e17 FLOP-h
    assert ai["rated_flops"] == approx(rated_fh / 48)  # 9.894e15 mean over the period
    assert ai["utilisation"] == approx(delivered_fh / rated_fh)  # 0.52
    assert ai["utilisation"] == approx(0.52)
    assert ai["delivered_flops"] == approx(delivered_fh / 48)
    assert ai["delivered_pflop_hours"] == approx(246.95424)
    assert ai["energy_kwh"] == approx(energy_j / 3.6e6)
    assert ai["kwh_per_pflop_hour"] == approx(energy_j / 3.6e6 / 246.95424)
    assert ai["kg_co2_per_pflop_hour"] == approx(co2 / 246.95424)
    mean_watts = energy_j / (48 * 3600)
    assert ai["flops_per_watt"] == approx(delivered_fh / 48 / mean_watts)  # ~123.6 GFLOPS/W
    assert ai["flops_per_watt"] == approx(1.2356e11, rel=1e-3)
    assert ai["rated_flops_per_watt"] == approx(rated_fh / 48 / mean_watts)
    # coverage: a/gpu 1 x 1, b/gpu 1 x 0.9 (b's energy coverage), weighted by rated FLOP-h
    assert ai["coverage"] == approx((3.799296e17 + 0.9 * 24 * 3.9576e15) / rated_fh)  # 0.98
    assert ai["coverage"] == approx(0.98)
    general = nation.loc["general"]
    assert general["utilisation"] == approx(0.25)
    assert general["coverage"] == approx(0.5)
    sites = _efficiency("site").set_index(["key", "class"])
    assert sites.loc[("b", "supercomputing"), "energy_kwh"] == approx(
        5.4e9 * 180000 / 247200 / 3.6e6
    )


def test_site_without_facility_energy_is_left_out_and_lowers_coverage() -> None:
    delivered = delivered_computing(pools(), utilisation(), START, END)
    energy = pd.DataFrame(
        [("a", 7.2e9, 1.0, 1000.0), ("b", math.nan, 0.0, math.nan)],
        columns=["site", "facility_j", "facility_coverage", "co2_kg"],
    )
    ai = computing_efficiency(attribute_energy(delivered, energy), "national", 48.0)
    row = ai.set_index("class").loc["ai"]
    assert row["energy_kwh"] == approx(7.2e9 * 35 / 44 / 3.6e6)
    assert row["delivered_pflop_hours"] == approx(189.9648)  # a's GPUs only
    assert row["coverage"] == approx(3.799296e17 / 4.74912e17)  # 0.8


def test_free_computing_feeds_placement() -> None:
    current = pd.DataFrame(
        [("a", "gpu", 0.6), ("b", "cpu", 0.8), ("b", "gpu", 0.6)],
        columns=["site", "resource", "value"],
    )
    free = free_computing(status(), current).set_index(["site", "class"])
    assert free.loc[("a", "ai"), "free_flops"] == approx(5.9364e15 * 0.4)
    assert free.loc[("b", "ai"), "free_flops"] == approx(3.9576e15 * 0.4)
    assert free.loc[("b", "supercomputing"), "free_flops"] == approx(3.0624e13 * 0.2)
    assert free.loc[("a", "general"), "free_flops"] == 0.0
    assert math.isnan(free.loc[("a", "general"), "coverage"])


def test_unknown_level_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown level 'planet'"):
        computing_power(status(), "planet")
