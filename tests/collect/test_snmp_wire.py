"""The hand-written SNMPv2c codec against pyasn1's BER codec, on generated messages."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from greenwatch.collect._snmp import _value
from greenwatch.collect._snmpwire import BulkClient, WireError, decode_response, encode_bulk

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
INT32 = st.integers(-(2**31), 2**31 - 1)
UINT32 = st.integers(0, 2**32 - 1)
OIDS = st.builds(
    lambda first, second, rest: ".".join(map(str, [first, second, *rest])),
    st.integers(0, 2),
    st.integers(0, 39),
    st.lists(st.integers(0, 2**32), max_size=12),
)
VALUES = st.one_of(
    INT32.map(V2C.Integer32),
    st.binary(max_size=300).map(V2C.OctetString),
    st.just(V2C.Null("")),
    OIDS.map(V2C.ObjectIdentifier),
    st.binary(min_size=4, max_size=4).map(V2C.IpAddress),
    UINT32.map(V2C.Counter32),
    UINT32.map(V2C.Gauge32),
    UINT32.map(V2C.TimeTicks),
    st.binary(max_size=40).map(V2C.Opaque),
    st.integers(0, 2**64 - 1).map(V2C.Counter64),
    st.sampled_from([V2C.NoSuchObject(""), V2C.NoSuchInstance(""), V2C.EndOfMibView("")]),
)


def _response(request_id: int, status: int, varbinds: list[tuple[str, Any]]) -> bytes:
    pdu = V2C.ResponsePDU()
    V2C.apiPDU.set_defaults(pdu)
    V2C.apiPDU.set_request_id(pdu, request_id)
    V2C.apiPDU.set_error_status(pdu, status)
    V2C.apiPDU.set_varbinds(pdu, varbinds)
    message = V2C.Message()
    V2C.apiMessage.set_defaults(message)
    V2C.apiMessage.set_community(message, "public")
    V2C.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


@settings(max_examples=300, deadline=None)
@given(
    request_id=st.integers(1, 2**31 - 1),
    status=st.integers(0, 18),
    varbinds=st.lists(st.tuples(OIDS, VALUES), max_size=30),
)
def test_responses_decode_as_pyasn1_decodes_them(
    request_id: int, status: int, varbinds: list[tuple[str, Any]]
) -> None:
    data = _response(request_id, status, varbinds)
    ours = decode_response(data)
    theirs, _ = decoder.decode(data, asn1Spec=V2C.Message())
    pdu = V2C.apiMessage.get_pdu(theirs)
    assert ours.request_id == int(V2C.apiPDU.get_request_id(pdu)) == request_id
    assert ours.error_status == int(V2C.apiPDU.get_error_status(pdu)) == status
    expected = [(str(name), _value(value)) for name, value in V2C.apiPDU.get_varbinds(pdu)]
    assert ours.varbinds == expected


@settings(max_examples=200, deadline=None)
@given(
    community=st.binary(max_size=64),
    request_id=st.integers(1, 2**31 - 1),
    repetitions=st.integers(1, 200),
    oids=st.lists(OIDS, min_size=1, max_size=20),
)
def test_bulk_requests_encode_as_pyasn1_encodes_them(
    community: bytes, request_id: int, repetitions: int, oids: list[str]
) -> None:
    pdu = V2C.GetBulkRequestPDU()
    V2C.apiBulkPDU.set_defaults(pdu)
    V2C.apiBulkPDU.set_request_id(pdu, request_id)
    V2C.apiBulkPDU.set_non_repeaters(pdu, 0)
    V2C.apiBulkPDU.set_max_repetitions(pdu, repetitions)
    V2C.apiBulkPDU.set_varbinds(pdu, [(oid, V2C.null) for oid in oids])
    message = V2C.Message()
    V2C.apiMessage.set_defaults(message)
    V2C.apiMessage.set_community(message, community)
    V2C.apiMessage.set_pdu(message, pdu)
    assert encode_bulk(community, request_id, repetitions, oids) == bytes(encoder.encode(message))


@settings(max_examples=300, deadline=None)
@given(
    varbinds=st.lists(st.tuples(OIDS, VALUES), min_size=1, max_size=5),
    cut=st.integers(0, 10_000),
    noise=st.binary(max_size=64),
)
def test_damaged_datagrams_are_wire_errors_never_anything_else(
    varbinds: list[tuple[str, Any]], cut: int, noise: bytes
) -> None:
    data = _response(7, 0, varbinds)
    with pytest.raises(WireError):
        decode_response(data[: cut % len(data)])
    for damaged in (noise, data[:-1] + noise, noise + data):
        with contextlib.suppress(WireError):
            decode_response(damaged)


def test_an_agent_that_never_answers_times_out_after_every_try() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    client = BulkClient("127.0.0.1", silent.getsockname()[1], b"public", 0.05, retries=2)
    try:
        with pytest.raises(TimeoutError):
            client.bulk(["1.3.6.1.2.1.1"], 10)
        tries = []
        silent.settimeout(0.5)
        for _ in range(3):
            tries.append(silent.recv(65535))
        assert len(set(tries)) == 1  # the same request (same request-id) each try
    finally:
        client.close()
        silent.close()
