"""When does the hub call a device offline? Silence rules per power source and protocol."""

from __future__ import annotations

from controller.clock import VirtualClock
from controller.hub import Hub


async def test_a_silent_zigbee_light_stays_online(hub: Hub, clock: VirtualClock) -> None:
    # A mains light sends nothing while nobody touches it; that is not a fault.
    hub.inject("zigbee2mqtt/hall_light", {"state": "OFF", "brightness": 0})
    await clock.advance(hours=30)
    hub.check_health()
    assert hub.state.get("hall_light").available is True


async def test_a_battery_sensor_silent_for_25_hours_goes_offline(hub: Hub, clock: VirtualClock) -> None:
    hub.inject("zigbee2mqtt/hall_motion", {"occupancy": False, "battery": 80})
    await clock.advance(hours=25)
    hub.check_health()
    assert hub.state.get("hall_motion").available is True
    await clock.advance(seconds=1)
    hub.check_health()
    st = hub.state.get("hall_motion")
    assert st.available is False
    hub.inject("zigbee2mqtt/hall_motion", {"occupancy": True})
    assert st.available is True


async def test_zigbee2mqtt_availability_is_trusted_over_silence(hub: Hub, clock: VirtualClock) -> None:
    hub.inject("zigbee2mqtt/front_door/availability", {"state": "online"})
    hub.inject("zigbee2mqtt/front_door", {"contact": True})
    await clock.advance(hours=48)
    hub.check_health()
    assert hub.state.get("front_door").available is True
    hub.inject("zigbee2mqtt/front_door/availability", {"state": "offline"})
    assert hub.state.get("front_door").available is False


async def test_a_heartbeat_protocol_device_is_offline_after_10_silent_minutes(hub: Hub, clock: VirtualClock) -> None:
    hub.inject("huis/speaker/speaker/state", {"volume": 40, "speaking": False})
    await clock.advance(minutes=10)
    hub.check_health()
    assert hub.state.get("speaker").available is True
    await clock.advance(seconds=1)
    hub.check_health()
    assert hub.state.get("speaker").available is False
