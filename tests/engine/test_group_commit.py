"""What the engine commits at once and what waits for the group commit (engine/store.py).

A rule run that ends at once leaves only bookkeeping (its trace, a latch): that waits for the
next group commit, so an event costs no transaction of its own. A `for:` timer is what a restart
needs: it is committed at once, and `flush_durable` (the MQTT acknowledgement's settle step)
commits it together with whatever bookkeeping waits beside it.
"""

from __future__ import annotations

from pathlib import Path

from controller.clock import VirtualClock
from controller.engine.store import GROUP_COMMIT
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink
from tests.engine.conftest import bed, engine_for, running, sent, traces_of
from tests.store.conftest import committed

RULES = """
scenarios:
  - id: night_light
    mode: parallel
    triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: false}]
    actions: [{type: light, device: hall_light, state: on, brightness: 25}]
  - id: long_away
    triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: false, for: 30m}]
    actions: [{type: light, device: bedroom_light, state: on}]
"""


def _on_disk(path: Path) -> dict[str, int]:
    return {"traces": committed(path, "SELECT count(*) FROM engine_traces"),
            "latches": committed(path, "SELECT count(*) FROM engine_latches"),
            "timers": committed(path, "SELECT count(*) FROM engine_timers")}


async def test_a_run_that_ends_at_once_waits_for_the_group_commit(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock, tmp_path: Path) -> None:
    engine = engine_for(hub, db, sink, RULES)
    async with running(engine):
        bed(hub, True)
        await engine.flush()
        before = _on_disk(tmp_path / "huis.db")
        bed(hub, False)
        # The command left at once; what explains it is not on disk yet.
        assert sent(hub, "zigbee2mqtt/hall_light/set") == [{"state": "ON", "brightness": 25}]
        await clock.settle()
        # The `for:` timer is durable at once (a restart resumes it); the settle step of an
        # acknowledgement commits it with the bookkeeping that waits beside it.
        await engine.flush_durable()
        after = _on_disk(tmp_path / "huis.db")
        assert after["timers"] == before["timers"] + 1
        assert after["traces"] == before["traces"] + 1 and after["latches"] == before["latches"] + 1

        assert [t.status for t in await traces_of(engine, "night_light")] == ["completed"]


async def test_bookkeeping_alone_is_not_committed_by_the_settle_step(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock, tmp_path: Path) -> None:
    engine = engine_for(hub, db, sink, RULES.split("  - id: long_away")[0])
    async with running(engine):
        bed(hub, True)
        await engine.flush()
        bed(hub, False)
        await clock.settle()
        await engine.flush_durable()
        # Nothing a restart needs: the trace waits (a kill now loses it, docs/reliability.md).
        assert _on_disk(tmp_path / "huis.db")["traces"] == 0
        await clock.advance(seconds=GROUP_COMMIT)
        await clock.settle()
        await engine.flush()
        assert _on_disk(tmp_path / "huis.db")["traces"] == 1
        assert [t.status for t in await traces_of(engine, "night_light")] == ["completed"]
