"""Tuya TS0215A_sos emergency button through Zigbee2MQTT."""

from __future__ import annotations

import re

import pytest

from devices import KINDS
from devices.base import Command, DeviceEvent, DeviceSpec
from devices.sos import SosButton, SosReading
from tests.devices.common import assert_availability, assert_rejects_garbage, refused

SPEC = DeviceSpec(id="sos_button", topic="zigbee2mqtt/sos_button", model="TS0215A_sos")
adapter = SosButton()


def test_registered() -> None:
    assert KINDS["sos"].models == ("TS0215A_sos",)
    assert KINDS["sos"].power == "battery"


def test_press_is_an_emergency_event_with_state_first() -> None:
    # Koenkk/zigbee-herdsman-converters#2797 "TS0215A SOS Button not working": the log when the
    # button was pressed (battery not reported yet, hence null).
    readings = adapter.decode(SPEC, SPEC.topic, b'{"action":"emergency","battery":null,"linkquality":90}')
    assert readings == [SosReading(linkquality=90), DeviceEvent(name="emergency")]


def test_home_assistant_reset_is_not_a_press() -> None:
    # Same log, the message Zigbee2MQTT sends right after for Home Assistant.
    readings = adapter.decode(SPEC, SPEC.topic, b'{"action":"","battery":null,"linkquality":90}')
    assert readings == [SosReading(linkquality=90)]
    # Koenkk/zigbee2mqtt#31727 (a Tuya SOS button on Zigbee2MQTT 2.x): `action` null between presses.
    payload = b'{"action":null,"battery":100,"last_seen":"2026-04-17T23:33:17+08:00","linkquality":14}'
    assert adapter.decode(SPEC, SPEC.topic, payload) == [SosReading(battery=100, linkquality=14)]


def test_press_with_battery() -> None:
    # Koenkk/zigbee2mqtt#31727, the press itself on Zigbee2MQTT 2.x with `last_seen` on.
    payload = (b'{"action":"emergency","battery":100,"last_seen":"2026-04-17T23:33:22+08:00",'
               b'"linkquality":18}')
    state, event = adapter.decode(SPEC, SPEC.topic, payload)
    assert state.attributes() == {"battery": 100, "linkquality": 18}
    assert event == DeviceEvent(name="emergency")


def test_battery_report_alone() -> None:
    assert adapter.decode(SPEC, SPEC.topic, b'{"battery":87,"linkquality":120}') == [
        SosReading(battery=87, linkquality=120)
    ]


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b'{"action":"single"}', "unexpected action 'single'"),
        (b'{"action":"arm_all_zones"}', "unexpected action"),
        (b'{"action":1}', "'action' should be a string"),
        (b'{"action":["emergency"]}', "'action' should be a string"),
        (b'{"action":"emergency","battery":"full"}', "'battery' should be a number"),
        (b'{"battery":120}', "'battery' = 120"),
    ],
)
def test_unexpected_payloads_are_errors(payload: bytes, reason: str) -> None:
    assert re.search(reason, refused(adapter, SPEC, SPEC.topic, payload))


def test_garbage_is_rejected() -> None:
    assert_rejects_garbage(adapter, SPEC, SPEC.topic)


def test_availability() -> None:
    assert_availability(adapter, SPEC)


def test_takes_no_commands() -> None:
    with pytest.raises(ValueError):
        adapter.encode(SPEC, Command(device="sos_button", values={"action": "emergency"}))
