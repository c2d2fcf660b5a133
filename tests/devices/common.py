"""Checks every adapter must pass: garbage in is a PayloadError, availability is understood."""

from __future__ import annotations

import json

import pytest

from controller.errors import PayloadError
from devices.base import Availability, DeviceKind, DeviceSpec, Dropped, Outgoing

# Payloads no device should send; each must be rejected with a reason, never crash the adapter.
MALFORMED: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not JSON", b"hello"),
    ("JSON array", b"[1, 2, 3]"),
    ("JSON string", b'"ON"'),
    ("JSON number", b"42"),
    ("JSON null", b"null"),
    ("truncated", b'{"battery": 9'),
    ("not UTF-8", b"\xff\xfe\x00{"),
]


def assert_rejects_garbage(adapter: DeviceKind, spec: DeviceSpec, topic: str) -> None:
    """Every malformed payload raises PayloadError with a non-empty reason."""
    for label, payload in MALFORMED:
        with pytest.raises(PayloadError) as err:
            adapter.decode(spec, topic, payload)
        assert str(err.value), label


def assert_availability(adapter: DeviceKind, spec: DeviceSpec) -> None:
    """`<topic>/availability` in both the JSON and the legacy plain form; garbage rejected."""
    topic = f"{spec.topic}/availability"
    assert adapter.decode(spec, topic, b'{"state":"online"}') == [Availability(online=True)]
    assert adapter.decode(spec, topic, b'{"state":"offline"}') == [Availability(online=False)]
    assert adapter.decode(spec, topic, b"online") == [Availability(online=True)]
    assert adapter.decode(spec, topic, b"offline") == [Availability(online=False)]
    for bad in (b'{"state":"sleeping"}', b'{"state":true}', b"{}", b"[]", b"maybe"):
        with pytest.raises(PayloadError):
            adapter.decode(spec, topic, bad)


def sent_json(out: Outgoing) -> object:
    """The JSON body of an outgoing message."""
    return json.loads(out.payload)


def refused(adapter: DeviceKind, spec: DeviceSpec, topic: str, payload: bytes) -> str:
    """Why a payload, or part of it, was refused: the PayloadError when nothing in it was usable,
    else the reasons of the attributes dropped from it ('' when everything was fine)."""
    try:
        readings = adapter.decode(spec, topic, payload)
    except PayloadError as exc:
        return str(exc)
    return "; ".join(r.reason for r in readings if isinstance(r, Dropped))
