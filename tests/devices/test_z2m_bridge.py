"""Zigbee2MQTT's bridge topics as huis reads them, and the home.yaml proposals made from them.

Payloads are Zigbee2MQTT's own: the motion sensor entry is a real `bridge/devices` entry as
Zigbee2MQTT publishes it (captured from a running install, exposes and options as they were),
the others follow zigbee2mqtt.io's "MQTT topics and messages" page for 2.x.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller.config import HomeConfig
from devices import KINDS
from devices.onboarding import NoAdapter, propose, render, slug
from devices.z2m_bridge import Bridge, adapter_for, looks_like, parse_devices, parse_event, permit_payload
from huis.compose import load_home
from tests.integration.conftest import demo_home

NOW = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
DATA = Path(__file__).resolve().parents[1] / "data" / "z2m_bridge_devices.json"


@pytest.fixture(scope="module")
def listing() -> bytes:
    return DATA.read_bytes()


@pytest.fixture
def bridge(listing: bytes) -> Bridge:
    b = Bridge()
    b.handle("zigbee2mqtt/bridge/devices", listing, NOW)
    return b


def test_the_device_list_is_read_with_model_vendor_and_exposes(listing: bytes) -> None:
    devices = {d.ieee: d for d in parse_devices(listing)}
    motion = devices["0x00158d000411086c"]
    assert (motion.model, motion.vendor, motion.model_id, motion.type) == (
        "RTCGQ11LM", "Xiaomi", "lumi.sensor_motion.aq2", "EndDevice")
    assert motion.description == "Aqara human body movement and illuminance sensor"
    assert motion.exposes == ("battery", "occupancy", "device_temperature", "voltage", "illuminance",
                              "power_outage_count", "linkquality")
    assert motion.supported and motion.interview_completed
    bulb = devices["0x000b57fffec6a5b2"]
    assert bulb.expose_types == ("light",) and "brightness" in bulb.exposes and "color_temp" in bulb.exposes
    unknown = devices["0x00169a00022256da"]
    assert (unknown.supported, unknown.model, unknown.exposes) == (False, None, ())


def test_what_the_home_does_not_know_leaves_out_the_coordinator_and_known_names(
        bridge: Bridge, demo_config: HomeConfig) -> None:
    new = [d.ieee for d in bridge.new_devices(demo_config)]
    # front_door and hall_light are the demo home's own (friendly name = device id).
    assert new == ["0x00158d000411086c", "0x00158d0002b4f1a7", "0x000b57fffec6a5b2", "0x00169a00022256da"]
    assert bridge.heard_devices == NOW


def test_models_are_matched_to_adapters_and_the_rest_named(bridge: Bridge) -> None:
    devices = bridge.devices
    assert adapter_for("RTCGQ11LM", KINDS) == "motion"
    assert adapter_for("LED1545G12", KINDS) == "light"
    assert adapter_for("SJCGQ11LM", KINDS) is None  # a water leak sensor: no adapter
    assert adapter_for("LED1624G9", KINDS) is None  # an IKEA colour bulb huis does not list
    assert looks_like(devices["0x000b57fffec6a5b2"]) == "light"
    assert looks_like(devices["0x00158d0002b4f1a7"]) is None


def test_a_bad_list_is_counted_and_the_last_good_one_kept(bridge: Bridge) -> None:
    bridge.handle("zigbee2mqtt/bridge/devices", b'{"not": "a list"}', NOW)
    bridge.handle("zigbee2mqtt/bridge/devices", b"[1, 2", NOW)
    assert bridge.problems == 2 and "JSON" in (bridge.last_problem or "")
    assert len(bridge.devices) == 7


def test_join_events_are_kept_and_a_leave_drops_the_device(bridge: Bridge) -> None:
    for payload in (
        b'{"type":"device_joined","data":{"friendly_name":"0x90fd9ffffe6494fc","ieee_address":"0x90fd9ffffe6494fc"}}',
        b'{"type":"device_interview","data":{"friendly_name":"0x90fd9ffffe6494fc","status":"started",'
        b'"ieee_address":"0x90fd9ffffe6494fc"}}',
        b'{"type":"device_leave","data":{"ieee_address":"0x00158d0002b4f1a7","friendly_name":"0x00158d0002b4f1a7"}}',
    ):
        bridge.handle("zigbee2mqtt/bridge/event", payload, NOW)
    assert [(e.type, e.status) for e in bridge.events] == [
        ("device_joined", None), ("device_interview", "started"), ("device_leave", None)]
    assert "0x00158d0002b4f1a7" not in bridge.devices
    event = parse_event(b'{"type":"device_announce","data":{"friendly_name":"x","ieee_address":"0x1"}}', NOW)
    assert event.as_dict()["type"] == "device_announce"
    bridge.handle("zigbee2mqtt/bridge/event", b'{"type":"device_renamed","data":{}}', NOW)
    assert bridge.problems == 1


def test_permit_join_asks_with_time_and_follows_the_answer_to_its_own_request() -> None:
    bridge = Bridge()
    topic, payload = bridge.request_permit(120, NOW)
    assert topic == "zigbee2mqtt/bridge/request/permit_join"
    tx = bridge.permit.transaction
    assert json.loads(payload) == {"time": 120, "transaction": tx}
    assert bridge.permit.as_dict(NOW)["status"] is None
    # Someone else's request (Zigbee2MQTT's frontend) is not ours.
    bridge.handle("zigbee2mqtt/bridge/response/permit_join",
                  b'{"data":{"time":254},"status":"ok","transaction":"fe-1"}', NOW)
    assert bridge.permit.status is None
    bridge.handle("zigbee2mqtt/bridge/response/permit_join",
                  json.dumps({"data": {"time": 120}, "status": "ok", "transaction": tx}).encode(), NOW)
    state = bridge.permit.as_dict(NOW + timedelta(seconds=20))
    assert (state["status"], state["open"], state["seconds_left"]) == ("ok", True, 100)
    assert bridge.permit.as_dict(NOW + timedelta(seconds=121))["open"] is False
    bridge.request_permit(30, NOW)
    bridge.handle("zigbee2mqtt/bridge/response/permit_join",
                  b'{"data":{},"error":"Failed to connect to adapter","status":"error"}', NOW)
    assert (bridge.permit.status, bridge.permit.error) == ("error", "Failed to connect to adapter")


@pytest.mark.parametrize("seconds", [-1, 255, True, 1.5])
def test_permit_join_time_is_0_to_254_whole_seconds(seconds: object) -> None:
    with pytest.raises(ValueError, match="0..254"):
        permit_payload(seconds, "t")  # type: ignore[arg-type]


def test_a_proposal_is_checked_as_huis_check_does_and_never_written(bridge: Bridge, tmp_path: Path) -> None:
    home = demo_home(tmp_path)
    cfg = load_home(home)
    before = home.read_bytes()
    motion = bridge.devices["0x00158d000411086c"]
    p = propose(motion, cfg, KINDS, room="hall", name="Beweging hal 2")
    assert p.ok, p.problems
    assert p.entry == {"kind": "motion", "model": "RTCGQ11LM", "room": "hall", "name": "Beweging hal 2",
                       "topic": "zigbee2mqtt/0x00158d000411086c"}
    assert p.yaml == ("beweging_hal_2: {kind: motion, model: RTCGQ11LM, room: hall, name: Beweging hal 2, "
                      "topic: zigbee2mqtt/0x00158d000411086c}")
    bad = propose(motion, cfg, KINDS, room="zolder", name="Beweging")
    assert [(x.path, x.message) for x in bad.problems] == [("devices.beweging.room", "unknown room 'zolder'")]
    taken = propose(motion, cfg, KINDS, room="hall", device_id="hall_motion")
    assert "'hall_motion' is already a device of this home" in [x.message for x in taken.problems]
    with pytest.raises(NoAdapter, match="SJCGQ11LM: no adapter"):
        propose(bridge.devices["0x00158d0002b4f1a7"], cfg, KINDS, room="kitchen")
    assert home.read_bytes() == before


def test_ids_and_yaml_read_like_the_demo_home() -> None:
    assert slug("Beweging hal (2)") == "beweging_hal_2"
    assert slug("2e lamp") == "device_2e_lamp"
    assert render("hall_motion_2", {"kind": "motion", "name": "Hal: beweging"}) == \
        "hall_motion_2: {kind: motion, name: 'Hal: beweging'}"
