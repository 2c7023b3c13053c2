"""Ingest: validate and normalise batches from collectors and pushes, then hand them on.

Ingest sits left of the store in the flow, so it never imports a store: the sink that stores
a batch is given to it. Pushed data (InfluxDB line protocol, OTLP/HTTP metrics, Prometheus
remote write) is parsed column-wise, mapped onto canonical metrics by push profiles and
submitted as one atomic batch per request.
"""

from greenwatch.ingest._boundary import (
    Boundary,
    BoundaryPolicy,
    BoundaryStats,
    InventorySites,
    parse_duration,
)
from greenwatch.ingest._lineproto import (
    LineError,
    encode_lines,
    parse_lines,
)
from greenwatch.ingest._mapping import (
    Mapper,
    default_profiles,
    ext_name,
    load_push_profile,
)
from greenwatch.ingest._otlp import OtlpError
from greenwatch.ingest._otlp import encode_response as encode_otlp_response
from greenwatch.ingest._pipeline import Ingest, IngestClosedError
from greenwatch.ingest._push import (
    Admit,
    Push,
    PushError,
    PushOptions,
    PushOutcome,
    count_headers,
)
from greenwatch.ingest._remote import RemoteWriteError, encode_write_request

__all__ = [
    "Admit",
    "Boundary",
    "BoundaryPolicy",
    "BoundaryStats",
    "Ingest",
    "IngestClosedError",
    "InventorySites",
    "LineError",
    "Mapper",
    "OtlpError",
    "Push",
    "PushError",
    "PushOptions",
    "PushOutcome",
    "RemoteWriteError",
    "count_headers",
    "default_profiles",
    "encode_lines",
    "encode_otlp_response",
    "encode_write_request",
    "ext_name",
    "load_push_profile",
    "parse_duration",
    "parse_lines",
]
