"""InfluxDB line protocol: a vectorised parser and encoder.

Parsing runs over the whole body at once in Arrow compute kernels (RE2): the body is split into
lines, one regular expression splits every line into series, fields and timestamp, and field
values are classified and cast column-wise. Only what needs it is handled in Python: each
*distinct* series key (measurement plus tags, usually few per request) is unescaped once, and
lines whose field section holds quotes or backslashes go through a small scanner.

Grammar (https://docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/)::

    measurement[,tag=value...] field=value[,field=value...] [timestamp]

Commas, spaces and equals signs in measurement, tag keys/values and field keys are escaped with
a backslash; string field values are double-quoted with ``\\"`` and ``\\\\`` escapes. Field
values are floats (``1``, ``-1.5e3``), integers (``1i``), unsigned integers (``1u``), booleans
(``t``/``true``/``F``/``FALSE``…) or strings. ``NaN`` and ``Inf`` are not line protocol (InfluxDB
rejects them too). Blank lines and lines starting with ``#`` are skipped. A missing timestamp
takes the server's time of the request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from greenwatch.model import GreenwatchError

PRECISION_NS: dict[str, int] = {"ns": 1, "n": 1, "us": 1_000, "u": 1_000, "ms": 1_000_000}
PRECISION_NS |= {"s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
MAX_LINE_BYTES = 65_536
MAX_NAME_LEN = 256  # measurement, tag key, field key
MAX_TAG_VALUE_LEN = 1_024
MAX_TAGS = 128
INT64_MAX = 2**63 - 1

_ESC = r"(?:[^,=\\ ]|\\.)"  # a key character (tag key, field key)
_MEAS = r"(?:[^,\\ ]|\\.)"  # a measurement or tag-value character ('=' allowed)
_FIELD = _ESC + r'+=(?:"(?:[^"\\]|\\.)*"|[^,\\ "]+)'
LINE_RE = (
    rf"^(?P<series>{_MEAS}+(?:,{_ESC}+={_MEAS}+)*) +"
    rf"(?P<fields>{_FIELD}(?:,{_FIELD})*)(?: +(?P<ts>-?[0-9]+))?$"
)
_FLOAT_RE = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_INT_RE = r"^[+-]?[0-9]+i$"
_UINT_RE = r"^[0-9]+u$"
_TRUE = ("t", "T", "true", "True", "TRUE")
_FALSE = ("f", "F", "false", "False", "FALSE")
_PY_FLOAT = re.compile(_FLOAT_RE)
_PY_INT = re.compile(_INT_RE)
_PY_UINT = re.compile(_UINT_RE)

KIND_FLOAT, KIND_INT, KIND_UINT, KIND_BOOL, KIND_STRING = "f", "i", "u", "b", "s"


class LineError(GreenwatchError, ValueError):
    """One line could not be parsed; ``line`` is 1-based."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


