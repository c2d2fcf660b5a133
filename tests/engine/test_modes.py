"""Run modes and cooldown."""

from __future__ import annotations

from controller.clock import VirtualClock
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink

from .conftest import engine_for, running, sent, traces_of

SAY = "huis/speaker/speaker/say"


def press(hub: Hub) -> None:
    hub.inject("zigbee2mqtt/sos_button", {"action": "emergency"})


def scenario(mode: str, extra: str = "") -> str:
    return f"""
scenarios:
  - id: s
    mode: {mode}
{extra}
    triggers: [{{type: event, device: sos_button, event: emergency}}]
    actions:
      - {{type: announce, text: "start {{time}}"}}
      - {{type: delay, duration: 10m}}
      - {{type: announce, text: "end {{time}}"}}
"""


def said(hub: Hub) -> list[str]:
    return [p["say"] for p in sent(hub, SAY)]


async def test_single_ignores_triggers_while_running(hub: Hub, db: Database, sink: MemoryAlertSink,
                                                     clock: VirtualClock) -> None:
    engine = engine_for(hub, db, sink, scenario("single"))
    async with running(engine):
        press(hub)
        await clock.advance(minutes=5)
        press(hub)
        await clock.advance(minutes=10)
        assert said(hub) == ["start 12:00", "end 12:10"]
        statuses = [t.status for t in await traces_of(engine, "s")]
        assert statuses == ["skipped", "completed"]


async def test_restart_cancels_the_running_run(hub: Hub, db: Database, sink: MemoryAlertSink,
                                               clock: VirtualClock) -> None:
    engine = engine_for(hub, db, sink, scenario("restart"))
    async with running(engine):
        press(hub)
        await clock.advance(minutes=5)
        press(hub)
        await clock.advance(minutes=10)
        assert said(hub) == ["start 12:00", "start 12:05", "end 12:15"]
        traces = await traces_of(engine, "s")
        assert [t.status for t in traces] == ["cancelled", "completed"]
        assert traces[0].notes[0].startswith("cancelled: restarted by event")


async def test_queued_runs_one_after_another(hub: Hub, db: Database, sink: MemoryAlertSink,
                                             clock: VirtualClock) -> None:
    engine = engine_for(hub, db, sink, scenario("queued", "    max_queued: 1"))
    async with running(engine):
        press(hub)
        await clock.advance(minutes=1)
        press(hub)
        press(hub)  # the queue holds one
        await clock.advance(minutes=30)
        assert said(hub) == ["start 12:00", "end 12:10", "start 12:10", "end 12:20"]
        assert [t.status for t in await traces_of(engine, "s")] == ["skipped", "completed", "completed"]


async def test_parallel_runs_side_by_side(hub: Hub, db: Database, sink: MemoryAlertSink,
                                          clock: VirtualClock) -> None:
    async with running(engine_for(hub, db, sink, scenario("parallel"))):
        press(hub)
        await clock.advance(minutes=5)
        press(hub)
        await clock.advance(minutes=10)
        assert said(hub) == ["start 12:00", "start 12:05", "end 12:10", "end 12:15"]


async def test_cooldown(hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    engine = engine_for(hub, db, sink, scenario("parallel", "    cooldown: 30m"))
    async with running(engine):
        press(hub)
        await clock.advance(minutes=20)
        press(hub)
        await clock.advance(minutes=10)
        press(hub)
        await clock.advance(minutes=10)
        assert said(hub) == ["start 12:00", "end 12:10", "start 12:30", "end 12:40"]
        skipped = [t for t in await traces_of(engine, "s") if t.status == "skipped"]
        assert skipped[0].notes == ("skipped: cooldown (30m; last run started 20m ago)",)
