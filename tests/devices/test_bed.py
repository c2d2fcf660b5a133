"""Tuya TS0601_bed_presence_sensor through Zigbee2MQTT."""

from __future__ import annotations

import pytest

from controller.errors import PayloadError
from devices.base import DeviceSpec
from devices.bed import BedReading, BedSensor
from tests.devices.common import assert_availability, assert_rejects_garbage

SPEC = DeviceSpec(id="bed_sensor", topic="zigbee2mqtt/bed_sensor", model="TS0601_bed_presence_sensor")
adapter = BedSensor()


def test_state() -> None:
    # zigbee2mqtt.io/devices/TS0601_bed_presence_sensor exposes occupancy, battery, illuminance
    # (the raw pressure), sensitivity, ... and work_state; only occupancy and battery matter here.
    payload = (b'{"battery":87,"illuminance":512,"linkquality":120,"occupancy":true,'
               b'"presence_delay":30,"sensitivity":"middle","work_state":"presence"}')
    assert adapter.decode(SPEC, SPEC.topic, payload) == [
        BedReading(occupancy=True, battery=87, linkquality=120)
    ]


@pytest.mark.parametrize("payload", [b'{"occupancy":"yes"}', b'{"battery":900}'])
def test_wrong_values(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        adapter.decode(SPEC, SPEC.topic, payload)


def test_empty_retained_clear_says_what_it_is() -> None:
    with pytest.raises(PayloadError, match="empty payload"):
        adapter.decode(SPEC, SPEC.topic, b"")


def test_garbage_and_availability() -> None:
    assert_rejects_garbage(adapter, SPEC, SPEC.topic)
    assert_availability(adapter, SPEC)
