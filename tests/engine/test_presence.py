"""The kernel parts of presence and the night exit: the `presence` settings, the `held`
condition and its memory, the presence condition's trace, and the house state's new values.

Neither `held` nor the `presence` section existed on main: those files failed to load there.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.clock import VirtualClock
from controller.config import HomeConfig, parse_home
from controller.engine import load_scenario_text
from controller.engine.stretches import Stretches
from controller.errors import ConfigError
from controller.events import Context
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink, MemoryLink
from controller.yamlfile import load_text
from devices import KINDS
from huis.compose import build_hub

from .conftest import HOME, advance_to, bed, door, engine_for, running, sent, traces_of

LIGHT = "zigbee2mqtt/hall_light/set"

SLEPT_THEN_DOOR = """
scenarios:
  - id: s
    triggers: [{type: state, device: front_door, attribute: open, to: true}]
    conditions:
      - {type: held, device: bed_sensor, attribute: occupancy, is: true, for: 30m, since: "22:00"}
    actions:
      - {type: light, device: hall_light, state: on}
"""

CONFIG = """
rooms:
  hall: {name: Hal, area: [0, 0, 100, 100]}
devices:
  front_door: {kind: contact, room: hall}
  bed_sensor: {kind: bed, room: hall}
resident: {pseudonym: Mevrouw Jansen}
presence:
  doors: [front_door, bed_sensor, voordeur]
  away_after: 0s
  overide_for: 1h