@dataclass
class ParsedLines:
    """Parsed line protocol, one row per field.

    ``series`` holds each distinct series as ``(measurement, tags)``; ``rows`` has columns
    ``line`` (1-based), ``series`` (index into ``series``), ``field``, ``kind`` (f i u b s),
    ``value`` (float64; NaN for strings) and ``t`` (int64 ns since the epoch, UTC).
    """

    series: list[tuple[str, dict[str, str]]]
    rows: pd.DataFrame
    errors: list[LineError] = field(default_factory=list)
    lines: int = 0

    @property
    def strings(self) -> int:
        """String fields (not numbers: kept out of the store)."""
        return int((self.rows["kind"] == KIND_STRING).sum())


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in ',= \\"':
            out.append(text[i + 1])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _split_unescaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` where it is not escaped by a backslash."""
    parts, start, i = [], 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == sep:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def parse_series(key: str) -> tuple[str, dict[str, str]]:
    """``(measurement, tags)`` of an escaped series key; ``ValueError`` says what is wrong."""
    parts = key.split(",") if "\\" not in key else _split_unescaped(key, ",")
    measurement = _unescape(parts[0])
    if not measurement or len(measurement) > MAX_NAME_LEN:
        raise ValueError(f"measurement must be 1-{MAX_NAME_LEN} characters")
    if len(parts) - 1 > MAX_TAGS:
        raise ValueError(f"more than {MAX_TAGS} tags")
    tags: dict[str, str] = {}
    for part in parts[1:]:
        if "\\" in part:
            pieces = _split_unescaped(part, "=")
            tag_key, tag_value = _unescape(pieces[0]), _unescape("=".join(pieces[1:]))
        else:
            tag_key, _, tag_value = part.partition("=")
        if not tag_key or not tag_value:
            raise ValueError(f"tag {part!r} needs a key and a value")
        if len(tag_key) > MAX_NAME_LEN or len(tag_value) > MAX_TAG_VALUE_LEN:
            raise ValueError(
                f"tag {tag_key[:40]!r} is too long (keys ≤ {MAX_NAME_LEN}, "
                f"values ≤ {MAX_TAG_VALUE_LEN} characters)"
            )
        if tag_key in tags:
            raise ValueError(f"duplicate tag {tag_key!r}")
        tags[tag_key] = tag_value
    return measurement, tags


def _field_value(raw: str) -> tuple[str, float]:
    """``(kind, value)`` of one field value as written; ``ValueError`` if it is not valid."""
    if raw.startswith('"'):
        return KIND_STRING, float("nan")
    if raw in _TRUE:
        return KIND_BOOL, 1.0
    if raw in _FALSE:
        return KIND_BOOL, 0.0
    if _PY_INT.match(raw):
        number = int(raw[:-1])
        if not -INT64_MAX - 1 <= number <= INT64_MAX:
            raise ValueError(f"integer {raw} is out of the int64 range")
        return KIND_INT, float(number)
    if _PY_UINT.match(raw):
        number = int(raw[:-1])
        if number > 2**64 - 1:
            raise ValueError(f"unsigned integer {raw} is out of the uint64 range")
        return KIND_UINT, float(number)
    if _PY_FLOAT.match(raw):
        return KIND_FLOAT, float(raw)
    raise ValueError(f"invalid field value {raw[:40]!r} (NaN and Inf are not allowed)")


def _scan_fields(text: str) -> list[tuple[str, str, float]]:
    """Fields of one line with quotes or escapes: ``[(key, kind, value)]``."""
    out, i, n = [], 0, len(text)
    while i < n:
        start = i
        while i < n and text[i] != "=":
            i += 2 if text[i] == "\\" else 1
        key = _unescape(text[start:i])
        if not key or i >= n:
            raise ValueError(f"field {text[start:i][:40]!r} needs a key and a value")
        i += 1
        begin = i
        if i < n and text[i] == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            if i >= n:
                raise ValueError("unterminated string field")
            i += 1
            raw = text[begin:i]
        else:
            while i < n and text[i] != ",":
                i += 1
            raw = text[begin:i]
        if len(key) > MAX_NAME_LEN:
            raise ValueError(f"field key {key[:40]!r}… is longer than {MAX_NAME_LEN}")
        kind, value = _field_value(raw)
        out.append((key, kind, value))
        if i < n:
            if text[i] != ",":
                raise ValueError("expected ',' between fields")
            i += 1
            if i >= n:
                raise ValueError("trailing ',' after the last field")
    return out


def _why_unparsable(line: str) -> str:
    """A human reason for a line the grammar did not match (for the 400 answer)."""
    if len(line.encode("utf-8", "replace")) > MAX_LINE_BYTES:
        return f"line is longer than {MAX_LINE_BYTES} bytes"
    parts = [p for p in _split_unquoted_spaces(line) if p]
    if len(parts) < 2:
        return "missing fields (expected 'measurement[,tags] field=value [timestamp]')"
    if len(parts) > 3:
        return "unexpected text after the timestamp (unescaped space?)"
    if len(parts) == 3 and not re.fullmatch(r"-?[0-9]+", parts[2]):
        return f"bad timestamp {parts[2][:40]!r} (an integer in the request's precision)"
    try:
        parse_series(parts[0])
        _scan_fields(parts[1])
    except ValueError as exc:
        return str(exc)
    return "invalid line protocol"


def _split_unquoted_spaces(line: str) -> list[str]:
    parts, start, i, quoted = [], 0, 0, False
    while i < len(line):
        char = line[i]
        if char == "\\":
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char == " " and not quoted:
            parts.append(line[start:i])
            start = i + 1
        i += 1
    parts.append(line[start:])
    return parts


def _classify(values: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kinds, float values and a validity mask of unquoted field values, column-wise."""
    n = len(values)
    kinds = np.full(n, "", dtype=object)
    out = np.full(n, np.nan)
    is_float = pc.match_substring_regex(values, _FLOAT_RE).to_numpy(zero_copy_only=False)
    is_int = pc.match_substring_regex(values, _INT_RE).to_numpy(zero_copy_only=False)
    is_uint = pc.match_substring_regex(values, _UINT_RE).to_numpy(zero_copy_only=False)
    is_true = pc.is_in(values, pa.array(_TRUE)).to_numpy(zero_copy_only=False)
    is_false = pc.is_in(values, pa.array(_FALSE)).to_numpy(zero_copy_only=False)
    if is_float.any():
        chosen = values.filter(pa.array(is_float))
        out[is_float] = pc.cast(chosen, pa.float64()).to_numpy(zero_copy_only=False)
        kinds[is_float] = KIND_FLOAT
    for mask, kind, arrow_type in ((is_int, KIND_INT, pa.int64()), (is_uint, KIND_UINT, None)):
        if not mask.any():
            continue
        digits = pc.utf8_slice_codeunits(values.filter(pa.array(mask)), 0, -1)
        try:
            cast = pc.cast(digits, arrow_type or pa.uint64())
        except (pa.ArrowInvalid, OverflowError):
            # Some integer is out of range: find which, one by one (rare).
            numbers = []
            for text in digits.to_pylist():
                number = int(text)
                ok = -(2**63) <= number < 2**63 if kind == KIND_INT else 0 <= number < 2**64
                numbers.append(float(number) if ok else np.nan)
            result = np.array(numbers)
            idx = np.flatnonzero(mask)
            bad = np.isnan(result)
            out[idx[~bad]] = result[~bad]
            kinds[idx[~bad]] = kind
            continue
        out[mask] = cast.to_numpy(zero_copy_only=False).astype("float64")
        kinds[mask] = kind
    out[is_true], kinds[is_true] = 1.0, KIND_BOOL
    out[is_false], kinds[is_false] = 0.0, KIND_BOOL
    return kinds, out, kinds != ""


def _timestamps(
    ts: pa.Array, precision: str, now_ns: int, line_no: np.ndarray
) -> tuple[np.ndarray, list[LineError]]:
    factor = PRECISION_NS[precision]
    text = ts.to_numpy(zero_copy_only=False)
    given = text != ""
    out = np.full(len(text), now_ns, dtype="int64")
    errors: list[LineError] = []
    if not given.any():
        return out, errors
    digits = ts.filter(pa.array(given))
    limit = INT64_MAX // factor
    try:
        raw = pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)
        bad = np.abs(raw) > limit
    except (pa.ArrowInvalid, OverflowError):
        raw = np.array([int(v) if abs(int(v)) <= limit else 0 for v in digits.to_pylist()])
        bad = np.array([abs(int(v)) > limit for v in digits.to_pylist()])
    idx = np.flatnonzero(given)
    out[idx] = raw * factor
    for i in idx[bad]:
        errors.append(
            LineError(int(line_no[i]), f"timestamp out of range for precision {precision}")
        )
    return out, errors


def parse_lines(body: str, precision: str = "ns", now_ns: int = 0) -> ParsedLines:
    """Parse a line-protocol body; every bad line is an entry in ``errors`` (nothing raises)."""
    if precision not in PRECISION_NS:
        raise ValueError(f"precision must be one of {', '.join(PRECISION_NS)}, not {precision!r}")
    lines = pc.list_flatten(pc.split_pattern(pa.array([body]), "\n"))
    lines = pc.utf8_trim_whitespace(lines)
    number = np.arange(1, len(lines) + 1)
    keep = pc.and_(
        pc.greater(pc.utf8_length(lines), 0),
        pc.invert(pc.starts_with(lines, "#")),
    )
    keep_np = keep.to_numpy(zero_copy_only=False)
    lines, number = lines.filter(keep), number[keep_np]
    errors: list[LineError] = []
    too_long = pc.greater(pc.binary_length(lines), MAX_LINE_BYTES).to_numpy(zero_copy_only=False)
    parts = pc.extract_regex(lines, LINE_RE)
    ok = parts.is_valid().to_numpy(zero_copy_only=False) & ~too_long
    for i in np.flatnonzero(~ok):
        errors.append(LineError(int(number[i]), _why_unparsable(lines[i].as_py())))
    parts, number = parts.filter(pa.array(ok)), number[ok]
    series_col = parts.field("series")
    encoded = pc.dictionary_encode(series_col)
    series: list[tuple[str, dict[str, str]]] = []
    bad_series = np.zeros(len(encoded.dictionary), dtype=bool)
    reasons: dict[int, str] = {}
    for k, key in enumerate(encoded.dictionary.to_pylist()):
        try:
            series.append(parse_series(key))
        except ValueError as exc:
            series.append(("", {}))
            bad_series[k], reasons[k] = True, str(exc)
    series_idx = encoded.indices.to_numpy(zero_copy_only=False).astype("int64")
    ts, ts_errors = _timestamps(parts.field("ts"), precision, now_ns, number)
    errors += ts_errors
    fields = parts.field("fields")
    slow = pc.or_(pc.match_substring(fields, '"'), pc.match_substring(fields, "\\"))
    slow_np = slow.to_numpy(zero_copy_only=False)
    frames = [_fast_fields(fields, slow_np, number, series_idx, ts, errors)]
    frames.append(_slow_fields(fields, slow_np, number, series_idx, ts, errors))
    rows = pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
    for i in np.flatnonzero(bad_series):
        for line in sorted(set(rows.loc[rows["series"] == i, "line"])):
            errors.append(LineError(int(line), reasons[int(i)]))
    bad_lines = {e.line for e in errors}
    if bad_lines:
        rows = rows[~rows["line"].isin(bad_lines)].reset_index(drop=True)
    errors.sort(key=lambda e: e.line)
    return ParsedLines(series, rows, errors, int(keep_np.sum()))


def _fast_fields(
    fields: pa.Array,
    slow: np.ndarray,
    number: np.ndarray,
    series_idx: np.ndarray,
    ts: np.ndarray,
    errors: list[LineError],
) -> pd.DataFrame:
    fast = fields.filter(pa.array(~slow))
    owner = np.flatnonzero(~slow)
    pairs = pc.split_pattern(fast, ",")
    parent = owner[pc.list_parent_indices(pairs).to_numpy(zero_copy_only=False)]
    kv = pc.split_pattern(pc.list_flatten(pairs), "=", max_splits=1)
    keys, values = pc.list_element(kv, 0), pc.list_element(kv, 1)
    kinds, out, valid = _classify(values)
    for j in np.flatnonzero(~valid):
        errors.append(
            LineError(
                int(number[parent[j]]),
                f"invalid value {values[j].as_py()[:40]!r} for field {keys[j].as_py()!r} "
                '(float, 1i, 1u, true/false or "string"; NaN and Inf are not allowed)',
            )
        )
    long_keys = pc.greater(pc.utf8_length(keys), MAX_NAME_LEN).to_numpy(zero_copy_only=False)
    for j in np.flatnonzero(long_keys):
        errors.append(LineError(int(number[parent[j]]), f"field key longer than {MAX_NAME_LEN}"))
    return pd.DataFrame(
        {
            "line": number[parent],
            "series": series_idx[parent],
            "field": keys.to_numpy(zero_copy_only=False),
            "kind": kinds,
            "value": out,
            "t": ts[parent],
        }
    )


def _slow_fields(
    fields: pa.Array,
    slow: np.ndarray,
    number: np.ndarray,
    series_idx: np.ndarray,
    ts: np.ndarray,
    errors: list[LineError],
) -> pd.DataFrame:
    records: list[tuple[int, int, str, str, float, int]] = []
    for i in np.flatnonzero(slow):
        try:
            scanned = _scan_fields(fields[i].as_py())
        except ValueError as exc:
            errors.append(LineError(int(number[i]), str(exc)))
            continue
        for key, kind, value in scanned:
            records.append((int(number[i]), int(series_idx[i]), key, kind, value, int(ts[i])))
    frame = pd.DataFrame.from_records(
        records, columns=["line", "series", "field", "kind", "value", "t"]
    )
    return frame.astype(
        {"line": "int64", "series": "int64", "field": object, "kind": object, "value": "float64"}
    ).astype({"t": "int64"})


# -- encoding ------------------------------------------------------------------------------


def _escape_key(values: pd.Series) -> pd.Series:
    return (
        values.str.replace("\\", "\\\\", regex=False)
        .str.replace(",", "\\,", regex=False)
        .str.replace("=", "\\=", regex=False)
        .str.replace(" ", "\\ ", regex=False)
    )


def encode_lines(batch: pd.DataFrame, precision: str = "ns") -> list[str]:
    """A canonical batch as line protocol: ``<metric>,site=…,<labels> value=<v> <ts>``.

    ``ts`` is written in ``precision`` (ns, us, ms, s; rounded down).

    Column-wise: each label is escaped once per distinct value; ``None`` labels are left out.
    Values are written with ``repr`` precision (round-trip exact float64).
    """
    if batch.empty:
        return []
    labels = [c for c in batch.columns if c not in ("ts", "metric", "value")]
    head = _escape_key(batch["metric"].astype(str))
    for name in labels:
        column = batch[name].astype(object)
        present = column.notna()
        if not present.any():
            continue
        escaped_name = _escape_key(pd.Series([name])).iloc[0]
        values = column[present].astype(str)
        uniques = pd.unique(values)
        mapping = dict(zip(uniques, _escape_key(pd.Series(uniques)), strict=True))
        piece = pd.Series("", index=batch.index, dtype=object)
        piece[present] = "," + escaped_name + "=" + values.map(mapping)
        head = head + piece
    # Arrow writes the shortest text that reads back as the same float64.
    value = pc.cast(pa.array(batch["value"].to_numpy("float64")), pa.string())
    t = batch["ts"].to_numpy(dtype="datetime64[ns]").view("int64") // PRECISION_NS[precision]
    tail = pc.binary_join_element_wise(" value=", value, " ", pc.cast(pa.array(t), pa.string()), "")
    lines = head + pd.Series(tail.to_numpy(zero_copy_only=False), index=batch.index)
    return list(lines)
