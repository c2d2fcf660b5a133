"""Announcement speaker in huis's own MQTT convention (docs/devices.md, "Speaker")."""

from __future__ import annotations

import json

import pytest

from controller.errors import PayloadError
from devices import KINDS
from devices.base import Command, DeviceSpec, Outgoing
from devices.speaker import Speaker, SpeakerReading
from tests.devices.common import assert_availability, assert_rejects_garbage, sent_json

# device_topic() does not know speakers yet, so the topic is given explicitly, as a home.yaml
# entry with `topic: huis/speaker/kitchen_speaker` would.
SPEC = DeviceSpec(id="kitchen_speaker", topic="huis/speaker/kitchen_speaker")
adapter = Speaker()


def encode(values: dict[str, object], spec: DeviceSpec = SPEC) -> Outgoing:
    [out] = adapter.encode(spec, Command(device=spec.id, values=values))
    assert out.qos == 1 and out.retain is False
    return out


def test_registered() -> None:
    assert KINDS["speaker"].power == "mains"
    assert adapter.subscriptions(SPEC) == ["huis/speaker/kitchen_speaker/state",
                                          "huis/speaker/kitchen_speaker/availability"]


def test_say_goes_to_the_say_topic() -> None:
    out = encode({"say": "De voordeur staat open.", "language": "nl"})
    assert out.topic == "huis/speaker/kitchen_speaker/say"
    assert sent_json(out) == {"say": "De voordeur staat open.", "language": "nl"}


def test_non_ascii_text_is_sent_as_utf8() -> None:
    out = encode({"say": "Tijd voor uw medicijnen, mevrouw Jansen. Één tablet."})
    assert "Één".encode() in out.payload
    assert json.loads(out.payload)["language"] == "nl"


def test_default_language_from_options_and_one_off_volume() -> None:
    spec = DeviceSpec(id="s", topic="huis/speaker/s", options={"language": "en"})
    assert sent_json(encode({"say": "  Front door is open  ", "volume": 70}, spec)) == {
        "say": "Front door is open", "language": "en", "volume": 70,
    }


def test_volume_alone_goes_to_set() -> None:
    out = encode({"volume": 40})
    assert out.topic == "huis/speaker/kitchen_speaker/set"
    assert sent_json(out) == {"volume": 40}


@pytest.mark.parametrize(
    "values, reason",
    [
        ({}, "needs at least one of"),
        ({"say": ""}, "'say' should be the text"),
        ({"say": "   "}, "'say' should be the text"),
        ({"say": 42}, "'say' should be the text"),
        ({"say": "x" * 501}, "at most 500"),
        ({"say": "Hallo", "language": "Nederlands"}, "language code"),
        ({"say": "Hallo", "language": 31}, "language code"),
        ({"say": "Hallo", "language": "nl\n"}, "language code"),
        ({"language": "nl"}, "only goes with 'say'"),
        ({"volume": 101}, "outside 0..100"),
        ({"volume": 33.3}, "whole percentage"),
        ({"say": "Hallo", "volume": "loud"}, "'volume' should be a number"),
        ({"play": "alarm.mp3"}, "cannot do 'play'"),
    ],
)
def test_impossible_commands_are_value_errors(values: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        encode(values)


def test_state() -> None:
    [reading] = adapter.decode(SPEC, "huis/speaker/kitchen_speaker/state",
                               b'{"volume":40,"speaking":true,"uptime":3600}')
    assert reading == SpeakerReading(volume=40, speaking=True)


@pytest.mark.parametrize(
    "payload, reason",
    [(b'{"volume":140}', "'volume' = 140"), (b'{"speaking":"yes"}', "'speaking' should be true")],
)
def test_bad_state_is_payload_error(payload: bytes, reason: str) -> None:
    with pytest.raises(PayloadError, match=reason):
        adapter.decode(SPEC, "huis/speaker/kitchen_speaker/state", payload)


def test_garbage_and_foreign_topics_are_rejected() -> None:
    assert_rejects_garbage(adapter, SPEC, "huis/speaker/kitchen_speaker/state")
    with pytest.raises(PayloadError, match="not a speaker topic"):
        adapter.decode(SPEC, "huis/speaker/kitchen_speaker/say", b'{"text":"echo"}')


def test_availability() -> None:
    assert_availability(adapter, SPEC)
