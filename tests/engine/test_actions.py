"""Actions: what they send, what they record, and how a cause chain reaches them."""

from __future__ import annotations

from typing import Any

from controller.clock import VirtualClock
from controller.errors import DeliveryError
from controller.events import COMMAND_SENT, Context, Event
from controller.hub import Hub
from controller.mqtt import MemoryLink
from controller.store import Database
from controller.testing import MemoryAlertSink

from .conftest import bed, engine_for, running, sent, traces_of

BED_EMPTY = "{type: state, device: bed_sensor, attribute: occupancy, to: false}"


def actions(body: str, mode: str = "single") -> str:
    return f"""
scenarios:
  - id: s
    mode: {mode}
    triggers: [{BED_EMPTY}]
    actions:
{body}
"""


async def test_light_curtain_and_command(hub: Hub, db: Database, sink: MemoryAlertSink,
                                         clock: VirtualClock) -> None:
    text = actions("""
      - {type: light, room: [bedroom, bathroom], state: on, brightness_percent: 10, kelvin: 2500,
         transition: 2s}
      - {type: curtain, device: bedroom_curtain, state: open}
      - {type: curtain, device: bedroom_curtain, position: 40}
      - {type: command, device: speaker, values: {volume: 30}}""")
    async with running(engine_for(hub, db, sink, text)):
        bed(hub, False)
        await clock.advance(seconds=1)
    light = {"state": "ON", "brightness": 25, "color_temp": 400, "transition": 2}
    assert sent(hub, "zigbee2mqtt/bedroom_light/set") == [light]
    assert sent(hub, "zigbee2mqtt/bathroom_light/set") == [light]
    assert sent(hub, "zigbee2mqtt/bedroom_curtain/set") == [{"state": "OPEN"}, {"position": 40}]
    assert sent(hub, "huis/speaker/speaker/set") == [{"volume": 30}]


async def test_announce_on_the_speaker_in_dutch(hub: Hub, db: Database, sink: MemoryAlertSink,
                                                clock: VirtualClock) -> None:
    text = actions('      - {type: announce, text: "Goedemorgen {resident}. Het is {weekday} {date}, '
                   '{time}."}')
    async with running(engine_for(hub, db, sink, text)):
        bed(hub, False)
        await clock.advance(seconds=1)
    assert sent(hub, "huis/speaker/speaker/say") == [
        {"say": "Goedemorgen Mevrouw Jansen. Het is maandag 5 januari 2026, 12:00.", "language": "nl"}]


