"""Verification records: a benchmark run on some of a pool's devices, passed or failed.

A record says that ``devices`` devices of a pool ran ``benchmark`` at ``precision`` at time
``at`` and measured ``measured_flops`` (None for a probe that only checks the devices answer).
The metrics stage judges pools by these records; :func:`verification_frame` is the frame it
reads (columns of ``greenwatch.metrics.VERIFICATION_COLUMNS``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import AwareDatetime, Field

from greenwatch.inventory import ComputeClass, ComputePool, DeviceModel, Precision
from greenwatch.model import ConfigError, Slug, StrictModel, YamlDocument, parse_model
from greenwatch.resources._errors import RegistrationError
from greenwatch.resources._names import BENCHMARKS

Benchmark = Slug


@dataclass(frozen=True)
class Verification:
    """One stored verification record; ``at`` is UTC, ``measured_flops`` in FLOPS."""

    site: str
    pool: str
    benchmark: str
    precision: Precision
    measured_flops: float | None
    devices: int
    passed: bool
    at: pd.Timestamp
    recorded_by: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``at`` as ISO 8601 UTC)."""
        return {
            "site": self.site,
            "pool": self.pool,
            "benchmark": self.benchmark,
            "precision": self.precision.value,
            "measured_flops": self.measured_flops,
            "devices": self.devices,
            "passed": self.passed,
            "at": self.at.isoformat(),
            "recorded_by": self.recorded_by,
            "detail": self.detail,
        }


class VerificationInput(StrictModel):
    """A verification record as a client sends it; ``at`` defaults to the registry's now."""

    site: str = Field(min_length=1)
    pool: str = Field(min_length=1)
    benchmark: Benchmark = Field(description=f"e.g. {', '.join(BENCHMARKS)}")
    precision: Precision
    measured_flops: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    devices: int = Field(ge=1, strict=True)
    passed: bool = Field(strict=True)
    at: AwareDatetime | None = None
    detail: str = Field(default="", max_length=4000)


def parse_verification(record: Mapping[str, Any]) -> VerificationInput:
    """Validate a record's fields; :class:`RegistrationError` keyed by field on failure."""
    try:
        return parse_model(YamlDocument("<verification>", dict(record)), VerificationInput)
    except ConfigError as exc:
        raise RegistrationError([(key or "record", msg) for _, key, msg in exc.problems]) from None


# A measurement may beat the datasheet a little (boost clocks, a generous benchmark's FLOP
# count); more than this multiple of the rated peak of the devices tested is not a measurement.
PEAK_MARGIN = 1.2
# Pools counted in FP64 (general, supercomputing) are verified at FP64 or FP32: a low-precision
# figure says nothing about FP64 capacity. AI pools may be verified at any rated precision.
LOW_PRECISIONS = frozenset({Precision.FP16, Precision.BF16, Precision.FP8})


def plausibility_problems(
    record: VerificationInput, pool: ComputePool, model: DeviceModel | None
) -> list[tuple[str, str]]:
    """``(key, reason)`` for each way ``record`` cannot be a real run on ``pool``: more devices
    than the pool has, a precision its class is not verified at or its model has no rated peak
    at, or measured FLOPS above :data:`PEAK_MARGIN` x rated peak per device x devices tested."""
    problems: list[tuple[str, str]] = []
    if record.devices > pool.count:
        problems.append(
            ("devices", f"{record.devices} devices, but pool {pool.id} has {pool.count}")
        )
    kind = pool.compute_class
    if kind is not ComputeClass.AI and record.precision in LOW_PRECISIONS:
        problems.append(
            (
                "precision",
                f"pool {pool.id} is {kind.value} (counted in fp64): it is verified at fp64 or "
                f"fp32, not {record.precision.value}",
            )
        )
        return problems
    if model is None:  # registered pools always name a catalogued model
        return problems
    peak = model.peak_flops.get(record.precision)
    if peak is None:
        rated = ", ".join(p.value for p in model.peak_flops)
        problems.append(
            (
                "precision",
                f"{model.id} has no rated {record.precision.value} peak (rated: {rated})",
            )
        )
    if peak is not None and record.measured_flops is not None:
        limit = peak * min(record.devices, pool.count)
        if record.measured_flops > PEAK_MARGIN * limit:
            problems.append(
                (
                    "measured_flops",
                    f"{record.measured_flops:.4g} FLOPS is {record.measured_flops / limit:,.1f}x "
                    f"the rated {record.precision.value} peak of {record.devices} x {model.id} "
                    f"({limit:.4g} FLOPS); more than {PEAK_MARGIN}x is refused",
                )
            )
    return problems


def utc(when: dt.datetime) -> pd.Timestamp:
    """``when`` (tz-aware) as a UTC timestamp."""
    return pd.Timestamp(when).tz_convert("UTC")


def verification_frame(records: Iterable[Verification]) -> pd.DataFrame:
    """Columns site, pool, benchmark, precision, measured_flops (NaN for a probe), devices,
    passed, at (datetime64[ns, UTC]); the same columns and dtypes when there are no records."""
    rows = list(records)
    return pd.DataFrame(
        {
            "site": pd.Series([r.site for r in rows], dtype=object),
            "pool": pd.Series([r.pool for r in rows], dtype=object),
            "benchmark": pd.Series([r.benchmark for r in rows], dtype=object),
            "precision": pd.Series([r.precision.value for r in rows], dtype=object),
            "measured_flops": pd.Series(
                [np.nan if r.measured_flops is None else r.measured_flops for r in rows],
                dtype="float64",
            ),
            "devices": pd.Series([r.devices for r in rows], dtype="int64"),
            "passed": pd.Series([r.passed for r in rows], dtype="bool"),
            "at": pd.Series([r.at for r in rows], dtype="datetime64[ns, UTC]"),
        }
    )
