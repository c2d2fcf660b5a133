from __future__ import annotations

import asyncio
from pathlib import Path

from controller.clock import VirtualClock
from controller.config import parse_home
from controller.events import Context
from controller.history import History
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryLink
from controller.yamlfile import load_text
from huis.compose import KINDS, build_hub

HOME = """
rooms:
  bedroom: {name: Slaapkamer, area: [0, 0, 100, 100]}
devices:
  bed_sensor: {kind: bed, room: bedroom}
resident: {pseudonym: Mevrouw Jansen}
"""


async def test_history_records_changes_to_a_real_sqlite_file(tmp_path: Path, clock: VirtualClock) -> None:
    hub = build_hub(parse_home(load_text(HOME, "home.yaml"), KINDS), clock, MemoryLink())
    db = await Database.connect(tmp_path / "huis.db")
    history = History(db, hub.bus, clock)
    await history.open()
    task = asyncio.create_task(history.run())
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True, "battery": 80})
    await clock.advance(minutes=5)
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False, "battery": 80})  # battery unchanged
    hub.inject("zigbee2mqtt/bed_sensor", b"garbage")
    await clock.advance(seconds=1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await db.close()

    # Read back through a fresh connection: it is on disk, not only in memory.
    db2 = await Database.connect(tmp_path / "huis.db")
    rows = await History(db2, hub.bus, clock).query()
    await db2.close()
    facts = [(r.type, r.attribute, r.value) for r in rows]
    assert facts == [
        ("availability", "available", True),
        ("state_changed", "occupancy", True),
        ("state_changed", "battery", 80),
        ("state_changed", "occupancy", False),
        ("payload_error", "error", "not JSON: 'garbage'"),
    ]
    assert rows[1].origin == "device:bed_sensor"
    assert rows[3].time > rows[1].time


async def test_query_filters_by_device_and_type(tmp_path: Path, clock: VirtualClock) -> None:
    hub = build_hub(parse_home(load_text(HOME, "home.yaml"), KINDS), clock, MemoryLink())
    async with await Database.connect(tmp_path / "h.db") as db:
        history = History(db, hub.bus, clock)
        await history.open()
        hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True})
        hub.set_available("bed_sensor", False, Context(origin="test"), reason="test")
        await history.flush()
        only_state = await history.query(types=["state_changed"], devices=["bed_sensor"])
        assert [(r.attribute, r.value) for r in only_state] == [("occupancy", True)]
        assert await history.query(devices=["nobody"]) == []


async def test_device_events_keep_their_data(tmp_path: Path, clock: VirtualClock, hub: Hub) -> None:
    async with await Database.connect(tmp_path / "h.db") as db:
        history = History(db, hub.bus, clock)
        await history.open()
        hub.inject("huis/dispenser/dispenser/event",
                   {"event": "dose_due", "dose": "08:00", "time": clock.now().isoformat()})
        hub.inject("zigbee2mqtt/sos_button", {"action": "emergency"})
        await history.flush()
        events = await history.query(types=["device_event"])
        assert events[0].value["event"] == "dose_due"
        assert events[0].value["dose"] == "08:00"
        assert events[1].value == "emergency"