async def test_announce_without_speaker_goes_to_the_topic(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    text = actions('      - {type: announce, text: "Hallo", language: en, topic: huis/display}')
    async with running(engine_for(hub, db, sink, text)):
        bed(hub, False)
        await clock.advance(seconds=1)
    assert sent(hub, "huis/display") == [{"text": "Hallo", "language": "en"}]


async def test_alert_and_resolve_carry_the_cause_chain(hub: Hub, db: Database,
                                                       sink: MemoryAlertSink, clock: VirtualClock) -> None:
    text = actions("""
      - {type: alert, key: "night.{trigger.device}", severity: urgent, to: [anna],
         message: "{trigger.device_name} in {trigger.room_name}: {trigger.attribute} is {trigger.to}"}
      - {type: resolve, key: night.bed_sensor, reason: "test {scenario}"}
      - {type: resolve, key: night.other}""")
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        bed(hub, False)
        await clock.advance(seconds=1)
        [alert] = sink.raised
        assert alert.key == "night.bed_sensor"
        assert alert.message == "Bed in Slaapkamer: occupancy is nee"
        assert alert.data["recipients"] == ["anna"]
        assert alert.data["audience"] == "caregivers"
        origins = [c.origin for c in alert.context.chain()]
        assert origins == ["scenario:s", "scenario:s", "device:bed_sensor"]
        assert [r.reason for r in sink.resolved] == ["test s"]
        [trace] = await traces_of(engine, "s")
        assert [a["outcome"] for a in trace.actions] == ["raised alert-1", "resolved", "no active alert"]


async def test_command_events_carry_a_child_context(hub: Hub, db: Database, sink: MemoryAlertSink,
                                                    clock: VirtualClock) -> None:
    seen: list[Event] = []
    hub.bus.subscribe(seen.append, COMMAND_SENT)
    text = actions("      - {type: light, device: bedroom_light, state: on}")
    async with running(engine_for(hub, db, sink, text)):
        bed(hub, False)
        await clock.advance(seconds=1)
    [event] = seen
    assert event.context.explain().endswith("device:bed_sensor: message on zigbee2mqtt/bed_sensor")
    assert event.context.parent is not None and event.context.parent.origin == "scenario:s"


class FailingSink(MemoryAlertSink):
    async def raise_alert(self, **kwargs: Any) -> str:
        raise DeliveryError("the alert store is unavailable")


async def test_failing_action_is_recorded_and_the_run_goes_on(
        hub: Hub, db: Database, clock: VirtualClock) -> None:
    text = actions("""
      - {type: alert, severity: urgent, message: "Help"}
      - {type: light, device: bedroom_light, state: on}""")
    engine = engine_for(hub, db, FailingSink(), text)
    async with running(engine):
        bed(hub, False)
        await clock.advance(seconds=1)
        [trace] = await traces_of(engine, "s")
    assert sent(hub, "zigbee2mqtt/bedroom_light/set") == [{"state": "ON"}]
    assert trace.actions[0]["ok"] is False
    assert trace.actions[0]["outcome"] == "failed: the alert store is unavailable"
    assert trace.status == "completed"


async def test_delay_and_set_mode(hub: Hub, db: Database, sink: MemoryAlertSink,
                                  clock: VirtualClock) -> None:
    text = actions("""
      - {type: delay, duration: 5m}
      - {type: set_mode, mode: night}""")
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        bed(hub, False)
        await clock.advance(minutes=4)
        assert engine.mode == "day"
        await clock.advance(minutes=1)
        assert engine.mode == "night"


async def test_wait_trigger_or_timeout(hub: Hub, db: Database, sink: MemoryAlertSink,
                                       clock: VirtualClock) -> None:
    text = actions("""
      - type: wait
        triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: true}]
        timeout: 10m
      - type: if
        conditions: [{type: wait, result: timeout}]
        then: [{type: alert, severity: warning, message: "Niet terug"}]
        else: [{type: announce, text: "Welterusten ({wait.trigger.device_name})"}]""", mode="parallel")
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        bed(hub, False)
        await clock.advance(minutes=3)
        bed(hub, True)
        await clock.advance(seconds=1)
        assert sent(hub, "huis/speaker/speaker/say") == [{"say": "Welterusten (Bed)", "language": "nl"}]
        bed(hub, False)
        await clock.advance(minutes=10)
        assert [a.message for a in sink.raised] == ["Niet terug"]
        first, second = await traces_of(engine, "s")
        assert first.actions[0]["outcome"] == "triggered: state bed_sensor.occupancy -> true"
        assert second.actions[0]["outcome"] == "timed out"
        assert any(c.startswith("wait ended by: ") for c in first.cause)


async def test_wait_on_trigger_stop(hub: Hub, db: Database, sink: MemoryAlertSink,
                                    clock: VirtualClock) -> None:
    text = """
scenarios:
  - id: dose
    triggers: [{type: event, device: dispenser, event: dose_due}]
    actions:
      - {type: announce, text: "Tijd voor uw medicijnen ({trigger.data.dose})."}
      - type: wait
        triggers: [{type: event, device: dispenser, event: dose_taken}]
        timeout: 30m
        on_trigger: stop
      - {type: alert, severity: warning, key: "dose.{trigger.data.dose}",
         message: "Dosis {trigger.data.dose} niet ingenomen"}
"""

    def dispenser(event: str) -> None:
        hub.inject("huis/dispenser/dispenser/event",
                   {"event": event, "dose": "08:00", "time": "2026-01-05T12:00:00+01:00"})

    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        dispenser("dose_due")
        await clock.advance(minutes=20)
        dispenser("dose_taken")
        await clock.advance(minutes=30)
        assert sink.raised == []
        dispenser("dose_due")
        await clock.advance(minutes=30)
        assert [(a.key, a.message) for a in sink.raised] == [("dose.08:00", "Dosis 08:00 niet ingenomen")]
        first, _ = await traces_of(engine, "dose")
        assert first.status == "stopped"


async def test_cancel_stops_another_scenarios_run(hub: Hub, db: Database, sink: MemoryAlertSink,
                                                  clock: VirtualClock) -> None:
    text = """
scenarios:
  - id: lights
    triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: false}]
    actions:
      - {type: delay, duration: 10m}
      - {type: light, device: bedroom_light, state: on}
  - id: back
    triggers: [{type: state, device: bed_sensor, attribute: occupancy, to: true}]
    actions:
      - {type: cancel, scenario: lights}
"""
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        bed(hub, False)
        await clock.advance(minutes=5)
        bed(hub, True)
        await clock.advance(minutes=10)
        assert sent(hub, "zigbee2mqtt/bedroom_light/set") == []
        [trace] = await traces_of(engine, "lights")
        assert trace.status == "cancelled"
        assert trace.notes == ("cancelled by scenario back",)


async def test_mqtt_publish(hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    text = actions("""
      - {type: mqtt, topic: "huis/demo/{scenario}", payload: "bed {trigger.to}", retain: true}
      - {type: mqtt, topic: huis/demo/json, payload: {who: "{resident}", n: 3}, qos: 0}""")
    async with running(engine_for(hub, db, sink, text)):
        bed(hub, False)
        await clock.advance(seconds=1)
    link = hub.link
    assert isinstance(link, MemoryLink)
    assert (("huis/demo/s", b"bed nee", 1, True) in link.sent)
    assert sent(hub, "huis/demo/json") == [{"who": "Mevrouw Jansen", "n": 3}]


async def test_manual_run(hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    text = actions("      - {type: light, device: bedroom_light, state: on}")
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        engine.trigger_now("s", Context(origin="user:technician", description="test knop"))
        await clock.advance(seconds=1)
        [trace] = await traces_of(engine, "s")
    assert sent(hub, "zigbee2mqtt/bedroom_light/set") == [{"state": "ON"}]
    assert trace.trigger["type"] == "manual"
    assert trace.cause[-1] == "user:technician: test knop"