"""


def test_presence_settings_report_every_problem_with_file_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_home(load_text(CONFIG, "home.yaml"), KINDS)
    lines = str(caught.value).splitlines()
    assert ("home.yaml:9: presence.doors[1]: 'bed_sensor' is not a contact device "
            "(name a device of kind 'contact')") in lines
    assert "home.yaml:9: presence.doors[2]: unknown device 'voordeur'" in lines
    assert any(line.startswith("home.yaml:10: presence.away_after:") and "longer than 0s" in line
               for line in lines)
    assert any(line.startswith("home.yaml:11: presence.overide_for:") and "override_for" in line
               for line in lines), lines


def test_presence_defaults_every_contact_is_an_outside_door() -> None:
    cfg = HomeConfig.model_validate({**HOME, "presence": {}})
    assert cfg.presence is not None
    assert cfg.outside_doors() == ["front_door"]
    assert cfg.wander_tag() == "wander_tag"
    assert cfg.presence.away_after == timedelta(minutes=20)
    assert cfg.presence.override_for == timedelta(hours=12)


def test_stretches_find_the_longest_run_that_reaches_the_window() -> None:
    t0 = datetime(2026, 1, 5, 20, 0, tzinfo=UTC)
    s = Stretches()
    for minutes, value in ((0, True), (50, False), (60, True), (70, False), (120, True)):
        s.record("bed", "occupancy", value, t0 + timedelta(minutes=minutes))
    is_true = bool
    since = t0 + timedelta(minutes=55)
    # 20:00-20:50 ended before the window; 21:00-21:10 is 10 minutes; 22:00- is still going.
    assert s.longest("bed", "occupancy", is_true, since, t0 + timedelta(minutes=130)) == timedelta(minutes=10)
    assert s.longest("bed", "occupancy", is_true, since, t0 + timedelta(minutes=200)) == timedelta(minutes=80)
    # A stretch that began before the window and reaches into it counts in full.
    assert s.longest("bed", "occupancy", is_true, t0 + timedelta(minutes=40),
                     t0 + timedelta(minutes=130)) == timedelta(minutes=50)
    assert s.longest("door", "open", is_true, since, t0) == timedelta(0)


def test_stretches_add_up_the_time_held_within_the_window() -> None:
    t0 = datetime(2026, 1, 5, 20, 0, tzinfo=UTC)
    s = Stretches()
    for minutes, value in ((0, True), (50, False), (60, True), (70, False), (120, True)):
        s.record("bed", "occupancy", value, t0 + timedelta(minutes=minutes))
    since = t0 + timedelta(minutes=40)
    # 20:40-20:50 (cut at the window), 21:00-21:10, and 22:00 until now.
    assert s.total("bed", "occupancy", bool, since, t0 + timedelta(minutes=130)) == timedelta(minutes=30)
    assert s.total("bed", "occupancy", bool, t0, t0 + timedelta(minutes=130)) == timedelta(minutes=70)
    assert s.total("bed", "occupancy", lambda v: v is False, since, t0 + timedelta(minutes=130)) \
        == timedelta(minutes=60)
    assert s.total("door", "open", bool, since, t0) == timedelta(0)


def test_a_value_first_seen_counts_from_the_horizon() -> None:
    now = datetime(2026, 1, 6, 2, 0, tzinfo=UTC)
    s = Stretches(keep=timedelta(hours=36))
    s.first_seen("bed", "occupancy", True, now)
    s.first_seen("bed", "occupancy", False, now)  # not first any more: ignored
    assert s.longest("bed", "occupancy", bool, now - timedelta(hours=4), now) == timedelta(hours=36)


async def test_held_fires_only_after_a_stretch_in_bed_and_the_trace_says_how_long(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    async with running(engine_for(hub, db, sink, SLEPT_THEN_DOOR)) as engine:
        bed(hub, False)  # known empty first: a first report of "occupied" would count as asleep
        await advance_to(clock, "22:30")
        bed(hub, True)
        await clock.advance(minutes=29)
        bed(hub, False)
        door(hub, True)
        await clock.advance(seconds=1)
        assert sent(hub, LIGHT) == []
        [trace] = await traces_of(engine, "s")
        assert trace.status == "not_fired"
        assert trace.conditions[0]["condition"] == (
            "held bed_sensor.occupancy is true for 30 minutes since 22:00 [longest 29 minutes]")
        door(hub, False)
        bed(hub, True)
        await clock.advance(minutes=31)
        bed(hub, False)
        door(hub, True)
        await clock.advance(seconds=1)
        assert sent(hub, LIGHT) == [{"state": "ON"}]


def test_held_names_an_attribute_the_device_has() -> None:
    text = SLEPT_THEN_DOOR.replace("attribute: occupancy, is: true", "attribute: occupied, is: true")
    with pytest.raises(ConfigError) as caught:
        load_scenario_text(text, HomeConfig.model_validate(HOME), KINDS, "s.yaml")
    assert str(caught.value) == ("s.yaml:6: scenarios[0].conditions[0].attribute: a bed has no "
                                 "attribute 'occupied' (did you mean 'occupancy'?)")


async def test_the_presence_condition_says_why_in_the_trace(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    text = SLEPT_THEN_DOOR.replace(
        '{type: held, device: bed_sensor, attribute: occupancy, is: true, for: 30m, since: "22:00"}',
        "{type: resident, is: home}")
    async with running(engine_for(hub, db, sink, text)) as engine:
        engine.set_presence("away", Context(origin="user:anna", description="in het ziekenhuis"))
        assert engine.presence_info()["presence_reason"] == "ingesteld door user:anna"
        door(hub, True)
        await clock.advance(seconds=1)
        [trace] = await traces_of(engine, "s")
        assert trace.conditions[0]["condition"] == (
            "resident is home [presence is away: ingesteld door user:anna]")


async def test_unknown_is_a_presence_and_survives_a_restart(
        hub: Hub, db: Database, sink: MemoryAlertSink, clock: VirtualClock) -> None:
    async with running(engine_for(hub, db, sink, SLEPT_THEN_DOOR)) as engine:
        engine.set_presence("unknown", Context(origin="user:team"))
        await engine.flush()
    async with running(engine_for(hub, db, sink, SLEPT_THEN_DOOR)) as again:
        info: dict[str, Any] = again.presence_info()
        assert (info["presence"], info["presence_reason"], info["inferred"]) == (
            "unknown", "ingesteld door user:team", False)


async def test_an_inside_door_says_home_and_not_home_from_a_tag_says_away(
        clock: VirtualClock, db: Database, sink: MemoryAlertSink) -> None:
    devices = {**HOME["devices"], "bathroom_door": {"kind": "contact", "room": "bathroom", "name": "Badkamerdeur"}}
    cfg = HomeConfig.model_validate({**HOME, "devices": devices,
                                     "presence": {"doors": ["front_door"], "away_after": "20m"}})
    hub = build_hub(cfg, clock, MemoryLink())
    async with running(engine_for(hub, db, sink, SLEPT_THEN_DOOR)) as engine:
        hub.inject("zigbee2mqtt/bathroom_door", {"contact": True})
        door(hub, False)
        await clock.advance(seconds=1)
        door(hub, True)
        await clock.advance(seconds=10)
        door(hub, False)
        await clock.advance(minutes=20)
        assert engine.presence == "away"
        hub.inject("zigbee2mqtt/bathroom_door", {"contact": False})  # she was in the bathroom
        await clock.advance(seconds=1)
        assert engine.presence == "home"
        assert engine.presence_info()["presence_reason"] == (
            "thuis sinds 12:20, omdat Badkamerdeur om 12:20 werd gebruikt")
        # A tag that speaks Home Assistant: not_home soon after the front door opened.
        hub.state.update("wander_tag", {"room": "hall"}, clock.now())
        door(hub, True)
        hub.apply("wander_tag", {"room": "not_home"}, Context(origin="test"))
        await clock.advance(seconds=1)
        assert engine.presence == "away"
