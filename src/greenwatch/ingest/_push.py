"""Pushed data (line protocol, OTLP, remote write) through mapping into the pipeline.

**A request is atomic.** Every line (or series) is parsed and mapped first; if any is bad the
whole request is rejected with the list of bad lines and nothing of it is stored. A client
fixes or drops the bad lines and sends again; since writes are idempotent on
(metric, labels, ts), re-sending lines that were fine stores nothing twice. (InfluxDB instead
writes the good lines of a partly bad request; greenwatch prefers that a 4xx means "nothing
happened", which is what Telegraf and the agent assume when they drop or retry a batch.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from greenwatch.ingest._lineproto import parse_lines
from greenwatch.ingest._mapping import Mapper, PushResult, default_profiles, to_batch
from greenwatch.ingest._otlp import DeltaAccumulator, decode_request
from greenwatch.ingest._otlp import request_rows as otlp_rows
from greenwatch.ingest._pipeline import Ingest
from greenwatch.ingest._remote import MAX_DECOMPRESSED, decode_write_request
from greenwatch.ingest._remote import request_rows as remote_rows
from greenwatch.model import GreenwatchError

Clock = Callable[[], pd.Timestamp]
# Checks a batch before it is stored, given each row's line (or series) and what a line is
# called; raises to refuse the whole request (e.g. a token writing a site it is not bound to).
Admit = Callable[[pd.DataFrame, np.ndarray, str], None]
MAX_ERRORS = 100


class PushError(GreenwatchError):
    """A pushed request was rejected as a whole; ``errors`` lists ``(line, reason)``."""

    def __init__(self, errors: list[tuple[int, str]], what: str = "line") -> None:
        self.errors = errors
        self.what = what
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{what} {first[0]}: {first[1]}{more}; nothing was stored")


@dataclass
class PushOutcome:
    """What one accepted push did; ``counts`` has received, accepted, stored, ext, …"""

    stored: int
    counts: dict[str, int] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        """The counts as ``X-Greenwatch-*`` response headers."""
        return {f"X-Greenwatch-{k.capitalize()}": str(v) for k, v in sorted(self.counts.items())}


def _utcnow() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


class Push:
    """Turns pushed bodies into canonical batches and submits them to ``ingest``."""

    def __init__(self, ingest: Ingest, mapper: Mapper | None = None, clock: Clock = _utcnow):
        self.ingest = ingest
        self.mapper = mapper or Mapper(default_profiles())
        self.clock = clock
        self.deltas = DeltaAccumulator()

    def _store(
        self, result: PushResult, batch_id: str | None, what: str, admit: Admit | None = None
    ) -> PushOutcome:
        if admit is not None:
            admit(result.batch, result.refs, what)
        if result.errors:
            raise PushError(result.errors[:MAX_ERRORS], what)
        stored = self.ingest.submit(result.batch, batch_id)
        return PushOutcome(stored, {**result.counts, "stored": stored})

    def influx(
        self,
        text: str,
        precision: str = "ns",
        default_site: str | None = None,
        batch_id: str | None = None,
        admit: Admit | None = None,
    ) -> PushOutcome:
        """Store a line-protocol body (InfluxDB v1/v2 write API)."""
        parsed = parse_lines(text, precision, int(self.clock().value))
        errors = [(e.line, e.reason) for e in parsed.errors]
        rows = parsed.rows
        numeric = rows[rows["kind"] != "s"].rename(columns={"line": "ref"})
        result = to_batch(self.mapper, "influx", parsed.series, numeric, default_site)
        result.errors = sorted(errors + result.errors)
        result.counts |= {"lines": parsed.lines, "strings": parsed.strings}
        return self._store(result, batch_id, "line", admit)

    def otlp(
        self,
        body: bytes,
        json_body: bool,
        default_site: str | None = None,
        batch_id: str | None = None,
        admit: Admit | None = None,
    ) -> PushOutcome:
        """Store an OTLP/HTTP metrics request (protobuf or JSON)."""
        parsed = otlp_rows(decode_request(body, json_body), int(self.clock().value))
        rows, totals = self.deltas.apply(parsed)
        result = to_batch(self.mapper, "otlp", parsed.series, rows, default_site)
        result.counts |= {"points": parsed.points, "ignored": parsed.ignored}
        outcome = self._store(result, batch_id, "data point", admit)
        self.deltas.commit(totals)
        return outcome

    def remote_write(
        self,
        body: bytes,
        default_site: str | None = None,
        batch_id: str | None = None,
        max_bytes: int = MAX_DECOMPRESSED,
        admit: Admit | None = None,
    ) -> PushOutcome:
        """Store a Prometheus remote-write request (snappy-compressed protobuf)."""
        parsed = remote_rows(decode_write_request(body, max_bytes))
        result = to_batch(self.mapper, "remote_write", parsed.series, parsed.rows, default_site)
        result.counts |= {"stale": parsed.stale}
        if result.errors:
            named = [
                (i, f"series {_describe(parsed.series[i])}: {why}") for i, why in result.errors
            ]
            result.errors = named
        return self._store(result, batch_id, "series", admit)


def _describe(series: tuple[str, dict[str, str]]) -> str:
    name, labels = series
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"
