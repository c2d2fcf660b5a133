"""Each trigger type, driven through the hub as devices would."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.clock import VirtualClock
from controller.events import ALERT_CHANGED, Context
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink

from .conftest import advance_to, bed, door, engine_for, local, running, sent, traces_of

LIGHT = "zigbee2mqtt/bedroom_light/set"


def scenario(trigger: str, extra: str = "") -> str:
    return f"""
scenarios:
  - id: s
    mode: parallel
    triggers:
      - {trigger}
    actions:
      - {{type: light, device: bedroom_light, state: on}}
{extra}"""


async def test_state_to_fires_on_the_edge_only(hub: Hub, db: Database, sink: MemoryAlertSink,
                                               clock: VirtualClock) -> None:
    text = scenario("{type: state, device: bed_sensor, attribute: occupancy, to: false}")
    async with running(engine_for(hub, db, sink, text)):
        bed(hub, True)
        bed(hub, False)
        hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False, "battery": 80})  # no edge
        await clock.advance(seconds=1)
        assert len(sent(hub, LIGHT)) == 1
        bed(hub, True)
        bed(hub, False)
        await clock.advance(seconds=1)
        assert len(sent(hub, LIGHT)) == 2


async def test_state_from_filters_the_old_value(hub: Hub, db: Database, sink: MemoryAlertSink,
                                                clock: VirtualClock) -> None:
    text = scenario("{type: state, device: bed_sensor, attribute: occupancy, from: false, to: true}")
    async with running(engine_for(hub, db, sink, text)):
        bed(hub, True)  # unknown -> true: not from false
        await clock.advance(seconds=1)
        assert sent(hub, LIGHT) == []
        bed(hub, False)
        bed(hub, True)
        await clock.advance(seconds=1)
        assert len(sent(hub, LIGHT)) == 1


async def test_for_fires_after_the_duration(hub: Hub, db: Database, sink: MemoryAlertSink,
                                            clock: VirtualClock) -> None:
    text = scenario("{type: state, device: bed_sensor, attribute: occupancy, to: false, for: 10m}")
    async with running(engine_for(hub, db, sink, text)):
        bed(hub, False)
        await clock.advance(minutes=9, seconds=59)
        assert sent(hub, LIGHT) == []
        await clock.advance(seconds=1)
        assert sent(hub, LIGHT) == [{"state": "ON"}]


async def test_for_is_cancelled_by_going_back_and_says_so(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    text = scenario("{type: state, device: bed_sensor, attribute: occupancy, to: false, for: 10m}")
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        bed(hub, False)
        await clock.advance(minutes=9)
        bed(hub, True)
        await clock.advance(minutes=30)
        assert sent(hub, LIGHT) == []
        [trace] = await traces_of(engine, "s")
        assert trace.status == "not_fired"
        assert trace.notes == ("cancelled: bed_sensor.occupancy became true after 9m (needed 10m)",)


async def test_for_keeps_its_deadline_while_the_value_stays_matching(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    text = scenario("{type: state, device: wander_tag, attribute: room, to: [outside/unknown, garden], "
                    "for: 5m}")
    async with running(engine_for(hub, db, sink, text)):
        hub.apply("wander_tag", {"room": "hall"}, Context(origin="test"))
        hub.apply("wander_tag", {"room": "garden"}, Context(origin="test"))
        await clock.advance(minutes=3)
        hub.apply("wander_tag", {"room": "outside/unknown"}, Context(origin="test"))
        await clock.advance(minutes=2)
        assert len(sent(hub, LIGHT)) == 1


async def test_match_all_means_no_device_matches_otherwise(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    # "No motion anywhere for 3 hours": every motion sensor false, for 3 h without a break.
    text = scenario("{type: state, kind: motion, attribute: occupancy, to: false, match: all, for: 3h}")
    async with running(engine_for(hub, db, sink, text)):
        for room in ("bedroom", "hall", "living"):
            hub.inject(f"zigbee2mqtt/{room}_motion", {"occupancy": False})
        await clock.advance(hours=2)
        hub.inject("zigbee2mqtt/hall_motion", {"occupancy": True})
        await clock.advance(minutes=2)
        hub.inject("zigbee2mqtt/hall_motion", {"occupancy": False})
        await clock.advance(hours=2, minutes=59)
        assert sent(hub, LIGHT) == []
        await clock.advance(minutes=1)
        assert len(sent(hub, LIGHT)) == 1


async def test_below_fires_when_crossing(hub: Hub, db: Database, sink: MemoryAlertSink,
                                         clock: VirtualClock) -> None:
    text = scenario("{type: state, device: bed_sensor, attribute: battery, below: 15}")
    async with running(engine_for(hub, db, sink, text)):
        for level in (40, 16, 14, 12, 50, 10):
            hub.inject("zigbee2mqtt/bed_sensor", {"battery": level})
        await clock.advance(seconds=1)
        assert len(sent(hub, LIGHT)) == 2  # 16 -> 14 and 50 -> 10


async def test_time_trigger_with_weekdays(hub: Hub, db: Database, sink: MemoryAlertSink,
                                          clock: VirtualClock) -> None:
    # The clock starts on Monday 5 January 2026, 12:00 in Amsterdam.
    text = scenario('{type: time, at: "07:30", weekdays: [sat, sun]}')
    async with running(engine_for(hub, db, sink, text)):
        await clock.advance(hours=24 * 4)  # up to Friday noon
        assert sent(hub, LIGHT) == []
        await advance_to(clock, "07:29")  # Saturday
        assert sent(hub, LIGHT) == []
        await clock.advance(minutes=1)
        assert len(sent(hub, LIGHT)) == 1
        assert local(clock).strftime("%a %H:%M") == "Sat 07:30"
        await clock.advance(hours=24)  # Sunday 07:30
        assert len(sent(hub, LIGHT)) == 2
        await clock.advance(hours=24)  # Monday
        assert len(sent(hub, LIGHT)) == 2


async def test_sun_trigger_with_offset(hub: Hub, db: Database, sink: MemoryAlertSink,
                                       clock: VirtualClock) -> None:
    # Sunset in Zwolle on 5 January 2026 is at 16:36:32 local (astral); 30 minutes before: 16:06.
    text = scenario("{type: sun, event: sunset, offset: -30m}")
    async with running(engine_for(hub, db, sink, text)):
        await clock.run_until(datetime(2026, 1, 5, 15, 6, 32, tzinfo=UTC))
        assert sent(hub, LIGHT) == []
        await clock.advance(seconds=1)
        assert len(sent(hub, LIGHT)) == 1


async def test_device_event_with_data(hub: Hub, db: Database, sink: MemoryAlertSink,
                                      clock: VirtualClock) -> None:
    text = scenario("{type: event, device: dispenser, event: dose_due, data: {dose: '08:00'}}")
    async with running(engine_for(hub, db, sink, text)):
        for dose in ("13:00", "08:00"):
            hub.inject("huis/dispenser/dispenser/event",
                       {"event": "dose_due", "dose": dose, "time": "2026-01-05T12:00:00+01:00"})
        hub.inject("huis/dispenser/dispenser/event",
                   {"event": "dose_taken", "dose": "08:00", "time": "2026-01-05T12:00:00+01:00"})
        await clock.advance(seconds=1)
        assert len(sent(hub, LIGHT)) == 1


async def test_sos_event(hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    text = scenario("{type: event, device: sos_button, event: emergency}")
    async with running(engine_for(hub, db, sink, text)):
        hub.inject("zigbee2mqtt/sos_button", {"action": "emergency", "battery": 90})
        await clock.advance(seconds=1)
        assert len(sent(hub, LIGHT)) == 1


async def test_alert_trigger_follows_alert_events(hub: Hub, db: Database, sink: MemoryAlertSink,
                                                  clock: VirtualClock) -> None:
    text = scenario("{type: alert, action: acknowledged, severity: urgent}")

    def alert(action: str, severity: str) -> None:
        hub.bus.publish(ALERT_CHANGED.event(time=clock.now(),
                              context=Context(origin="user:anna"),
                              data={"action": action, "key": "k", "scenario": "x",
                                    "severity": severity, "by": "anna"}))

    async with running(engine_for(hub, db, sink, text)):
        alert("acknowledged", "warning")
        alert("escalated", "urgent")
        await clock.advance(seconds=1)
        assert sent(hub, LIGHT) == []
        alert("acknowledged", "urgent")
        await clock.advance(seconds=1)
        assert len(sent(hub, LIGHT)) == 1


async def test_hub_device_offline_and_battery_low(hub: Hub, db: Database, sink: MemoryAlertSink,
                                                  clock: VirtualClock) -> None:
    text = """
