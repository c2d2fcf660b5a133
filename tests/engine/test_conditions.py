"""Conditions: what a run checks before it acts, and the trace when it does not."""

from __future__ import annotations

from controller.clock import VirtualClock
from controller.events import ALERT_CHANGED, Context
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink
from devices import KINDS

from .conftest import advance_to, bed, door, engine_for, running, sent, traces_of

LIGHT = "zigbee2mqtt/bedroom_light/set"


def with_conditions(conditions: str, trigger: str = "{type: state, device: bed_sensor, "
                    "attribute: occupancy, to: false}") -> str:
    return f"""
parameters:
  protect: {{type: boolean, default: true}}
scenarios:
  - id: s
    mode: parallel
    triggers:
      - {trigger}
    conditions: {conditions}
    actions:
      - {{type: light, device: bedroom_light, state: on}}
"""


async def leave_bed(hub: Hub, clock: VirtualClock) -> None:
    bed(hub, True)
    bed(hub, False)
    await clock.advance(seconds=1)


async def test_time_window_crossing_midnight(hub: Hub, db: Database, sink: MemoryAlertSink,
                                             clock: VirtualClock) -> None:
    text = with_conditions('[{type: time, after: "22:00", before: "07:00"}]')
    async with running(engine_for(hub, db, sink, text)):
        fired = []
        for hhmm in ("21:59", "22:00", "23:59", "00:00", "03:00", "06:59", "07:00", "12:00"):
            await advance_to(clock, hhmm)
            before = len(sent(hub, LIGHT))
            await leave_bed(hub, clock)
            fired.append((hhmm, len(sent(hub, LIGHT)) > before))
        assert fired == [("21:59", False), ("22:00", True), ("23:59", True), ("00:00", True),
                         ("03:00", True), ("06:59", True), ("07:00", False), ("12:00", False)]


