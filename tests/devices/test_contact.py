"""Aqara MCCGQ11LM door/window contact through Zigbee2MQTT."""

from __future__ import annotations

import re

import pytest

from devices import KINDS
from devices.base import Command, DeviceSpec
from devices.contact import ContactReading, ContactSensor
from tests.devices.common import assert_availability, assert_rejects_garbage, refused

SPEC = DeviceSpec(id="front_door", topic="zigbee2mqtt/front_door", model="MCCGQ11LM")
adapter = ContactSensor()


def decode(payload: bytes) -> ContactReading:
    [reading] = adapter.decode(SPEC, SPEC.topic, payload)
    assert isinstance(reading, ContactReading)
    return reading


def test_registered() -> None:
    assert KINDS["contact"] is not None and KINDS["contact"].kind == "contact"
    assert KINDS["contact"].models[0] == "MCCGQ11LM"
    assert KINDS["contact"].power == "battery"


def test_open_door_as_zigbee2mqtt_publishes_it() -> None:
    # khartinger/mqtt4home, "Vue-MQTT: Web page with door symbol": an Aqara MCCGQ11LM via
    # zigbee2mqtt, door open. Extra keys (device_temperature, power_outage_count) are normal.
    payload = (b'{"battery":100,"contact":false,"device_temperature":26,"linkquality":153,'
               b'"power_outage_count":6889,"voltage":3035}')
    assert decode(payload).attributes() == {
        "contact": False, "open": True, "battery": 100, "voltage": 3035, "linkquality": 153,
    }


def test_closed_door_before_battery_was_reported() -> None:
    # gitlab.com/seam345/zigbee2mqtt-types issue 28: MCCGQ11LM right after pairing, no battery
    # yet, with Zigbee2MQTT's `last_seen` option on.
    payload = b'{"contact":true,"last_seen":"2024-04-08T21:21:36.794Z","linkquality":144}'
    assert decode(payload).attributes() == {"contact": True, "open": False, "linkquality": 144}


def test_nulls_after_pairing_mean_unknown() -> None:
    # Zigbee2MQTT publishes null for values a Xiaomi device has not reported yet
    # (Koenkk/zigbee2mqtt#10959 shows battery/voltage null on a RTCGQ11LM after pairing).
    reading = decode(b'{"battery":null,"contact":true,"linkquality":120,"voltage":null}')
    assert reading.attributes() == {"contact": True, "open": False, "linkquality": 120}


def test_battery_report_without_contact_leaves_open_unknown() -> None:
    # The hourly heartbeat carries battery and voltage; without `contact` we must not guess.
    reading = decode(b'{"battery":91,"linkquality":60,"voltage":2985}')
    assert reading.contact is None and reading.open is None
    assert reading.attributes() == {"battery": 91, "voltage": 2985, "linkquality": 60}


def test_float_battery_is_rounded() -> None:
    # Some Zigbee2MQTT versions publish battery as a float derived from the voltage.
    assert decode(b'{"battery":91.5,"contact":true}').battery == 92


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b'{"contact":"open"}', "'contact' should be true or false"),
        (b'{"contact":1}', "'contact' should be true or false"),
        (b'{"contact":true,"battery":"100.00"}', "'battery' should be a number"),
        (b'{"contact":true,"battery":101}', "'battery' = 101 is outside"),
        (b'{"contact":true,"battery":-1}', "outside"),
        (b'{"contact":true,"voltage":30350}', "'voltage' = 30350 is outside"),
        (b'{"contact":true,"linkquality":256}', "'linkquality' = 256"),
        (b'{"contact":true,"battery":true}', "'battery' should be a number"),
        (b'{"contact":true,"battery":NaN}', "finite"),
        (b'{"contact":true,"voltage":Infinity}', "finite"),
    ],
)
def test_wrong_types_and_ranges_are_payload_errors(payload: bytes, reason: str) -> None:
    # The bad attribute is dropped with its reason; `contact` in the same message stands.
    assert re.search(reason, refused(adapter, SPEC, SPEC.topic, payload))


def test_garbage_is_rejected() -> None:
    assert_rejects_garbage(adapter, SPEC, SPEC.topic)


def test_availability() -> None:
    assert_availability(adapter, SPEC)


def test_subscriptions() -> None:
    assert adapter.subscriptions(SPEC) == ["zigbee2mqtt/front_door",
                                          "zigbee2mqtt/front_door/availability"]


def test_takes_no_commands() -> None:
    with pytest.raises(ValueError, match="no commands"):
        adapter.encode(SPEC, Command(device="front_door", values={"contact": True}))
