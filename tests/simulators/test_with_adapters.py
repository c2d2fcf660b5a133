"""What the simulators publish, the hub's real device adapters understand; what the hub
commands, the simulators obey. (In memory: the wire is tested on mosquitto elsewhere.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.events import Context
from huis.compose import build_hub
from simulators.connection import MemoryBus
from simulators.home import SimulatedHome
from simulators.story_scripts import STORIES


async def test_a_simulated_day_decodes_without_a_single_payload_error(demo_config: HomeConfig) -> None:
    clock = VirtualClock(datetime(2026, 1, 6, 2, 0, tzinfo=UTC))  # 03:00 in Zwolle
    bus = MemoryBus()
    hub = build_hub(demo_config, clock, bus)
    bus.subscribe("#", hub.handle_message)
    home = SimulatedHome(demo_config, clock)
    ctx = Context(origin="test")
    async with asyncio.TaskGroup() as tg:
        home.start(bus, tg)
        assert hub.state.get("bed_sensor").attributes["occupancy"] is True
        for name, story in STORIES.items():
            playing = tg.create_task(home.play(name))
            await clock.advance(story.duration)
            await playing
        await clock.advance(hours=12)  # heartbeats, dispenser schedule, battery drain
        hub.command("hall_light", {"state": "ON", "brightness": 100}, ctx)
        hub.command("bedroom_curtain", {"position": 40}, ctx)
        await clock.advance(minutes=1)
        home["wander_tag"].move_to("kitchen")
        await clock.advance(seconds=40)  # until the living-room sightings are stale
        home["sos_button"].press()
        await clock.wait_idle()

        assert hub.payload_errors == 0
        state = {st.device: st for st in hub.state.all()}
        assert all(st.available for st in state.values()), [d for d, s in state.items() if not s.available]
        assert state["hall_light"].attributes["state"] == "ON"
        assert state["hall_light"].attributes["brightness"] == 100
        assert state["bedroom_curtain"].attributes["position"] == 40
        assert state["wander_tag"].attributes["room"] == "kitchen"
        home.stop()
    # A clean stop says offline for every device that has availability (a BLE tag has none).
    assert [st.device for st in hub.state.all() if st.available] == ["wander_tag"]
