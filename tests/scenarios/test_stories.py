"""The demo's stories, played by the simulated home, through the hub and the shipped scenarios.

Everything in one process on one virtual clock: the simulators publish on an in-memory bus as
they would on mosquitto, the hub decodes those messages, the engine runs `scenarios/`, and the
hub's commands go back over the same bus to the simulated lights and speaker.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

from controller.clock import VirtualClock
from controller.config import HomeConfig
from simulators.connection import MemoryBus
from simulators.home import SimulatedHome
from simulators.story_scripts import STORIES

from .conftest import Home, local_time


class BusLink:
    """The hub's link onto the simulators' in-memory bus."""

    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self.bus.send(topic, payload, qos=qos, retain=retain)


@contextlib.asynccontextmanager
async def demo(config: HomeConfig, start: datetime, tmp_path: Path) -> AsyncIterator[tuple[Home, SimulatedHome]]:
    clock = VirtualClock(start)
    home = Home(config, clock, tmp_path / "huis.db")
    bus = MemoryBus()
    timed = home.link

    class Both(BusLink):
        def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
            timed.send(topic, payload, qos=qos, retain=retain)  # recorded for the assertions
            super().send(topic, payload, qos=qos, retain=retain)

    home.hub.link = Both(bus)
    bus.subscribe("#", home.hub.handle_message)
    await home.start()
    sims = SimulatedHome(config, clock)
    async with asyncio.TaskGroup() as tg:
        health = tg.create_task(home.hub.health_loop(), name="health")
        sims.start(bus, tg)
        await clock.advance(seconds=5)
        try:
            yield home, sims
        finally:
            sims.stop()
            health.cancel()
            await home.stop()


async def play(home: Home, sims: SimulatedHome, name: str) -> None:
    player = asyncio.create_task(sims.play(name))
    await home.clock.advance(STORIES[name].duration)
    await player


def out_of_bed(name: str) -> timedelta:
    """How long the story keeps her out of bed (the stories are the simulators' to tune)."""
    steps = [s for s in STORIES[name].steps if s.device in ("bed", "bed_sensor") and "occupancy" in s.set]
    out = next(s.at for s in steps if s.set["occupancy"] is False)
    back = next(s.at for s in steps if s.set["occupancy"] is True and s.at > out)
    return back - out


async def test_night_exit_story(demo_config: HomeConfig, tmp_path: Path) -> None:
    async with demo(demo_config, local_time(6, 2), tmp_path) as (home, sims):
        mark = home.mark()
        await play(home, sims, "night_exit")
        await home.wait(minutes=30)
        # Orientation light on the way out and off again on return, whatever the story's length.
        assert [c["state"] for c in home.commands("bathroom_light", mark)] == ["ON", "OFF"]
        if out_of_bed("night_exit") >= timedelta(minutes=10):
            assert home.alerts()[0][1:] == ("raised", "night_exit.bed_empty")
            assert home.alerts()[1][1:] == ("resolved", "night_exit.bed_empty")
            assert len(home.alerts()) == 2
        else:
            assert home.raised() == []


async def test_night_exit_door_story_is_urgent_twice(demo_config: HomeConfig, tmp_path: Path) -> None:
    async with demo(demo_config, local_time(6, 2), tmp_path) as (home, sims):
        await play(home, sims, "night_exit_door")
        await home.wait(minutes=30)
        assert home.raised() == ["night_exit.door", "wander.left_home"]
        assert all(r.severity == "urgent" for r in home.sink.raised())


async def test_wandering_story_by_day(demo_config: HomeConfig, tmp_path: Path) -> None:
    async with demo(demo_config, local_time(6, 15), tmp_path) as (home, sims):
        await play(home, sims, "wandering")
        assert home.raised() == ["wander.left_home"]
        assert home.sink.raised()[0].message.endswith("laatst gezien in: Hal.")


async def test_missed_medication_story(demo_config: HomeConfig, tmp_path: Path) -> None:
    async with demo(demo_config, local_time(6, 10), tmp_path) as (home, sims):
        await play(home, sims, "missed_medication")
        assert len(home.said("medicijnen")) == 2
        assert [k for k in home.raised() if k.startswith("medication")] == [
            k for k in home.raised() if k.startswith("medication.missed.")]
        assert len([k for k in home.raised() if k.startswith("medication.missed.")]) == 1
