"""Push APIs: InfluxDB v2 and v1 write, OTLP/HTTP metrics, Prometheus remote write.

=====================  =======================================  ===========================
route                  body                                     answers
=====================  =======================================  ===========================
POST /api/v2/write     line protocol (gzip ok); ``precision``   204; 400 bad lines
                       ns|us|ms|s; ``org``/``bucket`` accepted
POST /write            line protocol; v1 ``db``/``rp``/          204; 400 bad lines
                       ``precision`` n|u|ms|s|m|h
POST /v1/metrics       OTLP ExportMetricsServiceRequest,        200 (partial_success names
                       application/x-protobuf or /json          ignored points); 415 other
POST /api/v1/write     snappy protobuf prometheus.WriteRequest  204; 400 bad series
=====================  =======================================  ===========================

A request is atomic (see :mod:`greenwatch.ingest._push`): a 400 lists every bad line (``line``
is the first, ``errors`` all, up to 100) and nothing of the request is stored; its
``X-Greenwatch-Refused-*`` headers count the refused samples by reason (time, unknown-site,
vocabulary, site-power; format: bad lines). 401: no or an unknown token; 403: a token without
the ``write`` scope, or samples for a site the token is not bound to (``errors`` lists each
line and its site; nothing is stored); 413: a body over the limit (default 10 MiB after
decompression; a gzip bomb is cut off at the limit); 415: a content type or encoding the route
does not take; 429: too many failed tokens from this address; 503: the server is shutting down
(retry). Counts of what was done come back as ``X-Greenwatch-*`` headers (stored, ext,
strings, implausible, dropped-attributes, quarantined, …).

``?max_age=`` (a duration such as ``3650d``) widens the accepted time window of one request
for a bulk backfill (``greenwatch export`` output sent back); it needs an admin token.

Site of samples without a ``site`` tag: the profile's site tag, else ``?site=`` on the URL,
else the site of a token bound to one site (``greenwatch token create --site``); none is an
error of that line.
An agent's ``X-Greenwatch-Batch-Id`` makes a retried request a no-op.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from pathlib import Path

import flask

from greenwatch.ingest import (
    Admit,
    Boundary,
    IngestClosedError,
    InventorySites,
    Mapper,
    OtlpError,
    Push,
    PushError,
    PushOptions,
    PushOutcome,
    RemoteWriteError,
    count_headers,
    default_profiles,
    encode_otlp_response,
    parse_duration,
)
from greenwatch.model import BatchError, GreenwatchError
from greenwatch.service._context import ApiContext, bad_request
from greenwatch.service._tokens import SiteForbiddenError, site_admission

log = logging.getLogger("greenwatch.ingest.api")
DEFAULT_MAX_BODY = 10 * 1024 * 1024
BATCH_ID = "X-Greenwatch-Batch-Id"
V2_PRECISIONS = ("ns", "us", "ms", "s")
V1_PRECISIONS = {"n": "ns", "ns": "ns", "u": "us", "us": "us", "ms": "ms", "s": "s"}
V1_PRECISIONS |= {"m": "m", "h": "h"}
PROFILES_DIR = "ingest-profiles"


class BodyError(GreenwatchError):
    """The body could not be read within the limits (413) or decoded (400/415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _read_body(limit: int, raw_encoding: str | None = None) -> bytes:
    """The request body, gunzipped if so encoded, never more than ``limit`` bytes.

    ``raw_encoding`` (remote write's ``snappy``) is passed through for the decoder.
    """
    request = flask.request
    length = request.content_length
    if length is not None and length > limit:
        raise BodyError(413, f"body of {length} bytes exceeds the limit of {limit} bytes")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise BodyError(413, f"body exceeds the limit of {limit} bytes")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity") or encoding == raw_encoding:
        return raw
    if encoding != "gzip":
        raise BodyError(415, f"Content-Encoding {encoding!r} is not supported (gzip, identity)")
    # A gzip body may hold several members one after another (RFC 1952 §2.2): read them all.
    body = bytearray()
    data = raw
    while data:
        inflate = zlib.decompressobj(wbits=31)
        try:
            body += inflate.decompress(data, limit + 1 - len(body))
        except zlib.error as exc:
            raise BodyError(400, f"bad gzip body: {exc}") from None
        if len(body) > limit or inflate.unconsumed_tail:
            raise BodyError(413, f"decompressed body exceeds the limit of {limit} bytes")
        if not inflate.eof:
            raise BodyError(400, "bad gzip body: truncated")
        data = inflate.unused_data
    return bytes(body)


def _default_site() -> str | None:
    site = flask.request.args.get("site")
    if site:
        return site
    token = getattr(flask.g, "token", None)
    return token.default_site if token is not None else None


def _admit() -> Admit | None:
    """The token's site binding, checked on the parsed batch before anything is stored."""
    return site_admission(getattr(flask.g, "token", None))


def _options() -> PushOptions:
    """The request's default site and, for an admin token, a wider ``max_age``."""
    wider = flask.request.args.get("max_age")
    if not wider:
        return PushOptions(_default_site(), admit=_admit())
    token = getattr(flask.g, "token", None)
    if token is None or not token.allows("admin"):
        raise BodyError(403, "max_age (a bulk backfill's window) needs an admin token")
    try:
        max_age = parse_duration(wider)
    except ValueError as exc:
        raise BodyError(400, f"max_age: {exc}") from None
    return PushOptions(_default_site(), max_age, _admit())


def _accepted(outcome: PushOutcome, status: int = 204, body: bytes = b"") -> flask.Response:
    response = _no_content({}) if status == 204 else flask.Response(body, status)
    response.headers.update(outcome.headers())
    return response


def _no_content(headers: dict[str, str]) -> flask.Response:
    """A 204: no body, so no body type either (as InfluxDB answers a write)."""
    response = flask.Response(status=204, headers=headers)
    del response.headers["Content-Type"]
    return response


def _rejected(exc: PushError | SiteForbiddenError, status: int = 400) -> tuple[flask.Response, int]:
    errors = [{exc.what.replace(" ", "_"): ref, "message": why} for ref, why in exc.errors]
    response, status = bad_request(str(exc), status, line=exc.errors[0][0], errors=errors)
    if isinstance(exc, PushError):
        response.headers.update(count_headers(exc.refused, "Refused-"))
    return response, status


def _limit(ctx: ApiContext) -> int:
    return ctx.max_body_bytes or DEFAULT_MAX_BODY


def _handle(
    ctx: ApiContext,
    run: Callable[[bytes, str | None], flask.Response],
    raw_encoding: str | None = None,
) -> flask.Response | tuple[flask.Response, int]:
    """One push request: a repeated batch id answers at once; every failure becomes its
    status (4xx for the client's, 503 for the store's: nothing acknowledged, retry)."""
    batch_id = flask.request.headers.get(BATCH_ID)
    if batch_id and ctx.ingest.seen(batch_id) is not None:
        return _no_content({"X-Greenwatch-Repeated": "1"})
    try:
        return run(_read_body(_limit(ctx), raw_encoding), batch_id)
    except BodyError as exc:
        return bad_request(str(exc), exc.status)
    except PushError as exc:
        return _rejected(exc)
    except SiteForbiddenError as exc:
        return _rejected(exc, 403)
    except RemoteWriteError as exc:
        return bad_request(str(exc), exc.status)
    except (BatchError, OtlpError, ValueError) as exc:
        return bad_request(str(exc))
    except IngestClosedError as exc:
        response, status = bad_request(str(exc), 503)
        response.headers["Connection"] = "close"  # reconnect: to whatever serves next
        response.headers["Retry-After"] = "1"
        return response, status
    except Exception:  # the store failed: nothing acknowledged, the client retries
        log.exception("storing a pushed batch failed")
        message = "storing the batch failed; nothing was acknowledged, retry"
        return flask.jsonify(code="internal error", message=message), 503


def register(app: flask.Flask, ctx: ApiContext) -> None:
    extra = [ctx.data_dir / PROFILES_DIR] if ctx.data_dir is not None else []
    mapper = Mapper(default_profiles(p for p in extra if Path(p).is_dir()))
    if ctx.boundary is None:
        ctx.boundary = Boundary(InventorySites(ctx.inventory))
    push = Push(ctx.ingest, mapper, ctx.clock, ctx.boundary)

    def influx(precision: str) -> flask.Response | tuple[flask.Response, int]:
        def run(body: bytes, batch_id: str | None) -> flask.Response:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = body[: exc.start].count(b"\n") + 1
                raise PushError([(line, "not UTF-8")]) from None
            outcome = push.influx(text, precision, _options(), batch_id)
            return _accepted(outcome)

        return _handle(ctx, run)

    @app.post("/api/v2/write")
    def write_v2() -> flask.Response | tuple[flask.Response, int]:
        precision = flask.request.args.get("precision", "ns")
        if precision not in V2_PRECISIONS:
            return bad_request(f"precision must be one of {', '.join(V2_PRECISIONS)}")
        return influx(precision)

    @app.post("/write")
    def write_v1() -> flask.Response | tuple[flask.Response, int]:
        precision = V1_PRECISIONS.get(flask.request.args.get("precision", "n"))
        if precision is None:
            return bad_request(f"precision must be one of {', '.join(V1_PRECISIONS)}")
        return influx(precision)

    @app.post("/v1/metrics")
    def otlp_metrics() -> flask.Response | tuple[flask.Response, int]:
        kind = (flask.request.mimetype or "").lower()
        if kind not in ("application/x-protobuf", "application/json"):
            return bad_request(
                f"Content-Type {kind or 'none'!r} is not OTLP "
                "(application/x-protobuf or application/json)",
                415,
            )
        json_body = kind == "application/json"

        def run(body: bytes, batch_id: str | None) -> flask.Response:
            outcome = push.otlp(body, json_body, _options(), batch_id)
            ignored = outcome.counts.get("ignored", 0)
            message = f"{ignored} histogram/summary points are not stored" if ignored else ""
            payload = encode_otlp_response(ignored, message, json_body)
            response = _accepted(outcome, 200, payload)
            response.mimetype = kind
            return response

        return _handle(ctx, run)

    @app.post("/api/v1/write")
    def remote_write() -> flask.Response | tuple[flask.Response, int]:
        kind = (flask.request.mimetype or "").lower()
        if kind not in ("application/x-protobuf", ""):
            return bad_request(f"Content-Type {kind!r} is not application/x-protobuf", 415)
        encoding = flask.request.headers.get("Content-Encoding", "snappy").lower()
        if encoding != "snappy":
            return bad_request(f"Content-Encoding {encoding!r}: remote write is snappy", 415)

        def run(body: bytes, batch_id: str | None) -> flask.Response:
            return _accepted(push.remote_write(body, _options(), batch_id, _limit(ctx)))

        return _handle(ctx, run, raw_encoding="snappy")
