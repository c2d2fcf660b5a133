"""Cause chains stored by older versions still read back (issue 11 changed the stored form)."""

from __future__ import annotations

import json
from pathlib import Path

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.events import Context
from controller.store import Database

from .conftest import advance_to, bed, traces_of
from .test_durable import NIGHT, Home


def test_every_stored_form_reads_back_to_the_same_chain() -> None:
    ctx = Context(origin="device:bed_sensor", description="message on zigbee2mqtt/bed_sensor") \
        .child("timer", "for 10m").child("scenario:night_exit", "bed empty")
    old_pairs = [[c.origin, c.description] for c in reversed(ctx.chain())]  # before issue 11
    for stored in (ctx.to_json(), json.loads(json.dumps(ctx.to_json())), old_pairs, ctx.links(),
                   ctx.explain()):
        again = Context.from_json(stored)
        assert again is not None
        assert again.explain() == ctx.explain()
    assert Context.from_json([]) is None
    assert Context.from_json(None) is None


async def test_a_timer_saved_in_the_old_format_is_restored_with_its_cause(
        home: HomeConfig, clock: VirtualClock, tmp_path: Path) -> None:
    house = Home(home, clock, tmp_path)
    house.write(NIGHT)
    async with house.start():
        await advance_to(clock, "23:00")
        bed(house.hub, False)
        await clock.advance(minutes=4)
    db = await Database.connect(house.db_path)
    try:
        [row] = await db.fetchall("SELECT key, data FROM engine_timers")
        data = json.loads(row["data"])
        chain = Context.from_json(data["cause"])
        assert chain is not None
        data["cause"] = [[c.origin, c.description] for c in reversed(chain.chain())]
        async with db.transaction() as conn:
            await conn.execute("UPDATE engine_timers SET data = ? WHERE key = ?",
                               (json.dumps(data), row["key"]))
    finally:
        await db.close()
    async with house.start() as engine:
        await clock.advance(minutes=6)
        assert [a.message for a in house.sink.raised] == ["Uit bed sinds 10 minuten"]
        [trace] = await traces_of(engine, "night_exit")
        assert trace.cause[-2:] == ("engine: restored after a restart or reload",
                                    "device:bed_sensor: message on zigbee2mqtt/bed_sensor")
