"""What an attacker (or a broken client) can send, generated: 2,300 requests over every push API.

One live server on loopback with the default boundary (national inventory, real clock). Each
request mixes honest samples with forged sites, the store's old separators and other control
characters, closed-vocabulary labels, timestamps from 1970 to 2262, impossible values, typed
fields and plain garbage. For every answer:

- never a 5xx, never a hang (each request has a timeout);
- all or nothing: a refused request stores nothing, an accepted one stores what it says;
- no sample of a site outside the inventory is ever stored, so none reaches a figure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from greenwatch.ingest import BoundaryPolicy, encode_write_request
from greenwatch.inventory import load_inventory
from tests.ingest.conftest import Server, start_server

SITES = sorted(s.id for s in load_inventory().sites)
CONTROL = "[\x00-\x1f\x7f-\x9f]"
SEPARATORS = ("\x1e", "\x1f", "\x00", "\n", "\t", "\x7f", "\x85")
CASES = settings(
    max_examples=450,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("adversarial"),
        inventory=load_inventory(),
        boundary_policy=BoundaryPolicy(),
        clock=lambda: pd.Timestamp.now(tz="UTC"),
    )
    yield running
    running.service.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[httpx.Client]:
    with server.client("write") as writer:
        yield writer


# -- what is sent --------------------------------------------------------------------------

forged_site = st.one_of(
    st.sampled_from(["atlantis-1", "guian-1 ", "GUIAN-1", "guian_1", "", "guian-1,x=y"]),
    st.builds(
        lambda site, sep, rest: f"{site}{sep}{rest}",
        st.sampled_from(SITES),
        st.sampled_from(SEPARATORS),
        st.sampled_from(["meter\x1efacility", "site\x1eguian-2", "x", ""]),
    ),
    st.text(max_size=12),
)
site = st.one_of(st.sampled_from(SITES), forged_site)
label_value = st.one_of(
    st.sampled_from(["facility", "it_input", "cooling", "gpu", "onsite", "facilty", "m0"]),
    st.builds(
        lambda v, sep: f"{v}{sep}", st.sampled_from(["facility", "x"]), st.sampled_from(SEPARATORS)
    ),
    st.text(max_size=8),
)
metric = st.sampled_from(
    [
        "power_watts",
        "energy_joules_total",
        "utilisation_ratio",
        "temperature_celsius",
        "link_up",
        "green_energy_joules_total",
        "hw.power",
        "nvidia_smi",
        "ext_thing",
        "power watts",
    ]
)
label_name = st.sampled_from(
    ["meter", "resource", "instrument", "device_kind", "hall", "host", "x\x1fy"]
)
value = st.one_of(
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.floats(min_value=-1e15, max_value=1e15, allow_nan=False),
    st.sampled_from([0.0, -1.0, 5e12, 1e308]),
)
now_ns = int(pd.Timestamp.now(tz="UTC").value)
timestamp = st.one_of(
    st.integers(min_value=now_ns - 10**15, max_value=now_ns),  # the last 11 days
    st.integers(min_value=0, max_value=2**63 - 1),
    st.sampled_from([0, 1, now_ns + 3600 * 10**9, 4_102_444_800 * 10**9]),
)
attack = st.tuples(
    metric, site, st.dictionaries(label_name, label_value, max_size=2), value, timestamp
)
recent = st.integers(min_value=now_ns - 10**15, max_value=now_ns)
honest = st.tuples(
    st.sampled_from(["power_watts", "energy_joules_total"]),
    st.sampled_from(SITES),
    st.fixed_dictionaries({"meter": st.sampled_from(["facility", "it_input", "cooling"])}),
    st.floats(min_value=0, max_value=1e6),
    recent,
) | st.tuples(
    st.sampled_from(["ext_probe", "hw.temperature"]),
    st.sampled_from(SITES),
    st.fixed_dictionaries({"hw.id": st.sampled_from(["inlet", "gpu0"])}),
    st.floats(min_value=-40, max_value=120),
    recent,
)
sample = honest | attack


def _escape(text: str, specials: str) -> str:
    for char in "\\" + specials:
        text = text.replace(char, "\\" + char)
    return text


def _line(item: tuple[str, str, dict[str, str], float, int], field_kind: str) -> str:
    name, where, labels, number, ts = item
    tags = "".join(
        f",{_escape(k, ',= ')}={_escape(v, ',= ')}" for k, v in labels.items() if k and v
    )
    site_tag = f",site={_escape(where, ',= ')}" if where else ""
    field = {"f": repr(number), "s": f'"{number}"', "b": "true", "i": f"{int(number)}i"}[field_kind]
    return f"{_escape(name, ', ')}{site_tag}{tags} value={field} {ts}"


def _lines(items: list[tuple[tuple[str, str, dict[str, str], float, int], str]]) -> bytes:
    return "\n".join(_line(item, kind) for item, kind in items).encode()


lines_body = st.one_of(
    st.lists(st.tuples(honest, st.just("f")), min_size=1, max_size=8).map(_lines),
    st.lists(
        st.tuples(sample, st.sampled_from(["f", "f", "f", "s", "b", "i"])), min_size=1, max_size=8
    ).map(_lines),
    st.binary(max_size=200),
)


def _otlp(
    items: list[tuple[str, str, dict[str, str], float, int]], resource_site: str
) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    resource = request.resource_metrics.add()
    for key, text in (
        ("greenwatch.site", resource_site),
        ("service.name", "svc"),
        ("host.name", "h"),
    ):
        attribute = resource.resource.attributes.add()
        attribute.key = key
        attribute.value.string_value = text
    scope = resource.scope_metrics.add()
    for k, (name, where, labels, number, ts) in enumerate(items):
        metric_ = scope.metrics.add()
        metric_.name = name
        points = metric_.sum if k % 2 else metric_.gauge
        if k % 2:
            metric_.sum.aggregation_temporality = 2
            metric_.sum.is_monotonic = True
        point = points.data_points.add()
        point.as_double = number
        point.time_unix_nano = ts
        for key, text in {**labels, **({"site": where} if where else {})}.items():
            attribute = point.attributes.add()
            attribute.key = key
            attribute.value.string_value = text
    return request


otlp_request = st.builds(
    _otlp, st.lists(honest, min_size=1, max_size=6), st.sampled_from(SITES)
) | st.builds(_otlp, st.lists(sample, min_size=1, max_size=6), site)


def _remote(items: list[tuple[str, str, dict[str, str], float, int]]) -> bytes:
    series = [
        (
            {"__name__": name.replace(".", "_"), **labels, **({"site": where} if where else {})},
            [(ts // 1_000_000, number)],
        )
        for name, where, labels, number, ts in items
    ]
    return encode_write_request(series)


remote_body = st.one_of(
    st.lists(honest, min_size=1, max_size=6).map(_remote),
    st.lists(sample, min_size=1, max_size=6).map(_remote),
    st.binary(max_size=120),
)

# -- what must hold ------------------------------------------------------------------------


def _check(server: Server, answer: httpx.Response, stored_before: int) -> None:
    assert answer.status_code < 500, answer.text
    stored_after = server.service.ingest.stored
    if answer.status_code >= 400:
        assert stored_after == stored_before, answer.text  # nothing of a refused request
    else:
        assert stored_after - stored_before == int(answer.headers["X-Greenwatch-Stored"])
    series = server.store.series()
    assert set(series["site"]) <= set(SITES), set(series["site"]) - set(SITES)


@CASES
@given(body=lines_body)
def test_line_protocol(server: Server, client: httpx.Client, body: bytes) -> None:
    before = server.service.ingest.stored
    _check(server, client.post("/api/v2/write", content=body, timeout=30), before)


@CASES
@given(request=otlp_request, garbage=st.one_of(st.none(), st.binary(max_size=100)))
def test_otlp_protobuf(
    server: Server,
    client: httpx.Client,
    request: ExportMetricsServiceRequest,
    garbage: bytes | None,
) -> None:
    body = request.SerializeToString() if garbage is None else garbage
    headers = {"Content-Type": "application/x-protobuf"}
    before = server.service.ingest.stored
    _check(server, client.post("/v1/metrics", content=body, headers=headers, timeout=30), before)


@CASES
@given(request=otlp_request, mangle=st.sampled_from(["", "cut", "nest"]))
def test_otlp_json(
    server: Server, client: httpx.Client, request: ExportMetricsServiceRequest, mangle: str
) -> None:
    text = json_format.MessageToJson(request)
    if mangle == "cut":
        text = text[: len(text) // 2]
    elif mangle == "nest":
        text = json.dumps({"resourceMetrics": [{"resource": {"attributes": [[[[[]]]]]}}]})
    headers = {"Content-Type": "application/json"}
    before = server.service.ingest.stored
    _check(server, client.post("/v1/metrics", content=text, headers=headers, timeout=30), before)


@CASES
@given(body=remote_body)
def test_remote_write(server: Server, client: httpx.Client, body: bytes) -> None:
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy"}
    before = server.service.ingest.stored
    _check(server, client.post("/api/v1/write", content=body, headers=headers, timeout=30), before)


@settings(CASES, max_examples=300)
@given(
    site_param=forged_site,
    line=st.tuples(metric, label_value, value).map(
        lambda t: f"{t[0]},meter={_escape(t[1], ',= ') or 'x'} value={t[2]!r}"
    ),
)
def test_the_site_parameter_is_checked_too(
    server: Server, client: httpx.Client, site_param: str, line: str
) -> None:
    before = server.service.ingest.stored
    answer = client.post(
        "/api/v2/write", params={"site": site_param, "precision": "s"}, content=line, timeout=30
    )
    _check(server, answer, before)


def test_nothing_forged_reaches_a_figure(server: Server) -> None:
    """After the generated requests: every stored series is a known site's, with clean labels,
    and the national figures answer."""
    series = server.store.series()
    assert set(series["site"]) <= set(SITES)
    labels = series.drop(columns="metric").stack().astype(str)
    assert not labels.str.contains(CONTROL).any()
    with server.client("read") as reader:
        kpi = reader.get("/api/v1/kpi", params={"kpi": "pue"}, timeout=60)
    assert kpi.status_code == 200, kpi.text
