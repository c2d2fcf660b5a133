"""The engine side of alert occurrences (issue 8, docs/alerts.md "Occurrences").

A scenario that raises its key again while the earlier alert is active: urgent pages again
(a new alert, linked), a warning is counted; `type: alert` conditions see the key active while
any occurrence is; `type: resolve` closes every occurrence; the raise names its origin (the
run's action) so a resumed run never makes a second alert for one occurrence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.alerts.channels.page import PageChannel
from controller.alerts.policy import load_alerts
from controller.alerts.service import AlertService
from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.engine import load_scenario_text
from controller.engine.engine import Engine
from controller.events import Context
from controller.hub import Hub
from controller.mqtt import MemoryLink
from controller.store import Database
from controller.testing import MemoryAlertSink, RecordingAlertSink
from devices import KINDS
from tests.conftest import ROOT

from .conftest import door, running, traces_of

TEXT = """
scenarios:
  - id: night_exit
    mode: parallel
    triggers: [{type: state, device: front_door, attribute: open, to: true}]
    actions:
      - {type: alert, key: night_exit.door, severity: urgent, message: "De voordeur gaat open."}
      - {type: alert, key: door.count, severity: warning, message: "Deur open."}
  - id: back_inside
    triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: true}]
    conditions: [{type: alert, key: night_exit.door, active: true}]
    actions: [{type: resolve, key: night_exit.door, reason: "Weer in bed."}]
"""


@pytest.fixture
async def service(demo_config: HomeConfig, clock: VirtualClock,
                  tmp_path: Path) -> AsyncIterator[tuple[Hub, AlertService]]:
    hub = Hub(demo_config, clock, KINDS, MemoryLink())
    db = await Database.connect(tmp_path / "huis.db")
    try:
        svc = AlertService.from_hub(hub, db, load_alerts(ROOT / "config" / "alerts.yaml", demo_config.caregivers),
                                    base_url="http://hub.test:8080", channels=[PageChannel()])
        await svc.open()
        yield hub, svc
    finally:
        await db.close()


async def test_a_second_door_opening_pages_again_and_resolve_closes_both(
        service: tuple[Hub, AlertService], demo_config: HomeConfig, clock: VirtualClock) -> None:
    hub, svc = service
    engine = Engine(hub, svc.db, svc, load_scenario_text(TEXT, demo_config, KINDS, "t.yaml"), paths=[])
    async with running(engine):
        door(hub, True)
        await clock.wait_idle()
        [first] = [a for a in svc.active() if a.severity == "urgent"]
        await svc.acknowledge(first.id, by="piet", channel="ntfy")  # a false page, acknowledged
        door(hub, False)
        await clock.advance(hours=5)
        door(hub, True)  # the real exit
        await clock.wait_idle()

        urgent = [a for a in svc.active() if a.key == "night_exit.door"]
        assert [(a.occurrence, a.previous_id, a.state) for a in urgent] == [
            (1, None, "acknowledged"), (2, first.id, "delivering")]
        [counted] = [a for a in svc.active() if a.key == "door.count"]
        assert counted.repeats == 1  # the warning is counted on its active alert, not dropped
        assert engine.alert_active("night_exit.door")
        runs = await traces_of(engine, "night_exit")
        assert [a["outcome"] for a in runs[-1].actions] == [f"raised {urgent[1].id}", f"raised {counted.id}"]
        assert urgent[1].origin == f"{runs[-1].run_id}/{runs[-1].actions[0]['path']}"

        hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True})
        await clock.wait_idle()
        assert not engine.alert_active("night_exit.door")
        closed = [await svc.get(a.id) for a in urgent]
        assert [(a.state, a.note) for a in closed if a] == [("resolved", "Weer in bed."), ("resolved", "Weer in bed.")]


async def test_the_same_origin_twice_is_one_alert(service: tuple[Hub, AlertService]) -> None:
    _, svc = service
    ctx = Context(origin="rule:night_exit")
    data = {"origin": "run-1/actions[0]"}
    first = await svc.raise_alert(key="k", scenario="night_exit", severity="urgent", message="m",
                                  context=ctx, data=data)
    assert await svc.raise_alert(key="k", scenario="night_exit", severity="urgent", message="m",
                                 context=ctx, data=data) == first
    assert [a.id for a in svc.active()] == [first]


@pytest.mark.parametrize("make", [MemoryAlertSink, "recording"])
async def test_the_test_doubles_follow_the_same_rules(make: object, hub: Hub) -> None:
    sink = MemoryAlertSink() if make is MemoryAlertSink else RecordingAlertSink(hub)
    ctx = Context(origin="rule:x")
    one = await sink.raise_alert(key="door", scenario="x", severity="urgent", message="m", context=ctx, data={})
    two = await sink.raise_alert(key="door", scenario="x", severity="urgent", message="m", context=ctx, data={})
    w1 = await sink.raise_alert(key="quiet", scenario="x", severity="warning", message="m", context=ctx, data={})
    w2 = await sink.raise_alert(key="quiet", scenario="x", severity="warning", message="m", context=ctx, data={})
    again = await sink.raise_alert(key="door", scenario="x", severity="urgent", message="m", context=ctx,
                                   data={"origin": "r/1"})
    assert await sink.raise_alert(key="door", scenario="x", severity="urgent", message="m", context=ctx,
                                  data={"origin": "r/1"}) == again
    assert len({one, two, again}) == 3 and w1 == w2
    assert sink.is_active("door") and sink.is_active("quiet")
    assert await sink.resolve_alert(key="door", reason="weg", context=ctx)
    assert not sink.is_active("door")
    if isinstance(sink, MemoryAlertSink):
        assert [a.previous_id for a in sink.raised if a.key == "door"] == [None, one, two]
        assert sink.repeats == {w1: 1}
        assert [r.id for r in sink.resolved] == [one, two, again]
    else:
        assert [r.previous_id for r in sink.raised() if r.key == "door"] == [None, one, two]
        assert [r.id for r in sink.repeated()] == [w1]
        assert [r.id for r in sink.resolved()] == [one, two, again]
