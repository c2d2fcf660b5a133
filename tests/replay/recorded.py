"""A short recorded night, played through a hub so its history has something to export."""

from __future__ import annotations

from controller.clock import VirtualClock
from controller.hub import Hub


async def record_a_night(hub: Hub, clock: VirtualClock) -> None:
    """23:00 in bed; 02:00 out; 02:02 the front door; 02:20 back in bed; 02:25 SOS (local)."""
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True, "battery": 90})
    await clock.advance(hours=3)
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False, "battery": 90})
    await clock.advance(minutes=2)
    hub.inject("zigbee2mqtt/front_door", {"contact": False})
    await clock.advance(minutes=18)
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True})
    await clock.advance(minutes=5)
    hub.inject("zigbee2mqtt/sos_button", {"action": "emergency"})
    await clock.advance(minutes=5)
