"""Per-attribute decoding, for every kind: one bad attribute is dropped and reported, the rest of
the message stands (issue 14). Before, `{"action":"emergency","battery":100.5}` lost the press."""

from __future__ import annotations

import json

import pytest

from controller.errors import PayloadError
from devices import KINDS
from devices.base import DeviceEvent, DeviceSpec, Dropped, Reading

# kind, topic suffix, payload, the attributes that must survive, the attribute dropped
CASES: list[tuple[str, str, dict[str, object], dict[str, object], str]] = [
    # Zigbee2MQTT's battery converter computes percentages from voltage and can overshoot.
    ("sos", "", {"action": "emergency", "battery": 100.5}, {"event": "emergency"}, "battery"),
    ("sos", "", {"action": "emergency", "voltage": 0, "linkquality": 80},
     {"event": "emergency", "linkquality": 80}, "voltage"),
    ("sos", "", {"action": "single", "battery": 90}, {"battery": 90}, "action"),
    ("bed", "", {"occupancy": False, "battery": "87%"}, {"occupancy": False}, "battery"),
    ("contact", "", {"contact": False, "voltage": 0}, {"contact": False, "open": True}, "voltage"),
    ("motion", "", {"occupancy": True, "illuminance": -3, "battery": 100},
     {"occupancy": True, "battery": 100}, "illuminance"),
    ("light", "", {"state": "ON", "brightness": 9999}, {"state": "ON"}, "brightness"),
    ("curtain", "", {"position": 40, "motor_state": "dancing"}, {"position": 40}, "motor_state"),
    ("speaker", "/state", {"volume": 40, "speaking": "yes"}, {"volume": 40}, "speaking"),
    ("dispenser", "/state", {"doses_left": 12, "battery": 100.5}, {"doses_left": 12}, "battery"),
    ("dispenser", "/event", {"event": "dose_taken", "dose": "08:00", "time": "2026-01-05T08:04:12+01:00",
                             "doses_left": -2}, {"event": "dose_taken"}, "doses_left"),
    ("tag", "/hall", {"distance": 2.5, "rssi": "loud"}, {"distance": 2.5, "receiver": "hall"}, "rssi"),
]


def decode(kind: str, suffix: str, payload: bytes) -> list[Reading]:
    spec = DeviceSpec(id=f"my_{kind}", topic=f"test/my_{kind}")
    return KINDS[kind].decode(spec, f"{spec.topic}{suffix}", payload)


def kept(readings: list[Reading]) -> dict[str, object]:
    out: dict[str, object] = {}
    for r in readings:
        if isinstance(r, DeviceEvent):
            out["event"] = r.name
        elif not isinstance(r, Dropped):
            out.update(r.attributes())
    return out


@pytest.mark.parametrize(("kind", "suffix", "payload", "survives", "bad"), CASES,
                         ids=[f"{c[0]}-{c[4]}" for c in CASES])
def test_a_bad_attribute_is_dropped_and_the_rest_kept(kind: str, suffix: str, payload: dict[str, object],
                                                      survives: dict[str, object], bad: str) -> None:
    readings = decode(kind, suffix, json.dumps(payload).encode())
    assert kept(readings).items() >= survives.items()
    assert bad not in kept(readings)
    dropped = [r for r in readings if isinstance(r, Dropped)]
    assert [d.attribute for d in dropped] == [bad]
    assert bad in dropped[0].reason


def test_every_kind_with_attributes_is_covered() -> None:
    assert {c[0] for c in CASES} == set(KINDS)


def test_the_press_comes_before_what_was_dropped() -> None:
    readings = decode("sos", "", b'{"action":"emergency","battery":100.5}')
    assert [type(r).__name__ for r in readings] == ["SosReading", "DeviceEvent", "Dropped"]


def test_a_message_with_nothing_usable_is_still_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="'battery' = 120"):
        decode("sos", "", b'{"battery":120}')


@pytest.mark.parametrize("kind, suffix", [("light", ""), ("curtain", ""), ("tag", "/hall"), ("dispenser", "/state")])
def test_a_megabyte_string_is_not_echoed(kind: str, suffix: str) -> None:
    big = "x" * 1_048_576
    payload = json.dumps({"state": big, "motor_state": big, "distance": 1, "name": big, "door": big,
                          "next_dose": big}).encode()
    try:
        reasons = [r.reason for r in decode(kind, suffix, payload) if isinstance(r, Dropped)]
    except PayloadError as exc:
        reasons = [str(exc)]
    assert reasons
    assert all(len(r) < 300 for r in reasons), [len(r) for r in reasons]


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_deep_json_is_refused_without_recursion(depth: int) -> None:
    payload = b'{"a":' * depth + b"1" + b"}" * depth
    with pytest.raises(PayloadError, match="nested more than 32 levels"):
        decode("bed", "", payload)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    payload = json.dumps({"occupancy": True, "note": "[" * 500 + "\\\"{" * 100}).encode()
    assert kept(decode("bed", "", payload)) == {"occupancy": True}
