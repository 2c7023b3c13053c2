"""Pushed data (line protocol, OTLP, remote write) through mapping into the pipeline.

**A request is atomic.** Every line (or series) is parsed and mapped first; if any is bad the
whole request is rejected with the list of bad lines and nothing of it is stored. A client
fixes or drops the bad lines and sends again; since writes are idempotent on
(metric, labels, ts), re-sending lines that were fine stores nothing twice. (InfluxDB instead
writes the good lines of a partly bad request; greenwatch prefers that a 4xx means "nothing
happened", which is what Telegraf and the agent assume when they drop or retry a batch.)

First the caller's ``admit`` sees the mapped batch (a token bound to sites raises there), then
the batch meets the :class:`~greenwatch.ingest._boundary.Boundary` (time window, sites,
vocabularies, site power). A string or boolean field of a canonical metric
is an error of its line; those of ``ext_`` measurements are counted (``strings``) as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from greenwatch.ingest._boundary import Boundary
from greenwatch.ingest._lineproto import KIND_BOOL, KIND_STRING, ParsedLines, parse_lines
from greenwatch.ingest._mapping import Mapper, PushResult, default_profiles, to_batch
from greenwatch.ingest._otlp import DeltaAccumulator, decode_request
from greenwatch.ingest._otlp import request_rows as otlp_rows
from greenwatch.ingest._pipeline import Ingest
from greenwatch.ingest._remote import MAX_DECOMPRESSED, decode_write_request
from greenwatch.ingest._remote import request_rows as remote_rows
from greenwatch.model import Clock, GreenwatchError, utc_now

# Checks a batch before it is stored, given each row's line (or series) and what a line is
# called; raises to refuse the whole request (e.g. a token writing a site it is not bound to).
Admit = Callable[[pd.DataFrame, np.ndarray, str], None]
MAX_ERRORS = 100


class PushError(GreenwatchError):
    """A pushed request was rejected as a whole; ``errors`` lists ``(line, reason)``."""

    def __init__(
        self,
        errors: list[tuple[int, str]],
        what: str = "line",
        refused: dict[str, int] | None = None,
    ) -> None:
        self.errors = errors
        self.what = what
        self.refused = refused or {}
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"{what} {first[0]}: {first[1]}{more}; nothing was stored")


@dataclass(frozen=True)
class PushOptions:
    """Per request: the default site, a wider ``max_age`` (bulk backfill), the token's check."""

    default_site: str | None = None
    max_age: pd.Timedelta | None = None
    admit: Admit | None = None


@dataclass
class PushOutcome:
    """What one accepted push did; ``counts`` has received, accepted, stored, ext, …"""

    stored: int
    counts: dict[str, int] = field(default_factory=dict)

    def headers(self) -> dict[str, str]:
        """The counts as ``X-Greenwatch-*`` response headers."""
        return count_headers(self.counts)


def count_headers(counts: dict[str, int], prefix: str = "") -> dict[str, str]:
    """``{"dropped_attributes": 2}`` as ``{"X-Greenwatch-<prefix>Dropped-Attributes": "2"}``."""
    return {
        f"X-Greenwatch-{prefix}{k.replace('_', '-').title()}": str(v)
        for k, v in sorted(counts.items())
    }


