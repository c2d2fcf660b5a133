"""Wander-detection tag located by ESPresense receivers: decoding sightings, deriving the room."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.errors import PayloadError
from devices import KINDS
from devices.base import Command, DeviceSpec, Reading
from devices.tag import OUTSIDE, TagSighting, WanderTag
from tests.devices.common import MALFORMED, refused

SPEC = DeviceSpec(id="wander_tag", topic="espresense/devices/wander_tag")
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
adapter = WanderTag()

# A real ESPresense 4.x report, quoted in the "wheres_allie" project's parser test as
# "copied from data/allie-raw.log (2026-09-28T22:34:11-04:00)", heard by the node 'office'.
# Field names match ESPresense's BleFingerprint::fill() (lib/BleFingerprint/BleFingerprint.cpp).
REAL = (b'{"mac":"dd8800003777","id":"iBeacon:426c7565-4368-6172-6d42-6561636f6e73-3838-4949",'
        b'"rssi@1m":-59,"rssi":-81.10,"rxAdj":0,"rssiVar":7.42,"distance":6.58,"var":4.00,"int":2028}')


def sighting(receiver: str, distance: float, rssi: float | None = -70.0) -> TagSighting:
    return TagSighting(receiver=receiver, distance=distance, rssi=rssi)


def refresh(attrs: dict[str, Any], readings: list[Reading], now: datetime,
            spec: DeviceSpec = SPEC) -> dict[str, Any]:
    return adapter.refresh(spec, attrs, readings, now)


def test_registered_and_subscribes_to_every_receiver() -> None:
    assert KINDS["tag"] is not None and KINDS["tag"].kind == "tag"
    assert adapter.subscriptions(SPEC) == ["espresense/devices/wander_tag/+"]


def test_decodes_a_real_espresense_report() -> None:
    [reading] = adapter.decode(SPEC, "espresense/devices/wander_tag/office", REAL)
    assert reading == TagSighting(
        receiver="office", distance=6.58, rssi=-81.1, mac="dd8800003777",
        id="iBeacon:426c7565-4368-6172-6d42-6561636f6e73-3838-4949", interval=2028.0,
    )


def test_decodes_older_firmware_fields() -> None:
    # Early ESPresense (BleFingerprint::getJson in its 1.x sources) sent id, name, rssi@1m, rssi,
    # mac, raw, distance, speed, first and last. Built with those fields; no verbatim capture
    # was found. `first`/`last` are extras we ignore.
    payload = (b'{"id":"wander_tag","name":"Dwaaltag","rssi@1m":-59,"rssi":-66,'
               b'"mac":"e25f710a139c","raw":2.41,"distance":2.2,"speed":-0.5,'
               b'"first":"2021-06-01T02:00:00","last":"2021-06-01T02:03:10"}')
    [reading] = adapter.decode(SPEC, "espresense/devices/wander_tag/kitchen", payload)
    assert reading == TagSighting(receiver="kitchen", distance=2.2, rssi=-66.0, id="wander_tag",
                                  name="Dwaaltag", mac="e25f710a139c", raw=2.41, speed=-0.5)


@pytest.mark.parametrize(
    "payload, reason",
    [
        (b'{"rssi":-90.5}', "no 'distance'"),
        (b'{"distance":"near"}', "'distance' should be a number"),
        (b'{"distance":-1}', "'distance' = -1"),
        (b'{"distance":5000}', "'distance' = 5000"),
        (b'{"distance":2,"rssi":"-70"}', "'rssi' should be a number"),
        (b'{"distance":2,"rssi":50}', "'rssi' = 50"),
        (b'{"distance":2,"name":42}', "'name' should be a string"),
        (b'{"distance":nan}', "not JSON"),
    ],
)
def test_bad_sightings_are_payload_errors(payload: bytes, reason: str) -> None:
    assert re.search(reason, refused(adapter, SPEC, "espresense/devices/wander_tag/hall", payload))


def test_garbage_is_rejected() -> None:
    for _, payload in MALFORMED:
        with pytest.raises(PayloadError):
            adapter.decode(SPEC, "espresense/devices/wander_tag/hall", payload)


@pytest.mark.parametrize("topic", ["espresense/devices/wander_tag", "espresense/devices/wander_tag/",
                                   "espresense/devices/other_tag/hall"])
def test_topic_without_a_receiver_is_rejected(topic: str) -> None:
    with pytest.raises(PayloadError, match="expected a topic"):
        adapter.decode(SPEC, topic, b'{"distance":1}')


def test_nearest_fresh_receiver_wins() -> None:
    attrs = refresh({}, [sighting("living", 4.2)], T0)
    attrs = refresh(attrs, [sighting("kitchen", 1.3, -60)], T0 + timedelta(seconds=2))
    attrs = refresh(attrs, [sighting("hall", 2.8)], T0 + timedelta(seconds=3))
    assert attrs["room"] == "kitchen"
    assert attrs["receiver"] == "kitchen" and attrs["distance"] == 1.3
    assert attrs["sightings"] == {
        "living": {"room": "living", "distance": 4.2, "rssi": -70.0, "at": T0.isoformat()},
        "kitchen": {"room": "kitchen", "distance": 1.3, "rssi": -60,
                    "at": (T0 + timedelta(seconds=2)).isoformat()},
        "hall": {"room": "hall", "distance": 2.8, "rssi": -70.0,
                 "at": (T0 + timedelta(seconds=3)).isoformat()},
    }


def test_a_newer_sighting_replaces_the_older_one_from_the_same_receiver() -> None:
    attrs = refresh({}, [sighting("kitchen", 1.0), sighting("hall", 3.0)], T0)
    attrs = refresh(attrs, [sighting("kitchen", 5.0)], T0 + timedelta(seconds=5))
    assert attrs["room"] == "hall"
    assert attrs["sightings"]["kitchen"]["distance"] == 5.0


def test_equal_distances_prefer_the_stronger_signal_then_the_name() -> None:
    attrs = refresh({}, [sighting("hall", 2.0, -80), sighting("living", 2.0, -60)], T0)
    assert attrs["room"] == "living"
    attrs = refresh({}, [sighting("living", 2.0, None), sighting("hall", 2.0, None)], T0)
    assert attrs["room"] == "hall"


def test_stale_sightings_expire_and_the_next_nearest_takes_over() -> None:
    attrs = refresh({}, [sighting("bedroom", 0.8)], T0)
    attrs = refresh(attrs, [sighting("hall", 3.5)], T0 + timedelta(seconds=20))
    assert attrs["room"] == "bedroom"
    # The default stale_after is 30 s: exactly 30 s old is still fresh, 31 s is not.
    assert refresh(attrs, [], T0 + timedelta(seconds=30))["room"] == "bedroom"
    later = refresh(attrs, [], T0 + timedelta(seconds=31))
    assert later["room"] == "hall" and list(later["sightings"]) == ["hall"]


def test_outside_unknown_when_nothing_is_fresh() -> None:
    assert refresh({}, [], T0) == {"sightings": {}, "room": OUTSIDE, "receiver": None, "distance": None}
    attrs = refresh({}, [sighting("hall", 1.0)], T0)
    assert refresh(attrs, [], T0 + timedelta(minutes=5)) == {
        "sightings": {}, "room": "outside/unknown", "receiver": None, "distance": None,
    }


def test_stale_after_option() -> None:
    spec = DeviceSpec(id="t", topic=SPEC.topic, options={"stale_after": "2m"})
    attrs = refresh({}, [sighting("hall", 1.0)], T0, spec)
    assert refresh(attrs, [], T0 + timedelta(seconds=119), spec)["room"] == "hall"
    assert refresh(attrs, [], T0 + timedelta(seconds=121), spec)["room"] == OUTSIDE


def test_espresense_rooms_map_to_huis_rooms() -> None:
    spec = DeviceSpec(id="t", topic=SPEC.topic,
                      options={"rooms": {"woonkamer": "living", "keuken-2": "kitchen"}})
    attrs = refresh({}, [sighting("keuken-2", 1.1), sighting("woonkamer", 2.0)], T0, spec)
    assert attrs["room"] == "kitchen" and attrs["receiver"] == "keuken-2"
    assert attrs["sightings"]["woonkamer"]["room"] == "living"
    # Unmapped receivers keep their own name.
    attrs = refresh(attrs, [sighting("garden", 0.5)], T0 + timedelta(seconds=1), spec)
    assert attrs["room"] == "garden"


def test_refresh_is_pure() -> None:
    attrs = refresh({}, [sighting("hall", 1.0)], T0)
    before = copy.deepcopy(attrs)
    first = refresh(attrs, [sighting("kitchen", 0.5)], T0 + timedelta(seconds=40))
    second = refresh(attrs, [sighting("kitchen", 0.5)], T0 + timedelta(seconds=40))
    assert attrs == before  # the state store's dicts are never edited in place
    assert first == second
    assert first["sightings"] is not attrs["sightings"]


def test_unreadable_stored_sightings_are_skipped() -> None:
    attrs = {"sightings": {"hall": {"distance": 1.0, "at": "yesterday"}, "bad": 3,
                           "naive": {"distance": 1.0, "at": "2026-01-05T02:00:00"},
                           "ok": {"distance": 2.0, "rssi": -70, "at": T0.isoformat()}}}
    assert refresh(attrs, [], T0)["room"] == "ok"
    assert refresh({"sightings": "corrupt"}, [], T0)["room"] == OUTSIDE


@pytest.mark.parametrize(
    "options, reason",
    [
        ({"stale_after": "soon"}, "options.stale_after"),
        ({"stale_after": 0}, "longer than 0s"),
        ({"rooms": ["hall"]}, "options.rooms"),
        ({"rooms": {"hall": 3}}, "options.rooms"),
    ],
)
def test_bad_options_are_refused_at_start_up(options: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        adapter.subscriptions(DeviceSpec(id="t", topic=SPEC.topic, options=options))


def test_takes_no_commands() -> None:
    with pytest.raises(ValueError):
        adapter.encode(SPEC, Command(device="wander_tag", values={"beep": True}))
