"""A synthetic resident with a known routine, for the routine's tests: in bed at 23:00, a toilet
visit at 03:00, up at 07:30; in the day movement every 20 minutes and a 90-minute nap on the
sofa after lunch. Written as history rows to a real SQLite file."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from controller.bus import EventBus
from controller.clock import VirtualClock
from controller.history import History
from controller.routine import Activity
from controller.store import Database

TZ = ZoneInfo("Europe/Amsterdam")


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=TZ).astimezone(UTC)


def one_day(day: date, *, nap: timedelta = timedelta(minutes=90)) -> list[Activity]:
    """The events of one day, from getting up at 07:30 to going to bed at 23:00 and the night."""
    out = [Activity(time=at(day, 7, 30), device="bed_sensor", kind="bed", value=False)]
    t = at(day, 7, 35)
    nap_start = at(day, 13, 30)
    while t < at(day, 22, 55):
        room = ("kitchen_motion", "living_motion", "hall_motion")[t.minute % 3]
        out.append(Activity(time=t, device=room, kind="motion", value=True))
        t += nap if nap_start <= t < nap_start + timedelta(minutes=20) else timedelta(minutes=20)
    out.append(Activity(time=at(day, 22, 58), device="bedroom_motion", kind="motion", value=True))
    out.append(Activity(time=at(day, 23), device="bed_sensor", kind="bed", value=True))
    night = day + timedelta(days=1)
    out += [Activity(time=at(night, 3), device="bed_sensor", kind="bed", value=False),
            Activity(time=at(night, 3, 1), device="bathroom_motion", kind="motion", value=True),
            Activity(time=at(night, 3, 5), device="bed_sensor", kind="bed", value=True)]
    return out


def days(first: date, count: int, **kw: timedelta) -> list[Activity]:
    return [e for d in range(count) for e in one_day(first + timedelta(days=d), **kw)]


async def write_history(path: Path, events: list[Activity]) -> None:
    """Store `events` in the `history` table of the SQLite file at `path`, as the hub would."""
    db = await Database.connect(path)
    try:
        history = History(db, EventBus(), VirtualClock(datetime(2026, 1, 1, tzinfo=UTC)))
        await history.open()
        attribute = {"motion": "occupancy", "bed": "occupancy", "contact": "contact"}
        await db.executemany(
            "INSERT INTO history (time, type, device, attribute, value, origin, cause)"
            " VALUES (?, 'state_changed', ?, ?, ?, 'device', 'synthetic routine')",
            [(e.time.isoformat(), e.device, attribute[e.kind], json.dumps(e.value)) for e in events])
    finally:
        await db.close()
