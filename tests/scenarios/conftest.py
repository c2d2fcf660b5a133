"""The shipped scenarios against the demo home: a harness that plays the home's devices.

Every test runs the real files in `scenarios/` on a hub over a MemoryLink, with a VirtualClock,
a real SQLite file in tmp_path and a RecordingAlertSink that publishes alert events on the bus
as the alert subsystem does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.engine import Engine, Trace
from controller.store import Database
from controller.testing import MemoryLink, RecordingAlertSink
from huis.compose import Parts, build_hub

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
TZ = ZoneInfo("Europe/Amsterdam")

MOTION = ("bedroom_motion", "bathroom_motion", "hall_motion", "living_motion", "kitchen_motion")


def local_time(day: int, hh: int, mm: int = 0) -> datetime:
    """January `day` 2026 at hh:mm in Zwolle, as UTC (5 January 2026 is a Monday)."""
    return datetime(2026, 1, day, hh, mm, tzinfo=TZ).astimezone(UTC)


@dataclass
class Sent:
    """A message the hub sent, with the local time it was sent at."""

    at: str  # "HH:MM" local
    when: datetime
    topic: str
    payload: dict[str, Any]


class TimedLink(MemoryLink):
    """A MemoryLink that also notes the clock time of every message."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self.clock = clock
        self.log: list[Sent] = []

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        super().send(topic, payload, qos=qos, retain=retain)
        now = self.clock.now()
        self.log.append(Sent(at=f"{now.astimezone(TZ):%H:%M}", when=now, topic=topic,
                             payload=json.loads(payload)))