scenarios:
  - id: health
    mode: parallel
    triggers:
      - {type: hub, event: device_offline, kind: bed}
      - {type: hub, event: battery_low, below: 15}
    actions:
      - {type: alert, key: "health.{trigger.device}.{trigger.event}", severity: info,
         audience: technician, message: "{trigger.device_name}: {trigger.event}"}
"""
    async with running(engine_for(hub, db, sink, text)):
        bed(hub, True)
        hub.inject("zigbee2mqtt/front_door", {"contact": True, "battery": 14})
        hub.inject("zigbee2mqtt/bed_sensor/availability", {"state": "offline"})
        hub.inject("zigbee2mqtt/front_door/availability", {"state": "offline"})  # not a bed
        await clock.advance(seconds=1)
        assert [(a.key, a.message) for a in sink.raised] == [
            ("health.front_door.battery_low", "Voordeur: battery_low"),
            ("health.bed_sensor.device_offline", "Bed: device_offline"),
        ]
        assert sink.raised[0].data["audience"] == "technician"


async def test_available_attribute_with_for(hub: Hub, db: Database, sink: MemoryAlertSink,
                                            clock: VirtualClock) -> None:
    text = scenario("{type: state, device: bed_sensor, attribute: available, to: false, for: 1h}")
    async with running(engine_for(hub, db, sink, text)):
        bed(hub, True)
        hub.inject("zigbee2mqtt/bed_sensor/availability", {"state": "offline"})
        await clock.advance(minutes=59)
        assert sent(hub, LIGHT) == []
        await clock.advance(minutes=1)
        assert len(sent(hub, LIGHT)) == 1


async def test_mode_and_presence_triggers(hub: Hub, db: Database, sink: MemoryAlertSink,
                                          clock: VirtualClock) -> None:
    text = """
