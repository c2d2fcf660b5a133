"""Aqara ZNCLDJ12LM curtain motor through Zigbee2MQTT."""

from __future__ import annotations

import pytest

from controller.errors import PayloadError
from devices import KINDS
from devices.base import Command, DeviceSpec, Outgoing
from devices.curtain import Curtain, CurtainReading
from tests.devices.common import assert_availability, assert_rejects_garbage, sent_json

SPEC = DeviceSpec(id="living_curtain", topic="zigbee2mqtt/living_curtain", model="ZNCLDJ12LM")
adapter = Curtain()


def decode(payload: bytes) -> CurtainReading:
    [reading] = adapter.decode(SPEC, SPEC.topic, payload)
    assert isinstance(reading, CurtainReading)
    return reading


def encode(values: dict[str, object]) -> Outgoing:
    [out] = adapter.encode(SPEC, Command(device=SPEC.id, values=values))
    assert (out.topic, out.qos, out.retain) == ("zigbee2mqtt/living_curtain/set", 1, False)
    return out


def test_registered() -> None:
    assert KINDS["curtain"].models == ("ZNCLDJ12LM",)
    assert KINDS["curtain"].power == "mains"


def test_moving_and_stopped() -> None:
    # Koenkk/zigbee2mqtt#3652 "Xiaomi ZNCLDJ12LM curtain position and running status".
    moving = decode(b'{"position":2,"running":true,"linkquality":102,'
                    b'"last_seen":"2020-06-01T13:48:10.711Z"}')
    assert moving.attributes() == {"position": 2, "running": True, "linkquality": 102}
    stopped = decode(b'{"position":0,"running":false,"linkquality":102,'
                     b'"last_seen":"2020-06-01T13:48:10.933Z","elapsed":218}')
    assert stopped.attributes() == {"position": 0, "running": False, "linkquality": 102}


def test_with_battery_pack_and_options() -> None:
    # Koenkk/zigbee-herdsman-converters#1427 (ZNCLDJ12LM): battery as a float, `options` echoed.
    payload = (b'{"position":16,"running":false,"linkquality":47,'
               b'"options":{"reverse_direction":false,"hand_open":false},"battery":50.5}')
    assert decode(payload).attributes() == {
        "position": 16, "running": False, "battery": 50, "linkquality": 47,
    }


def test_current_exposes() -> None:
    # zigbee2mqtt.io/devices/ZNCLDJ12LM: cover (state, position), battery, running, motor_state.
    payload = b'{"state":"OPEN","position":100,"running":false,"motor_state":"stopped","linkquality":72}'
    assert decode(payload).attributes() == {
        "state": "OPEN", "position": 100, "running": False, "motor_state": "stopped",
        "linkquality": 72,
    }
    assert decode(b'{"state":"close","motor_state":"CLOSING"}').attributes() == {
        "state": "CLOSE", "motor_state": "closing",
    }


def test_leftover_light_state_is_dropped_not_fatal() -> None:
    # nurikk/zigbee2mqtt-frontend#1517 (ZNCLDJ11LM): "state": "OFF" next to a good position,
    # and motor_state/running null (Koenkk/zigbee2mqtt#15873).
    payload = (b'{"device_temperature":38,"linkquality":175,"motor_state":"stopped",'
               b'"options":{"hand_open":true,"reverse_direction":false},"position":0,'
               b'"power_outage_count":14,"running":false,"state":"OFF","update":{"state":"idle"}}')
    assert decode(payload).attributes() == {
        "position": 0, "running": False, "motor_state": "stopped", "linkquality": 175,
    }
    assert decode(b'{"motor_state":null,"position":100,"running":null}').attributes() == {"position": 100}


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b'{"position":101}', "'position' = 101"),
        (b'{"position":-5}', "'position' = -5"),
        (b'{"position":"half"}', "'position' should be a number"),
        (b'{"state":"HALF"}', "'state' should be one of OPEN, CLOSE, STOP"),
        (b'{"running":"yes"}', "'running' should be true or false"),
        (b'{"motor_state":"spinning"}', "'motor_state'"),
    ],
)
def test_wrong_state_is_payload_error(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        decode(payload)


def test_garbage_is_rejected() -> None:
    assert_rejects_garbage(adapter, SPEC, SPEC.topic)


def test_availability() -> None:
    assert_availability(adapter, SPEC)


@pytest.mark.parametrize("state", ["OPEN", "CLOSE", "STOP", "open", "Stop"])
def test_state_commands(state: str) -> None:
    assert sent_json(encode({"state": state})) == {"state": state.upper()}


@pytest.mark.parametrize("position", [0, 40, 100, 40.0])
def test_position_commands(position: float) -> None:
    assert sent_json(encode({"position": position})) == {"position": int(position)}


@pytest.mark.parametrize(
    "values, reason",
    [
        ({}, "needs at least one of"),
        ({"state": "OPEN", "position": 50}, "not both"),
        ({"state": "UP"}, "'state' should be one of OPEN, CLOSE, STOP"),
        ({"position": 101}, "outside 0..100"),
        ({"position": -1}, "outside"),
        ({"position": 33.3}, "whole percentage"),
        ({"position": "50"}, "should be a number"),
        ({"position": None}, "needs a value"),
        ({"tilt": 10}, "cannot do 'tilt'"),
    ],
)
def test_impossible_commands_are_value_errors(values: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        encode(values)


def test_round_trip_position() -> None:
    assert decode(encode({"position": 40}).payload).position == 40
    assert decode(encode({"state": "close"}).payload).state == "CLOSE"
