"""Engine test fixtures: a small home, a hub on an in-memory link, a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.engine import Engine, Trace, load_scenario_text
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink, MemoryLink
from huis.compose import Parts, build_hub

HOME: dict[str, Any] = {
    "home": {"name": "Testhuis", "language": "nl"},
    "rooms": {
        "bedroom": {"name": "Slaapkamer", "area": [0, 0, 1, 1]},
        "bathroom": {"name": "Badkamer", "area": [1, 0, 1, 1]},
        "hall": {"name": "Hal", "area": [2, 0, 1, 1]},
        "living": {"name": "Woonkamer", "area": [3, 0, 1, 1]},
        "kitchen": {"name": "Keuken", "area": [4, 0, 1, 1]},
    },
    "devices": {
        "bed_sensor": {"kind": "bed", "room": "bedroom", "name": "Bed"},
        "front_door": {"kind": "contact", "room": "hall", "name": "Voordeur"},
        "bedroom_motion": {"kind": "motion", "room": "bedroom"},
        "hall_motion": {"kind": "motion", "room": "hall"},
        "living_motion": {"kind": "motion", "room": "living"},
        "bedroom_light": {"kind": "light", "model": "LED2201G8", "room": "bedroom"},
        "bathroom_light": {"kind": "light", "model": "LED2201G8", "room": "bathroom"},
        "hall_light": {"kind": "light", "model": "LED1623G12", "room": "hall"},
        "bedroom_curtain": {"kind": "curtain", "room": "bedroom"},
        "speaker": {"kind": "speaker", "room": "living"},
        "wander_tag": {"kind": "tag"},
        "dispenser": {"kind": "dispenser", "room": "kitchen"},
        "sos_button": {"kind": "sos", "room": "living"},
    },
    "resident": {"pseudonym": "Mevrouw Jansen"},
    "caregivers": {"anna": {"name": "Anna"}, "team": {"name": "Zorgteam"}},
}


@pytest.fixture
def home() -> HomeConfig:
    return HomeConfig.model_validate(HOME)


@pytest.fixture
def hub(home: HomeConfig, clock: VirtualClock) -> Hub:
    return build_hub(home, clock, MemoryLink())


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.connect(tmp_path / "huis.db")
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def sink() -> MemoryAlertSink:
    return MemoryAlertSink()


@contextlib.asynccontextmanager
async def running(engine: Engine) -> AsyncIterator[Engine]:
    """Run the engine as a task (as hub.run would) until the block ends."""
    task = asyncio.create_task(engine.run(), name="engine")
    ready = asyncio.create_task(engine.ready.wait())
    await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()
    try:
        yield engine
    finally:
        task.cancel()
        ready.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def engine_for(hub: Hub, db: Database, sink: MemoryAlertSink, text: str,
               overrides: dict[str, dict[str, Any]] | None = None) -> Engine:
    scenarios = load_scenario_text(text, hub.config, hub.kinds, "test.yaml", overrides)
    return Parts(config=hub.config, scenarios=scenarios, paths=()).engine(hub, db, sink)


def sent(hub: Hub, topic: str) -> list[Any]:
    """JSON payloads sent to `topic`, in order."""
    link = hub.link
    assert isinstance(link, MemoryLink)
    return [json.loads(p) for t, p, *_ in link.sent if t == topic]


def bed(hub: Hub, occupied: bool) -> None:
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": occupied})


def door(hub: Hub, is_open: bool) -> None:
    hub.inject("zigbee2mqtt/front_door", {"contact": not is_open})


TZ = ZoneInfo("Europe/Amsterdam")


def local(clock: VirtualClock) -> datetime:
    return clock.now().astimezone(TZ)


async def advance_to(clock: VirtualClock, hhmm: str) -> None:
    """Advance to the next local `hh:mm` (today if still ahead, else tomorrow)."""
    h, mi = (int(x) for x in hhmm.split(":"))
    now = local(clock)
    target = now.replace(hour=h, minute=mi, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    await clock.run_until(target.astimezone(UTC))


async def traces_of(engine: Engine, scenario: str) -> list[Trace]:
    """Traces of a scenario, oldest first."""
    return list(reversed(await engine.traces(scenario, limit=200)))
