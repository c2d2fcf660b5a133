"""Zigbee2MQTT itself going offline (`zigbee2mqtt/bridge/state`) is one technician notice at once,
for the bridge rather than one per device behind it (issue 12), through the device-health
scenarios, and its coming back clears it (issue 14, item 6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.clock import VirtualClock
from controller.config import HomeConfig
from tests.scenarios.conftest import Home

BRIDGED = ["back_door", "bathroom_light", "bathroom_motion", "bed_sensor", "bedroom_curtain", "bedroom_light",
           "bedroom_motion", "front_door", "hall_light", "hall_motion", "kitchen_light", "kitchen_motion",
           "living_curtain", "living_light", "living_motion", "sos_button"]


@pytest.fixture
async def home(demo_config: HomeConfig, clock: VirtualClock, tmp_path: Path) -> AsyncIterator[Home]:
    h = Home(demo_config, clock, tmp_path / "huis.db")
    await h.start()
    h.settle_in(in_bed=False, room="living")
    await h.wait(seconds=1)
    try:
        yield h
    finally:
        await h.stop()


def test_the_hub_listens_to_the_bridge(home: Home) -> None:
    assert "zigbee2mqtt/bridge/state" in home.hub.subscriptions()


@pytest.mark.parametrize("offline", [b'{"state":"offline"}', b"offline"])
async def test_the_bridge_offline_is_one_technician_notice_and_online_clears_it(home: Home, offline: bytes) -> None:
    home.hub.inject("zigbee2mqtt/bridge/state", b'{"state":"online"}')  # retained, at every connect
    await home.wait(seconds=1)
    assert home.raised() == []
    home.hub.inject("zigbee2mqtt/bridge/state", offline)
    await home.wait(seconds=1)
    # One notice for the bridge, not sixteen: each device behind it is offline all the same.
    notices = [r for r in home.sink.raised() if r.key.startswith("health.offline.")]
    assert [r.key for r in notices] == ["health.offline.zigbee2mqtt"]
    assert {(r.severity, r.audience) for r in notices} == {("info", "technician")}
    assert "Zigbee2MQTT" in notices[0].message
    assert all(home.hub.state.get(d).available is False for d in BRIDGED)
    # Devices that do not go through Zigbee2MQTT are still heard.
    assert home.hub.state.get("dispenser").available is not False
    home.hub.inject("zigbee2mqtt/bridge/state", b"online")
    await home.wait(seconds=1)
    resolved = [key for _, action, key in home.alerts() if action == "resolved"]
    assert resolved == ["health.offline.zigbee2mqtt"]
    assert all(home.hub.state.get(d).available for d in BRIDGED)


async def test_a_device_already_offline_keeps_its_own_notice_through_a_bridge_outage(home: Home) -> None:
    home.hub.inject("zigbee2mqtt/front_door/availability", b'{"state":"offline"}')
    await home.wait(seconds=1)
    assert [r.key for r in home.sink.raised()] == ["health.offline.front_door"]
    home.hub.inject("zigbee2mqtt/bridge/state", b"offline")
    home.hub.inject("zigbee2mqtt/bridge/state", b"online")
    await home.wait(seconds=1)
    keys = [r.key for r in home.sink.raised()]
    assert keys == ["health.offline.front_door", "health.offline.zigbee2mqtt"]
    assert home.hub.state.get("front_door").available is False  # the bridge did not bring it back
    assert [key for _, action, key in home.alerts() if action == "resolved"] == ["health.offline.zigbee2mqtt"]


async def test_a_bridge_state_that_says_neither_changes_nothing(home: Home) -> None:
    home.hub.inject("zigbee2mqtt/bridge/state", b'{"state":"maybe"}')
    await home.wait(seconds=1)
    assert home.raised() == []
    assert home.hub.subscriptions().count("zigbee2mqtt/bridge/state") == 1  # the rule is in place
