"""Medication dispenser in huis's own MQTT convention (docs/devices.md, "Dispenser")."""

from __future__ import annotations

import re

import pytest

from controller.errors import PayloadError
from devices import KINDS
from devices.base import Command, DeviceEvent, DeviceSpec, Outgoing
from devices.dispenser import Dispenser, DispenserReading
from tests.devices.common import assert_availability, assert_rejects_garbage, refused, sent_json

# The samples below are the examples in docs/devices.md: the spec is ours, so the spec's own
# examples are the "real" payloads a conforming dispenser sends.
SPEC = DeviceSpec(id="dispenser", topic="huis/dispenser/dispenser", model="medido")
EVENT = "huis/dispenser/dispenser/event"
STATE = "huis/dispenser/dispenser/state"
adapter = Dispenser()


def event(payload: bytes) -> DeviceEvent:
    [reading] = adapter.decode(SPEC, EVENT, payload)
    assert isinstance(reading, DeviceEvent)
    return reading


def state(payload: bytes) -> DispenserReading:
    [reading] = adapter.decode(SPEC, STATE, payload)
    assert isinstance(reading, DispenserReading)
    return reading


def encode(values: dict[str, object]) -> Outgoing:
    [out] = adapter.encode(SPEC, Command(device=SPEC.id, values=values))
    assert (out.topic, out.qos, out.retain) == ("huis/dispenser/dispenser/set", 1, False)
    return out


def test_registered() -> None:
    assert KINDS["dispenser"].models == ("medido",)
    assert KINDS["dispenser"].power == "mains"
    assert adapter.subscriptions(SPEC) == [EVENT, STATE, "huis/dispenser/dispenser/availability"]


def test_dose_cycle_events() -> None:
    due = event(b'{"event":"dose_due","dose":"08:00","time":"2026-01-05T08:00:00+01:00"}')
    assert due == DeviceEvent(name="dose_due", data={"dose": "08:00", "time": "2026-01-05T08:00:00+01:00"})
    taken = event(b'{"event":"dose_taken","dose":"08:00","time":"2026-01-05T08:04:12+01:00",'
                  b'"due":"2026-01-05T08:00:00+01:00","doses_left":11}')
    assert taken == DeviceEvent(name="dose_taken", data={
        "dose": "08:00", "time": "2026-01-05T08:04:12+01:00", "due": "2026-01-05T08:00:00+01:00",
        "doses_left": 11,
    })
    missed = event(b'{"event":"dose_missed","dose":"13:00","time":"2026-01-05T14:30:00+01:00",'
                   b'"due":"2026-01-05T13:00:00+01:00"}')
    assert missed.name == "dose_missed" and missed.data["dose"] == "13:00"


def test_refill_low_needs_no_dose_and_utc_z_is_accepted() -> None:
    low = event(b'{"event":"refill_low","time":"2026-01-05T07:00:00Z","doses_left":6}')
    assert low == DeviceEvent(name="refill_low", data={"time": "2026-01-05T07:00:00+00:00", "doses_left": 6})