scenarios:
  - id: to_night
    triggers: [{type: mode, from: day, to: night}]
    actions: [{type: light, device: bedroom_light, state: off}]
  - id: away
    triggers: [{type: presence, to: away}]
    actions: [{type: light, device: bedroom_light, state: on}]
"""
    engine = engine_for(hub, db, sink, text)
    async with running(engine):
        engine.set_mode("night", Context(origin="user:anna"))
        engine.set_mode("night", Context(origin="user:anna"))  # no change, no event
        engine.set_presence("away", Context(origin="user:anna"))
        await clock.advance(seconds=1)
        assert sent(hub, LIGHT) == [{"state": "OFF"}, {"state": "ON"}]


async def test_door_open_attribute(hub: Hub, db: Database, sink: MemoryAlertSink,
                                   clock: VirtualClock) -> None:
    text = scenario("{type: state, device: front_door, attribute: open, to: true}")
    async with running(engine_for(hub, db, sink, text)):
        door(hub, False)
        door(hub, True)
        await clock.advance(seconds=1)
        assert len(sent(hub, LIGHT)) == 1


async def test_hub_payload_error_and_mqtt_link(hub: Hub, db: Database, sink: MemoryAlertSink,
                                               clock: VirtualClock) -> None:
    text = """
scenarios:
  - id: hub
    mode: parallel
    triggers:
      - {type: hub, event: payload_error, device: bed_sensor}
      - {type: hub, event: mqtt_disconnected}
    actions:
      - {type: alert, key: "hub.{trigger.event}", severity: info, audience: technician,
         message: "{trigger.event}"}
"""
    async with running(engine_for(hub, db, sink, text)):
        hub.inject("zigbee2mqtt/bed_sensor", b"not json")
        hub.inject("zigbee2mqtt/front_door", b"not json")  # another device
        hub.link_status(True)
        hub.link_status(False)
        await clock.advance(seconds=1)
        assert [a.key for a in sink.raised] == ["hub.payload_error", "hub.mqtt_disconnected"]
