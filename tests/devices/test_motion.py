"""Aqara RTCGQ11LM motion and light sensor through Zigbee2MQTT."""

from __future__ import annotations

import re

import pytest

from devices import KINDS
from devices.base import Command, DeviceSpec
from devices.motion import MotionReading, MotionSensor
from tests.devices.common import assert_availability, assert_rejects_garbage, refused

SPEC = DeviceSpec(id="hall_motion", topic="zigbee2mqtt/hall_motion", model="RTCGQ11LM")
adapter = MotionSensor()


def decode(payload: bytes) -> MotionReading:
    [reading] = adapter.decode(SPEC, SPEC.topic, payload)
    assert isinstance(reading, MotionReading)
    return reading


def test_registered() -> None:
    assert KINDS["motion"].models == ("RTCGQ11LM",)
    assert KINDS["motion"].power == "battery"


def test_motion_with_both_illuminance_keys() -> None:
    # arachnetech/homebridge-mqttthing#315: "Xiaomi RTCGQ11LM", JSON output on
    # zigbee2mqtt/0x00158d00054a726a.
    payload = (b'{"battery":100,"voltage":3055,"illuminance":7,"illuminance_lux":7,'
               b'"linkquality":26,"occupancy":true}')
    assert decode(payload).attributes() == {
        "occupancy": True, "illuminance": 7, "illuminance_lux": 7, "battery": 100,
        "voltage": 3055, "linkquality": 26,
    }


def test_no_motion_in_the_dark() -> None:
    # Koenkk/zigbee2mqtt#2274 (RTCGQ11LM), Zigbee2MQTT log 2020-02-17 06:09:21.
    payload = (b'{"battery":100,"voltage":3175,"illuminance":0,"linkquality":18,'
               b'"occupancy":false,"illuminance_lux":0}')
    reading = decode(payload)
    assert reading.occupancy is False
    assert reading.illuminance == 0 and reading.illuminance_lux == 0


def test_early_firmware_payload_without_battery() -> None:
    # Koenkk/zigbee2mqtt#270 "Motion sensors state behavior (RTCGQ11LM)", 2018 log.
    assert decode(b'{"illuminance":122,"occupancy":true}').attributes() == {
        "occupancy": True, "illuminance": 122,
    }


def test_zigbee2mqtt_extras_are_ignored() -> None:
    # A homebridge log of an Aqara motion sensor on Zigbee2MQTT 1.35 (DCM4711's
    # homebridge-logger): device_temperature, power_outage_count and last_seen are extras.
    payload = (b'{"battery":100,"device_temperature":21,"illuminance":21,"illuminance_lux":21,'
               b'"last_seen":"2024-01-09T23:22:22+00:00","linkquality":86,"occupancy":true,'
               b'"power_outage_count":90,"voltage":3025}')
    assert decode(payload).occupancy is True
    # ...and so is the option-driven follow-up Zigbee2MQTT sends itself.
    assert decode(b'{"no_occupancy_since":60,"occupancy":false}').attributes() == {"occupancy": False}


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b'{"occupancy":"true"}', "'occupancy' should be true or false"),
        (b'{"occupancy":true,"illuminance":-3}', "'illuminance' = -3 is outside"),
        (b'{"occupancy":true,"illuminance_lux":1e9}', "'illuminance_lux'"),
        (b'{"occupancy":true,"illuminance":"dark"}', "'illuminance' should be a number"),
        (b'{"occupancy":true,"battery":250}', "'battery' = 250"),
        (b'{"occupancy":true,"voltage":12}', "'voltage' = 12"),
        (b'{"occupancy":true,"linkquality":[1]}', "'linkquality' should be a number"),
    ],
)
def test_wrong_types_and_ranges_are_payload_errors(payload: bytes, reason: str) -> None:
    # The bad attribute is dropped with its reason; `occupancy` in the same message stands.
    assert re.search(reason, refused(adapter, SPEC, SPEC.topic, payload))


def test_garbage_is_rejected() -> None:
    assert_rejects_garbage(adapter, SPEC, SPEC.topic)


def test_availability() -> None:
    assert_availability(adapter, SPEC)


def test_takes_no_commands() -> None:
    with pytest.raises(ValueError):
        adapter.encode(SPEC, Command(device="hall_motion", values={"occupancy_timeout": 60}))