class Home:
    """The demo home with its shipped scenarios, driven the way its devices would drive it."""

    def __init__(self, config: HomeConfig, clock: VirtualClock, db_path: Path,
                 overrides: dict[str, dict[str, Any]] | None = None) -> None:
        self.config = config
        self.clock = clock
        self.db_path = db_path
        self.overrides = overrides
        self.link = TimedLink(clock)
        self.hub = build_hub(config, clock, self.link)
        self.sink = RecordingAlertSink(self.hub)
        self.engine: Engine | None = None
        self.db: Database | None = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        self.db = await Database.connect(self.db_path)
        parts = Parts.load(self.config, [SCENARIOS], self.overrides)
        self.engine = parts.engine(self.hub, self.db, self.sink)
        self._task = asyncio.create_task(self.engine.run(), name="engine")
        ready = asyncio.create_task(self.engine.ready.wait())
        await asyncio.wait([self._task, ready], return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():
            ready.cancel()
            self._task.result()

    async def stop(self) -> None:
        """Stop the engine as a hub shutdown would (pending timers stay in SQLite)."""
        if self._task is not None:
            if self.engine is not None:
                await self.clock.wait_idle()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.db is not None:
            await self.db.close()
            self.db = None

    # -- time -------------------------------------------------------------------------------

    def local(self) -> datetime:
        return self.clock.now().astimezone(TZ)

    async def at(self, hhmm: str) -> None:
        """Advance to the next local hh:mm (today if still ahead, else tomorrow)."""
        h, mi = (int(x) for x in hhmm.split(":"))
        now = self.local()
        target = now.replace(hour=h, minute=mi, second=0, microsecond=0)
        if target <= now:
            target += timedelta(days=1)
        await self.clock.run_until(target.astimezone(UTC))

    async def wait(self, **kw: float) -> None:
        await self.clock.advance(**kw)

    # -- devices ----------------------------------------------------------------------------

    def bed(self, occupied: bool) -> None:
        self.hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": occupied, "battery": 90})

    def door(self, is_open: bool, which: str = "front_door") -> None:
        self.hub.inject(f"zigbee2mqtt/{which}", {"contact": not is_open, "battery": 90})

    def motion(self, room: str, moving: bool = True) -> None:
        self.hub.inject(f"zigbee2mqtt/{room}_motion", {"occupancy": moving, "battery": 90})

    def all_still(self) -> None:
        for dev in MOTION:
            self.hub.inject(f"zigbee2mqtt/{dev}", {"occupancy": False, "battery": 90})

    def tag(self, room: str) -> None:
        """An ESPresense receiver (named like the huis room) hears the tag close by."""
        self.hub.inject(f"espresense/devices/wander_tag/{room}", {"distance": 1.2, "rssi": -60})

    async def tag_gone(self) -> None:
        """No receiver hears the tag any more: after stale_after the refresh says so."""
        for _ in range(5):
            await self.clock.advance(seconds=10)
            self.hub.check_health()

    def dispenser(self, event: str, dose: str | None = None, **extra: Any) -> None:
        payload: dict[str, Any] = {"event": event, "time": self.local().isoformat(), **extra}
        if dose is not None:
            payload["dose"] = dose
        self.hub.inject("huis/dispenser/dispenser/event", payload)

    def sos(self) -> None:
        self.hub.inject("zigbee2mqtt/sos_button", {"action": "emergency", "battery": 100})

    def settle_in(self, *, in_bed: bool, room: str = "bedroom") -> None:
        """Every sensor reports once, as after a night of hourly battery reports."""
        self.bed(in_bed)
        self.door(False, "front_door")
        self.door(False, "back_door")
        self.all_still()
        self.tag(room)

    # -- what the hub did -------------------------------------------------------------------

    def mark(self) -> int:
        """A point in the message log: pass it as `since` to see only what came after."""
        return len(self.link.log)

    def commands(self, device: str, since: int = 0) -> list[dict[str, Any]]:
        return [p for _, p in self.timeline(device, since)]

    def timeline(self, device: str, since: int = 0) -> list[tuple[str, dict[str, Any]]]:
        """(local HH:MM, command) of every command sent to `device`."""
        return [(s.at, s.payload) for s in self.link.log[since:] if s.topic == f"zigbee2mqtt/{device}/set"]

    def said(self, containing: str = "") -> list[str]:
        return [text for _, text in self.said_at(containing)]

    def said_at(self, containing: str = "") -> list[tuple[str, str]]:
        """(local HH:MM, text) of every announcement containing `containing`."""
        return [(s.at, s.payload["say"]) for s in self.link.log
                if s.topic == "huis/speaker/speaker/say" and containing in s.payload["say"]]

    def raised(self, key: str | None = None) -> list[str]:
        return [r.key for r in self.sink.raised() if key is None or r.key == key]

    def alerts(self) -> list[tuple[str, str, str]]:
        """(local HH:MM, action, key) of every alert change, in order."""
        return [(f"{r.time.astimezone(TZ):%H:%M}", r.action, r.key) for r in self.sink.records]

    async def traces(self, scenario: str) -> list[Trace]:
        assert self.engine is not None
        return list(reversed(await self.engine.traces(scenario, limit=200)))


@pytest.fixture
def night_clock() -> VirtualClock:
    """Monday 5 January 2026, 21:00 in Zwolle."""
    return VirtualClock(local_time(5, 21))


@pytest.fixture
async def night(demo_config: HomeConfig, night_clock: VirtualClock, tmp_path: Path) -> AsyncIterator[Home]:
    """The demo home on a Monday evening at 21:00, resident in bed, engine running."""
    home = Home(demo_config, night_clock, tmp_path / "huis.db")
    await home.start()
    home.settle_in(in_bed=True)
    await home.wait(seconds=1)
    try:
        yield home
    finally:
        await home.stop()


@pytest.fixture
async def day(demo_config: HomeConfig, clock: VirtualClock, tmp_path: Path) -> AsyncIterator[Home]:
    """The demo home on Monday at 12:00 (the shared clock fixture), resident up and about."""
    home = Home(demo_config, clock, tmp_path / "huis.db")
    await home.start()
    home.settle_in(in_bed=False, room="living")
    await home.wait(seconds=1)
    try:
        yield home
    finally:
        await home.stop()