def test_unknown_extra_keys_are_ignored() -> None:
    e = event(b'{"event":"dose_due","dose":"08:00","time":"2026-01-05T08:00:00+01:00",'
              b'"firmware":"2.1","seq":1234}')
    assert set(e.data) == {"dose", "time"}


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b'{"event":"dose_eaten","dose":"08:00","time":"2026-01-05T08:00:00+01:00"}', "'event' should be one of"),
        (b'{"dose":"08:00","time":"2026-01-05T08:00:00+01:00"}', "'event' should be one of"),
        (b'{"event":"dose_due","dose":"08:00"}', "dose_due event has no 'time'"),
        (b'{"event":"dose_due","time":"2026-01-05T08:00:00+01:00"}', "dose_due event has no 'dose'"),
        (b'{"event":"dose_due","dose":"08:00","time":"2026-01-05T08:00:00"}', "no UTC offset"),
        (b'{"event":"dose_due","dose":"08:00","time":"vanochtend"}', "not an ISO 8601 time"),
        (b'{"event":"dose_due","dose":"08:00","time":1767596400}', "ISO 8601 time string"),
        (b'{"event":"dose_due","dose":8,"time":"2026-01-05T08:00:00+01:00"}', "'dose' should be a string"),
        (b'{"event":"dose_due","dose":"","time":"2026-01-05T08:00:00+01:00"}', "'dose' should be 1..40"),
        (b'{"event":"refill_low","time":"2026-01-05T07:00:00Z","doses_left":-2}', "'doses_left' = -2"),
    ],
)
def test_bad_events_are_payload_errors(payload: bytes, reason: str) -> None:
    assert re.search(reason, refused(adapter, SPEC, f"{SPEC.topic}/event", payload))


def test_state() -> None:
    reading = state(b'{"doses_left":12,"next_dose":"13:00","next_dose_at":"2026-01-05T13:00:00+01:00",'
                    b'"battery":100,"door":"closed","alarm":false}')
    assert reading.attributes() == {
        "doses_left": 12, "next_dose": "13:00", "next_dose_at": "2026-01-05T13:00:00+01:00",
        "battery": 100, "door": "closed", "alarm": False,
    }
    # The minimal state, as simulators/dispenser.py publishes it.
    assert state(b'{"doses_left":27,"next_dose":"13:00","battery":96}').attributes() == {
        "doses_left": 27, "next_dose": "13:00", "battery": 96,
    }
    assert state(b'{"door":"OPEN","alarm":true}').attributes() == {"door": "open", "alarm": True}


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b'{"doses_left":"12"}', "'doses_left' should be a number"),
        (b'{"doses_left":100000}', "'doses_left' = 100000"),
        (b'{"battery":-1}', "'battery' = -1"),
        (b'{"door":"ajar"}', "'door' should be one of open, closed"),
        (b'{"alarm":"beeping"}', "'alarm' should be true or false"),
        (b'{"next_dose_at":"13:00"}', "no UTC offset|not an ISO 8601"),
        (b'{"next_dose":1300}', "'next_dose' should be a string"),
    ],
)
def test_bad_state_is_payload_error(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        state(payload)


def test_garbage_is_rejected_on_both_topics() -> None:
    assert_rejects_garbage(adapter, SPEC, EVENT)
    assert_rejects_garbage(adapter, SPEC, STATE)


def test_foreign_topic_is_rejected() -> None:
    with pytest.raises(PayloadError, match="not a dispenser topic"):
        adapter.decode(SPEC, "huis/dispenser/dispenser/log", b"{}")


def test_availability() -> None:
    assert_availability(adapter, SPEC)


@pytest.mark.parametrize("snooze, seconds", [("10m", 600), (600, 600), ("1h", 3600), ("1m", 60), ("2h", 7200)])
def test_snooze(snooze: object, seconds: int) -> None:
    assert sent_json(encode({"snooze": snooze})) == {"snooze": seconds}


def test_snooze_a_named_dose() -> None:
    assert sent_json(encode({"snooze": "15m", "dose": "08:00"})) == {"snooze": 900, "dose": "08:00"}


@pytest.mark.parametrize(
    "values, reason",
    [
        ({}, "needs at least one of"),
        ({"dose": "08:00"}, "needs 'snooze'"),
        ({"snooze": "30s"}, "between 1m and 2h"),
        ({"snooze": "3h"}, "between 1m and 2h"),
        ({"snooze": "tien minuten"}, "'snooze': "),
        ({"snooze": True}, "'snooze': "),
        ({"snooze": "10m", "dose": 8}, "'dose' should be a dose id"),
        ({"dispense": True}, "cannot do 'dispense'"),
    ],
)
def test_impossible_commands_are_value_errors(values: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        encode(values)
