"""IKEA TRADFRI lamps through Zigbee2MQTT: decoding state, encoding `/set` commands."""

from __future__ import annotations

import pytest

from controller.errors import PayloadError
from devices import KINDS
from devices.base import Command, DeviceSpec, Outgoing
from devices.light import Light, LightReading
from tests.devices.common import assert_availability, assert_rejects_garbage, sent_json

DIMMABLE = DeviceSpec(id="hall_light", topic="zigbee2mqtt/hall_light", model="LED1623G12")
WHITE_SPECTRUM = DeviceSpec(id="desk", topic="zigbee2mqtt/desk", model="LED2201G8")
adapter = Light()


def decode(payload: bytes, spec: DeviceSpec = DIMMABLE) -> LightReading:
    [reading] = adapter.decode(spec, spec.topic, payload)
    assert isinstance(reading, LightReading)
    return reading


def encode(values: dict[str, object], spec: DeviceSpec = DIMMABLE) -> Outgoing:
    [out] = adapter.encode(spec, Command(device=spec.id, values=values))
    assert out.topic == f"{spec.topic}/set"
    assert out.qos == 1 and out.retain is False
    return out


def test_registered() -> None:
    light = KINDS["light"]
    assert light.models[0] == "LED1623G12"
    assert {"LED2102G3", "LED2201G8"} <= set(light.models)
    assert light.power == "mains"


def test_white_spectrum_bulb_state() -> None:
    # Koenkk/zigbee2mqtt#7795 "Tradfi get topics": a TRADFRI bulb's state after /get.
    payload = (b'{"brightness":254,"color":{"hue":42,"saturation":42,"x":0.3693,"y":0.3695},'
               b'"color_mode":"color_temp","color_options":{"execute_if_off":true},"color_temp":234,'
               b'"color_temp_startup":65535,"linkquality":90,"power_on_behavior":"off","state":"OFF"}')
    assert decode(payload, WHITE_SPECTRUM).attributes() == {
        "state": "OFF", "brightness": 254, "color_temp": 234, "color_mode": "color_temp",
        "linkquality": 90,
    }


def test_dimmable_bulb_state() -> None:
    # LED1623G12 exposes state, brightness, power_on_behavior and linkquality
    # (zigbee2mqtt.io/devices/LED1623G12); with OTA checks on Zigbee2MQTT adds `update`.
    payload = (b'{"brightness":127,"linkquality":87,"power_on_behavior":"previous","state":"ON",'
               b'"update":{"installed_version":16777287,"latest_version":16777287,"state":"idle"}}')
    assert decode(payload).attributes() == {"state": "ON", "brightness": 127, "linkquality": 87}


def test_reported_255_and_lowercase_state_are_tolerated() -> None:
    assert decode(b'{"state":"on","brightness":255}').attributes() == {"state": "ON", "brightness": 255}


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b'{"state":"DIMMED"}', "'state' should be one of ON, OFF"),
        (b'{"state":true}', "'state' should be one of ON, OFF"),
        (b'{"brightness":300}', "'brightness' = 300"),
        (b'{"brightness":"50%"}', "'brightness' should be a number"),
        (b'{"color_temp":5000}', "'color_temp' = 5000"),
        (b'{"color_mode":"rainbow"}', "'color_mode'"),
    ],
)
def test_wrong_state_is_payload_error(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        decode(payload)


def test_garbage_is_rejected() -> None:
    assert_rejects_garbage(adapter, DIMMABLE, DIMMABLE.topic)


def test_availability() -> None:
    assert_availability(adapter, DIMMABLE)


# -- commands ---------------------------------------------------------------------------------


def test_on_with_brightness_and_transition() -> None:
    out = encode({"state": "on", "brightness": 156, "transition": 3})
    assert sent_json(out) == {"state": "ON", "brightness": 156, "transition": 3}


def test_off_and_toggle_and_booleans() -> None:
    assert sent_json(encode({"state": "OFF"})) == {"state": "OFF"}
    assert sent_json(encode({"state": "toggle"})) == {"state": "TOGGLE"}
    assert sent_json(encode({"state": True})) == {"state": "ON"}
    assert sent_json(encode({"state": False})) == {"state": "OFF"}


@pytest.mark.parametrize("percent, level", [(0, 0), (1, 3), (50, 127), (100, 254), (33.3, 85)])
def test_brightness_percent_is_converted(percent: float, level: int) -> None:
    assert sent_json(encode({"brightness_percent": percent})) == {"brightness": level}


def test_fractional_transition_is_kept() -> None:
    assert sent_json(encode({"brightness": 10, "transition": 0.5})) == {"brightness": 10, "transition": 0.5}


def test_colour_temperature_on_a_white_spectrum_bulb() -> None:
    # LED2201G8 takes 250..454 mireds (zigbee2mqtt.io/devices/LED2201G8) and named presets.
    assert sent_json(encode({"color_temp": 370, "transition": 1}, WHITE_SPECTRUM)) == {
        "color_temp": 370, "transition": 1,
    }
    assert sent_json(encode({"color_temp": "Warm"}, WHITE_SPECTRUM)) == {"color_temp": "warm"}


@pytest.mark.parametrize(
    "values, reason",
    [
        ({}, "needs at least one of"),
        ({"colour": "red"}, "cannot do 'colour'"),
        ({"state": "DIM"}, "'state' should be one of"),
        ({"state": 1}, "'state' should be one of"),
        ({"brightness": 255}, "'brightness' = 255 is outside 0..254"),
        ({"brightness": -1}, "outside"),
        ({"brightness": 12.5}, "whole number"),
        ({"brightness": "max"}, "'brightness' should be a number"),
        ({"brightness": True}, "'brightness' should be a number"),
        ({"brightness_percent": 101}, "outside 0..100"),
        ({"brightness": 10, "brightness_percent": 10}, "not both"),
        ({"transition": 2}, "needs something to change"),
        ({"state": "ON", "transition": -1}, "'transition' = -1"),
        ({"state": "ON", "transition": 100000}, "'transition'"),
        ({"state": None}, "needs a value"),
        ({"color_temp": 370}, "LED1623G12 has no adjustable colour temperature"),
    ],
)
def test_impossible_commands_are_value_errors(values: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        encode(values)


@pytest.mark.parametrize(
    "value, reason",
    [(200, "'color_temp' = 200 is outside 250..454"), (500, "outside"), (300.5, "whole mireds"),
     ("purple", "should be mireds or one of coolest"), (False, "should be a number")],
)
def test_impossible_colour_temperatures(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        encode({"color_temp": value}, WHITE_SPECTRUM)


def test_warm_white_led2102g3_has_no_colour_temperature() -> None:
    # zigbee2mqtt.io/devices/LED2102G3: light (state, brightness) only.
    spec = DeviceSpec(id="l", topic="zigbee2mqtt/l", model="LED2102G3")
    with pytest.raises(ValueError, match="LED2102G3 has no adjustable colour temperature"):
        encode({"color_temp": 300}, spec)


def test_round_trip_command_to_reported_state() -> None:
    # What we ask for is what Zigbee2MQTT reports back once the bulb got there.
    out = encode({"state": "ON", "brightness_percent": 40, "color_temp": 300}, WHITE_SPECTRUM)
    echoed = decode(out.payload, WHITE_SPECTRUM)
    assert echoed.attributes() == {"state": "ON", "brightness": 102, "color_temp": 300}