async def test_night_window_weekday_is_that_of_its_start(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    # Friday night only: Friday 23:00 and Saturday 03:00 count, Thursday night does not.
    text = with_conditions('[{type: time, after: "22:00", before: "07:00", weekdays: [fri]}]')
    async with running(engine_for(hub, db, sink, text)):
        await clock.advance(hours=24 * 3)  # Thursday noon
        await advance_to(clock, "23:00")
        await leave_bed(hub, clock)  # Thursday 23:00
        await advance_to(clock, "03:00")
        await leave_bed(hub, clock)  # Friday 03:00, still Thursday night
        assert sent(hub, LIGHT) == []
        await advance_to(clock, "23:00")
        await leave_bed(hub, clock)  # Friday 23:00
        await advance_to(clock, "03:00")
        await leave_bed(hub, clock)  # Saturday 03:00
        assert len(sent(hub, LIGHT)) == 2


async def test_state_condition_and_not_fired_trace(hub: Hub, db: Database, sink: MemoryAlertSink,
                                                   clock: VirtualClock) -> None:
    text = with_conditions("[{type: state, device: front_door, attribute: open, is: true}]")
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        door(hub, False)
        await leave_bed(hub, clock)
        assert sent(hub, LIGHT) == []
        door(hub, True)
        await leave_bed(hub, clock)
        assert len(sent(hub, LIGHT)) == 1
        first, second = await traces_of(engine, "s")
        assert first.status == "not_fired"
        assert first.conditions == ({"path": "", "condition": "state front_door.open is true",
                                     "result": False},)
        assert first.notes == ("condition not met: state front_door.open is true",)
        assert second.status == "completed"


async def test_state_condition_for(hub: Hub, db: Database, sink: MemoryAlertSink,
                                   clock: VirtualClock) -> None:
    text = with_conditions("[{type: state, device: front_door, attribute: open, is: true, for: 5m}]")
    async with running(engine_for(hub, db, sink, text)):
        door(hub, True)
        await clock.advance(minutes=4)
        await leave_bed(hub, clock)
        assert sent(hub, LIGHT) == []
        await clock.advance(minutes=1)
        await leave_bed(hub, clock)
        assert len(sent(hub, LIGHT)) == 1


async def test_unknown_state_never_matches(hub: Hub, db: Database, sink: MemoryAlertSink,
                                           clock: VirtualClock) -> None:
    text = with_conditions("[{type: state, device: front_door, attribute: open, not: true}]")
    async with running(engine_for(hub, db, sink, text)):
        await leave_bed(hub, clock)  # the door never reported
        assert sent(hub, LIGHT) == []


async def test_resident_mode_and_boolean_logic(hub: Hub, db: Database, sink: MemoryAlertSink,
                                               clock: VirtualClock) -> None:
    text = with_conditions("""
      - {type: resident, is: home}
      - type: or
        conditions:
          - {type: mode, is: night}
          - {type: and, conditions: [{type: mode, is: [day]}, {type: parameter, name: protect, is: true}]}
      - {type: not, conditions: [{type: mode, is: holiday}]}""")
    engine = engine_for(hub, db, sink, text)
    user = Context(origin="user:anna")
    async with running(engine):
        await leave_bed(hub, clock)  # home, day, protect
        engine.set_presence("away", user)
        await leave_bed(hub, clock)
        engine.set_presence("home", user)
        engine.set_mode("holiday", user)
        await leave_bed(hub, clock)
        engine.set_mode("night", user)
        await leave_bed(hub, clock)
        assert len(sent(hub, LIGHT)) == 2


async def test_parameter_override_switches_protection_off(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    text = with_conditions("[{type: parameter, name: protect, is: true}]")
    async with running(engine_for(hub, db, sink, text, overrides={"test": {"protect": False}})):
        await leave_bed(hub, clock)
        assert sent(hub, LIGHT) == []


async def test_alert_condition_and_trigger_ids(hub: Hub, db: Database, sink: MemoryAlertSink,
                                               clock: VirtualClock) -> None:
    text = """
scenarios:
  - id: s
    mode: parallel
    triggers:
      - {id: leave, type: state, device: bed_sensor, attribute: occupancy, to: false}
      - {id: back, type: state, device: bed_sensor, attribute: occupancy, to: true}
    conditions:
      - {type: trigger, id: back}
      - {type: alert, key: night.bed, active: true}
    actions:
      - {type: resolve, key: night.bed, reason: weer in bed}
"""
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        bed(hub, True)
        await clock.advance(seconds=1)
        assert sink.resolved == []  # no alert active
        hub.bus.publish(ALERT_CHANGED.event(time=clock.now(), context=Context(origin="alerts"),
                              data={"action": "raised", "key": "night.bed", "scenario": "x",
                                    "severity": "warning", "by": None}))
        await sink.raise_alert(key="night.bed", scenario="x", severity="warning", message="m",
                               context=Context(origin="t"), data={})
        bed(hub, False)
        await clock.advance(seconds=1)
        assert sink.resolved == []  # wrong trigger
        bed(hub, True)
        await clock.advance(seconds=1)
        assert [(r.key, r.reason) for r in sink.resolved] == [("night.bed", "weer in bed")]


async def test_alert_condition_key_names_the_triggering_device(hub: Hub, db: Database, sink: MemoryAlertSink,
                                                                clock: VirtualClock) -> None:
    text = """
scenarios:
  - id: s
    mode: parallel
    triggers:
      - {type: state, device: [hall_motion, living_motion], attribute: occupancy, to: true}
    conditions:
      - {type: alert, key: "quiet.{trigger.device}", active: true}
    actions:
      - {type: resolve, key: "quiet.{trigger.device}", reason: beweging}
"""
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        hub.bus.publish(ALERT_CHANGED.event(time=clock.now(), context=Context(origin="alerts"),
                              data={"action": "raised", "key": "quiet.living_motion", "scenario": "x",
                                    "severity": "warning", "by": None}))
        await sink.raise_alert(key="quiet.living_motion", scenario="x", severity="warning", message="m",
                               context=Context(origin="t"), data={})
        hub.inject("zigbee2mqtt/hall_motion", {"occupancy": True})
        await clock.advance(seconds=1)
        assert sink.resolved == []  # the hall has no alert
        hub.inject("zigbee2mqtt/living_motion", {"occupancy": True})
        await clock.advance(seconds=1)
        assert [(r.key, r.reason) for r in sink.resolved] == [("quiet.living_motion", "beweging")]


def test_alert_condition_key_may_only_name_what_a_run_knows(hub: Hub) -> None:
    import pytest

    from controller.engine import load_scenario_text
    from controller.errors import ConfigError

    text = """
scenarios:
  - id: s
    triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: false}]
    conditions: [{type: alert, key: "x.{state.bed_sensor.occupancy}"}]
    actions: [{type: mode, mode: night}]
"""
    with pytest.raises(ConfigError) as info:
        load_scenario_text(text, hub.config, KINDS, "s.yaml")
    assert "cannot be used in an alert condition's key" in str(info.value)


async def test_sun_condition_night(hub: Hub, db: Database, sink: MemoryAlertSink,
                                   clock: VirtualClock) -> None:
    # 5 January in Zwolle: sunset 16:36, sunrise 08:45 (local).
    text = with_conditions("[{type: sun, after: sunset, before: sunrise}]")
    async with running(engine_for(hub, db, sink, text)):
        results = []
        for hhmm in ("16:30", "16:40", "02:00", "08:40", "08:50"):
            await advance_to(clock, hhmm)
            before = len(sent(hub, LIGHT))
            await leave_bed(hub, clock)
            results.append(len(sent(hub, LIGHT)) > before)
        assert results == [False, True, True, True, False]


async def test_active_alerts_are_known_after_a_restart(hub: Hub, db: Database, clock: VirtualClock) -> None:
    sink = MemoryAlertSink()
    await sink.raise_alert(key="night.bed", scenario="x", severity="warning", message="m",
                           context=Context(origin="before the restart"), data={})
    text = with_conditions("[{type: alert, key: night.bed, active: true}]")
    async with running(engine_for(hub, db, sink, text)):
        await leave_bed(hub, clock)
        assert len(sent(hub, LIGHT)) == 1