class Push:
    """Turns pushed bodies into canonical batches and submits them to ``ingest``."""

    def __init__(
        self,
        ingest: Ingest,
        mapper: Mapper | None = None,
        clock: Clock = utc_now,
        boundary: Boundary | None = None,
    ):
        self.ingest = ingest
        self.mapper = mapper or Mapper(default_profiles())
        self.clock = clock
        self.boundary = boundary or Boundary()
        self.deltas = DeltaAccumulator()

    def _store(
        self,
        result: PushResult,
        batch_id: str | None,
        what: str,
        options: PushOptions,
        name: Callable[[int], str] | None = None,
    ) -> PushOutcome:
        if options.admit is not None:
            options.admit(result.batch, result.refs, what)
        policy = self.boundary.policy.widened(options.max_age)
        checked = self.boundary.check(result.batch, result.refs, self.clock(), policy)
        errors = _one_per_ref(result.errors + checked.errors)
        stats = self.boundary.stats
        flagged = {k: result.counts.get(k, 0) for k in ("implausible", "dropped_attributes")}
        if errors:
            refused = {**checked.refused, "format": len(result.errors)}
            stats.refuse(refused)
            if name is not None:
                errors = [(ref, f"{name(ref)}: {why}") for ref, why in errors]
            raise PushError(errors[:MAX_ERRORS], what, refused)
        quarantined = sum(checked.quarantined.values())
        stored = self.ingest.submit(checked.batch, batch_id)
        stats.flag({**flagged, "quarantined": quarantined})
        if quarantined:
            stats.saw(checked.quarantined, self.clock())
        counts = {**result.counts, "stored": stored}
        return PushOutcome(stored, counts | ({"quarantined": quarantined} if quarantined else {}))

    def influx(
        self,
        text: str,
        precision: str = "ns",
        options: PushOptions | None = None,
        batch_id: str | None = None,
    ) -> PushOutcome:
        """Store a line-protocol body (InfluxDB v1/v2 write API)."""
        options = options or PushOptions()
        parsed = parse_lines(text, precision, int(self.clock().value))
        errors = [(e.line, e.reason) for e in parsed.errors]
        errors += self._typed(parsed, options.default_site)
        rows = parsed.rows
        numeric = rows[rows["kind"] != KIND_STRING].rename(columns={"line": "ref"})
        result = to_batch(self.mapper, "influx", parsed.series, numeric, options.default_site)
        result.errors = sorted(errors + result.errors)
        result.counts |= {"lines": parsed.lines, "strings": parsed.strings}
        return self._store(result, batch_id, "line", options)

    def _typed(self, parsed: ParsedLines, default_site: str | None) -> list[tuple[int, str]]:
        """Lines whose string or boolean field would be a canonical metric's value."""
        rows = parsed.rows
        typed = rows[rows["kind"].isin((KIND_STRING, KIND_BOOL))]
        if typed.empty:
            return []
        errors = []
        firsts = typed.drop_duplicates(["series", "field"])
        combos = zip(firsts["series"], firsts["field"], firsts["kind"], strict=True)
        for series, key, kind in combos:
            name, tags = parsed.series[int(series)]
            mapped = self.mapper.map("influx", name, str(key), tags, default_site)
            if mapped.error is not None or mapped.metric.startswith("ext_"):
                continue
            what = "string" if kind == KIND_STRING else "boolean"
            why = f"field {key!r} is a {what}; {mapped.metric} takes numbers"
            lines = typed.loc[(typed["series"] == series) & (typed["field"] == key), "line"]
            errors += [(int(line), why) for line in pd.unique(lines)[:MAX_ERRORS]]
        return errors

    def otlp(
        self,
        body: bytes,
        json_body: bool,
        options: PushOptions | None = None,
        batch_id: str | None = None,
    ) -> PushOutcome:
        """Store an OTLP/HTTP metrics request (protobuf or JSON)."""
        options = options or PushOptions()
        parsed = otlp_rows(decode_request(body, json_body), int(self.clock().value))
        rows, totals = self.deltas.apply(parsed)
        result = to_batch(self.mapper, "otlp", parsed.series, rows, options.default_site)
        result.counts |= {"points": parsed.points, "ignored": parsed.ignored}
        outcome = self._store(result, batch_id, "data point", options)
        self.deltas.commit(totals)
        return outcome

    def remote_write(
        self,
        body: bytes,
        options: PushOptions | None = None,
        batch_id: str | None = None,
        max_bytes: int = MAX_DECOMPRESSED,
    ) -> PushOutcome:
        """Store a Prometheus remote-write request (snappy-compressed protobuf)."""
        options = options or PushOptions()
        parsed = remote_rows(decode_write_request(body, max_bytes))
        result = to_batch(
            self.mapper, "remote_write", parsed.series, parsed.rows, options.default_site
        )
        result.counts |= {"stale": parsed.stale}
        return self._store(
            result,
            batch_id,
            "series",
            options,
            lambda i: f"series {_describe(parsed.series[i])}",
        )


def _one_per_ref(errors: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """One error per line (or series): a line whose fields fail alike is one error; the
    distinct reasons of one line are joined in the order found."""
    reasons: dict[int, list[str]] = {}
    for ref, why in errors:
        found = reasons.setdefault(ref, [])
        if why not in found:
            found.append(why)
    return [(ref, "; ".join(reasons[ref])) for ref in sorted(reasons)]


def _describe(series: tuple[str, dict[str, str]]) -> str:
    name, labels = series
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"
