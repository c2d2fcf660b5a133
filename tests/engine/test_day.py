"""A scripted day in virtual time: the showcase scenarios in the demo home, minute by minute.

This is the engine side of issue 3's "virtual-time days": 24 hours of a persona run in well under
a second, and the test reads as what the home did, and when.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.engine import Engine, load_scenarios
from controller.events import COMMAND_SENT, Event
from controller.hub import Hub
from controller.mqtt import MemoryLink
from controller.store import Database
from controller.testing import MemoryAlertSink
from devices import KINDS

from .conftest import TZ, advance_to, running

SHOWCASE = Path(__file__).resolve().parents[2] / "scenarios" / "_examples" / "showcase.yaml"


class Timeline(MemoryAlertSink):
    """What the hub did, as (local time, text): commands from the bus, alerts as they are raised."""

    def __init__(self, hub: Hub, clock: VirtualClock) -> None:
        super().__init__()
        self.entries: list[tuple[str, str]] = []
        self.clock = clock
        hub.bus.subscribe(self._command, COMMAND_SENT)

    def _now(self) -> str:
        return self.clock.now().astimezone(TZ).strftime("%H:%M:%S")

    def _command(self, event: Event) -> None:
        values: dict[str, Any] = dict(event.data["values"])
        self.entries.append((self._now(), f"{event.device} {values}"))

    async def raise_alert(self, **kwargs: Any) -> str:
        self.entries.append((self._now(), f"ALERT {kwargs['severity']} {kwargs['key']}: "
                                          f"{kwargs['message']}"))
        return await super().raise_alert(**kwargs)

    async def resolve_alert(self, **kwargs: Any) -> bool:
        found = await super().resolve_alert(**kwargs)
        if found:
            self.entries.append((self._now(), f"RESOLVED {kwargs['key']}: {kwargs['reason']}"))
        return found

    def collect(self) -> list[tuple[str, str]]:
        out, self.entries = self.entries, []
        return out


async def test_a_monday_in_the_demo_home(demo_config: HomeConfig, tmp_path: Path) -> None:
    clock = VirtualClock(datetime(2026, 1, 4, 23, 0, tzinfo=UTC))  # Monday 00:00 in Zwolle
    hub = Hub(demo_config, clock, KINDS, MemoryLink())
    timeline = Timeline(hub, clock)
    db = await Database.connect(tmp_path / "huis.db")

    def bed(occupied: bool) -> None:
        hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": occupied})

    def motion(room: str, on: bool) -> None:
        hub.inject(f"zigbee2mqtt/{room}_motion", {"occupancy": on})

    def dispenser(event: str) -> None:
        hub.inject("huis/dispenser/dispenser/event",
                   {"event": event, "dose": "08:00", "time": clock.now().isoformat()})

    engine = Engine(hub, db, timeline, load_scenarios([SHOWCASE], demo_config, KINDS), paths=[])
    try:
        async with running(engine):
            bed(True)
            for room in ("bedroom", "bathroom", "hall", "living", "kitchen"):
                motion(room, False)

            # A night toilet visit: six minutes out of bed -> orientation lights only.
            await advance_to(clock, "03:00")
            bed(False)
            await clock.advance(minutes=6)
            bed(True)
            await clock.advance(seconds=1)
            assert timeline.collect() == [
                ("03:00:00", "bedroom_light {'brightness_percent': 10}"),
                ("03:00:20", "bathroom_light {'brightness_percent': 10}"),
                ("03:06:00", "bedroom_light {'state': 'OFF', 'transition': 2}"),
                ("03:06:00", "bathroom_light {'state': 'OFF', 'transition': 2}"),
            ]

            # Morning: out of bed before sunrise (orientation light), wake-up light, curtains,
            # greeting; the medication is taken after ten minutes; some moving about.
            await advance_to(clock, "07:45")
            bed(False)
            motion("bedroom", True)
            motion("bedroom", False)
            await advance_to(clock, "08:00")
            dispenser("dose_due")
            motion("kitchen", True)
            await clock.advance(minutes=10)
            dispenser("dose_taken")
            motion("kitchen", False)
            for hhmm in ("10:30", "12:00"):
                await advance_to(clock, hhmm)
                motion("living", True)
                motion("living", False)
            assert timeline.collect() == [
                ("07:30:00", "bedroom_light {'state': 'ON', 'brightness_percent': 60, 'transition': 30}"),
                ("07:30:00", "bedroom_curtain {'state': 'OPEN'}"),
                ("07:30:00", "speaker {'say': 'Goedemorgen Mevrouw Jansen. Het is maandag 5 januari "
                             "2026.', 'language': 'nl'}"),
                ("07:45:00", "bedroom_light {'brightness_percent': 10}"),
                ("07:45:20", "bathroom_light {'brightness_percent': 10}"),
                ("08:00:00", "speaker {'say': 'Tijd voor uw medicijnen (08:00).', 'language': 'nl'}"),
            ]

            # Nobody moves between 12:00 and 15:00: a check-in alert at 15:00 sharp.
            await advance_to(clock, "15:30")
            assert timeline.collect() == [
                ("15:00:00", "ALERT warning inactivity: Al 3 uur geen beweging bij Mevrouw Jansen."),
            ]

            # Evening: curtains at sunset - 15 min (16:21), to bed at 21:00 (outside the night
            # window: nothing happens), night mode at 22:30.
            await advance_to(clock, "21:00")
            bed(True)
            await advance_to(clock, "22:45")
            assert timeline.collect() == [("16:21:32", "living_curtain {'position': 0}")]
            assert engine.mode == "night"

            # Out of bed at 23:00 for 20 minutes: warning at 23:10, resolved at 23:20.
            await advance_to(clock, "23:00")
            bed(False)
            await advance_to(clock, "23:20")
            bed(True)
            await clock.advance(seconds=1)
            assert timeline.collect() == [
                ("23:00:00", "bedroom_light {'brightness_percent': 10}"),
                ("23:00:20", "bathroom_light {'brightness_percent': 10}"),
                ("23:10:00", "ALERT warning showcase.bed_empty: Mevrouw Jansen is al 10 minuten uit "
                             "bed (23:10)."),
                ("23:20:00", "RESOLVED showcase.bed_empty: weer in bed"),
                ("23:20:00", "bedroom_light {'state': 'OFF', 'transition': 2}"),
                ("23:20:00", "bathroom_light {'state': 'OFF', 'transition': 2}"),
            ]
    finally:
        await db.close()
