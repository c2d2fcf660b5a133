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


async def test_a_state_report_after_a_command_carries_the_command_as_its_cause(
        hub: Hub, clock: VirtualClock) -> None:
    from controller.events import STATE_CHANGED, Context, Event

    seen: list[Event] = []
    hub.bus.subscribe(seen.append, STATE_CHANGED)
    because = Context(origin="scenario:night_exit_lights", description="out of bed at night")
    hub.command("bathroom_light", {"state": "ON", "brightness": 25}, because)
    await clock.advance(seconds=1)
    hub.inject("zigbee2mqtt/bathroom_light", {"state": "ON", "brightness": 25})
    assert seen[-1].context.parent is because
    # Much later, a report is the device's own doing again.
    await clock.advance(seconds=10)
    hub.inject("zigbee2mqtt/bathroom_light", {"state": "OFF"})
    assert seen[-1].context.parent is None


def test_freeze_after_start_freezes_the_survivors_of_full_collections_only() -> None:
    import gc

    from controller.hub import freeze_after_start

    before = gc.get_freeze_count()
    callback = freeze_after_start(full_collections=1)
    try:
        gc.collect(1)  # not a full collection: nothing frozen
        assert gc.get_freeze_count() == before
        gc.collect()
        frozen = gc.get_freeze_count()
        assert frozen > before
        gc.collect()  # its one full collection is used up
        assert gc.get_freeze_count() == frozen
    finally:
        gc.callbacks.remove(callback)
        gc.unfreeze()
