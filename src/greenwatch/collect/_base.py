"""The collector interface: one small class per family with ``collect() -> batch``.

A collector is built from ``(profile, target, clock)`` plus the side effects of its protocol
(an HTTP client, an NVML binding…) as keyword arguments, so tests hand it real loopback servers
or recorded data. Construction validates and does no I/O; the first poll connects.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar, NamedTuple

import pandas as pd

from greenwatch.collect._errors import MALFORMED, CollectorError
from greenwatch.collect._profile import ProfileBase, rule_label_problems
from greenwatch.collect._rows import BatchBuilder, ExtraRow
from greenwatch.collect._target import Target
from greenwatch.model import BatchError, Clock, ConfigError, utc_now


class Reading(NamedTuple):
    """One poll's readings (``rows``) and the clock's time at the poll's start (``ts``)."""

    ts: pd.Timestamp
    rows: BatchBuilder


class Collector(ABC):
    """Polls one target with one profile; ``collect`` returns a canonical batch.

    Raises :class:`CollectorError` (with a health reason) when the poll fails as a whole.
    Readings that are null or implausible are skipped and listed in ``problems`` (the last
    poll's), which makes a partial failure visible without failing the poll.
    """

    family: ClassVar[str]
    profile_model: ClassVar[type[ProfileBase]]

    def __init__(self, profile: ProfileBase, target: Target, clock: Clock = utc_now) -> None:
        if not isinstance(profile, self.profile_model):
            raise TypeError(f"{type(self).__name__} needs a {self.profile_model.__name__}")
        self.profile = profile
        self.target = target
        self.clock = clock
        self.problems: list[str] = []
        bad = rule_label_problems(profile.all_rules(), target.labels)
        if bad:
            source = f"target {target.name} with profile {self.profile_name}"
            raise ConfigError(
                source, [(None, f"rules[{i}] ({metric})", why) for i, metric, why in bad]
            )

    @property
    def profile_name(self) -> str:
        return self.profile.name or self.family

    def collect(self) -> pd.DataFrame:
        """Poll the target once: a batch stamped with the clock's time at the poll's start."""
        return self.batch(self.read())

    def read(self) -> Reading:
        """Poll the target once: its mapped readings, not yet checked as a batch."""
        ts = self.clock()
        out = BatchBuilder(self.target, self.profile.all_rules())
        try:
            self._poll(out)
        except CollectorError:
            raise
        except Exception as exc:
            raise CollectorError(self.target.name, exc) from exc
        finally:
            self.problems = out.problems
        return Reading(ts, out)

    def batch(self, reading: Reading, extra: Sequence[ExtraRow] = ()) -> pd.DataFrame:
        """The batch of a reading (then ``extra`` rows: :meth:`BatchBuilder.build`)."""
        try:
            return reading.rows.build(reading.ts, extra)
        except BatchError as exc:
            raise CollectorError(self.target.name, exc, MALFORMED) from exc

    @abstractmethod
    def _poll(self, out: BatchBuilder) -> None:
        """Read the target and feed every reading to ``out``."""

    def close(self) -> None:  # noqa: B027 - most collectors hold nothing to release
        """Release connections or sessions; the next poll opens them again."""

    def __enter__(self) -> Collector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
