"""The simulated demo home: initial states, named simulators, remote control, stories, shutdown."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from controller.clock import VirtualClock
from controller.config import HomeConfig
from simulators.base import SimulationError
from simulators.connection import MemoryBus
from simulators.home import CONTROL_TOPIC, STATUS_TOPIC, SimulatedHome, run_simulators, serve_home
from simulators.story_scripts import STORIES
from tests.conftest import Mosquitto
from tests.simulators.conftest import Recorder, rig

NIGHT = datetime(2026, 1, 6, 2, 0, tzinfo=UTC)  # 03:00 in Zwolle


async def test_home_at_night_starts_asleep(mosquitto: Mosquitto, demo_config: HomeConfig) -> None:
    clock = VirtualClock(NIGHT)
    home = SimulatedHome(demo_config, clock)
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        home.start(r.conn, r.tg)
        try:
            await r.sync()
            rec = r.rec
            assert rec.raw(STATUS_TOPIC) == [b"online"]
            for dev_id, dev in demo_config.devices.items():
                if dev.kind != "tag":
                    base = home[dev_id].spec.topic
                    assert rec.payloads(f"{base}/availability") == [{"state": "online"}], dev_id
            assert rec.payloads("zigbee2mqtt/bed_sensor")[0]["occupancy"] is True
            assert rec.payloads("zigbee2mqtt/front_door")[0]["contact"] is True
            assert rec.payloads("zigbee2mqtt/hall_light")[0]["state"] == "OFF"
            assert rec.payloads("zigbee2mqtt/bedroom_curtain")[0]["position"] == 0
            assert rec.payloads("zigbee2mqtt/hall_motion")[0]["occupancy"] is False
            assert rec.payloads("zigbee2mqtt/hall_motion")[0]["illuminance"] == 0
            assert rec.payloads("espresense/devices/wander_tag/bedroom")
            assert rec.raw("espresense/rooms/hall/status") == [b"online"]
            assert rec.payloads("huis/dispenser/dispenser/state")[0]["next_dose"] == "08:00"

            home["bed_sensor"].set_occupancy(False)
            await rec.until("zigbee2mqtt/bed_sensor", lambda p: p["occupancy"] is False)
            assert [p["occupancy"] for p in rec.payloads("zigbee2mqtt/bed_sensor")] == [True, False]
        finally:
            home.stop()


async def test_home_by_day_is_up_and_about(mosquitto: Mosquitto, demo_config: HomeConfig,
                                           clock: VirtualClock) -> None:
    home = SimulatedHome(demo_config, clock)
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        home.start(r.conn, r.tg)
        try:
            await r.sync()
            assert r.rec.payloads("zigbee2mqtt/bed_sensor")[0]["occupancy"] is False
            assert r.rec.payloads("zigbee2mqtt/living_curtain")[0]["position"] == 100
            assert r.rec.payloads("espresense/devices/wander_tag/living")
            assert not r.rec.payloads("espresense/devices/wander_tag/bedroom")
        finally:
            home.stop()


async def test_lookup_errors_suggest_the_right_name(demo_config: HomeConfig,
                                                    clock: VirtualClock) -> None:
    home = SimulatedHome(demo_config, clock)
    with pytest.raises(KeyError, match="did you mean 'front_door'"):
        home["frontdoor"]
    with pytest.raises(SimulationError, match="did you mean 'contact'"):
        await home.apply("front_door", {"contakt": "false"})
    with pytest.raises(SimulationError, match="did you mean 'night_exit'"):
        home.story("nightexit")
    with pytest.raises(SimulationError, match="did you mean 'hall'"):
        home.move_resident("hal")


async def test_control_topic_drives_the_running_home(mosquitto: Mosquitto, demo_config: HomeConfig,
                                                     clock: VirtualClock) -> None:
    home = SimulatedHome(demo_config, clock)
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        home.start(r.conn, r.tg)
        try:
            await r.sync()
            r.command(CONTROL_TOPIC, {"id": "t1", "device": "front_door", "set": {"contact": "false"}})
            assert await r.rec.next("huis/simulators/reply/t1") == {"id": "t1", "ok": True}
            assert r.rec.payloads("zigbee2mqtt/front_door")[-1]["contact"] is False

            r.command(CONTROL_TOPIC, {"id": "t2", "device": "frontdoor", "set": {"contact": False}})
            reply = await r.rec.next("huis/simulators/reply/t2")
            assert reply["ok"] is False and "did you mean 'front_door'" in reply["error"]

            r.command(CONTROL_TOPIC, {"id": "t3", "resident": "kitchen"})
            assert (await r.rec.next("huis/simulators/reply/t3"))["ok"] is True
            assert (await r.rec.next("zigbee2mqtt/kitchen_motion"))["occupancy"] is False  # start
            assert (await r.rec.next("zigbee2mqtt/kitchen_motion"))["occupancy"] is True
            await r.rec.next("espresense/devices/wander_tag/kitchen")

            r.command(CONTROL_TOPIC, {"id": "t4", "story": "night_toilet"})
            await r.roundtrip()
            # The story takes 8 minutes: so far only its pace and first steps (progress).
            assert all("ok" not in p for p in r.rec.payloads("huis/simulators/reply/t4"))
            await clock.advance(minutes=8)
            assert await r.rec.until("huis/simulators/reply/t4", lambda p: "ok" in p) == {"id": "t4", "ok": True}
            occupancy = [p["occupancy"] for p in r.rec.payloads("zigbee2mqtt/bed_sensor")]
            assert occupancy[-3:] == [True, False, True]
        finally:
            home.stop()


async def test_run_simulators_says_offline_when_stopped(mosquitto: Mosquitto,
                                                        demo_config: HomeConfig,
                                                        clock: VirtualClock) -> None:
    watcher = Recorder(mosquitto.host, mosquitto.port, clock, STATUS_TOPIC)
    async with asyncio.TaskGroup() as tg:
        watching = tg.create_task(watcher.link.run())
        running = tg.create_task(run_simulators(demo_config, clock, mosquitto.host, mosquitto.port))
        assert await watcher.wait_for(lambda: b"online" in watcher.raw(STATUS_TOPIC)) is None
        running.cancel()
        await watcher.wait_for(lambda: watcher.raw(STATUS_TOPIC)[-1:] == [b"offline"])
        watching.cancel()
    # A client arriving now finds every device offline, as the retained availability says.
    expected = len([d for d in demo_config.devices.values() if d.kind != "tag"])
    late = Recorder(mosquitto.host, mosquitto.port, clock)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(late.link.run())
        late.link.send("test/marker", b"x")  # comes back after the retained messages
        await late.wait_for(lambda: bool(late.raw("test/marker")))
        task.cancel()
    availability = {t: json.loads(p) for t, p in late.messages if t.endswith("/availability")}
    assert len(availability) == expected  # every device but the tag, which has no availability
    assert set(map(json.dumps, availability.values())) == {json.dumps({"state": "offline"})}
    assert late.raw("espresense/rooms/hall/status") == [b"offline"]


async def test_serve_home_hands_out_the_running_home(mosquitto: Mosquitto,
                                                     demo_config: HomeConfig,
                                                     clock: VirtualClock) -> None:
    from controller.mqtt import LinkSettings
    from simulators.connection import BrokerConnection

    conn = BrokerConnection(LinkSettings(host=mosquitto.host, port=mosquitto.port,
                                         client_id="serve-test", status_topic=STATUS_TOPIC), clock)
    ready: asyncio.Queue[SimulatedHome] = asyncio.Queue()
    home = SimulatedHome(demo_config, clock)
    task = asyncio.create_task(serve_home(home, conn, ready.put_nowait))
    try:
        async with asyncio.timeout(5):
            assert await ready.get() is home
        assert home["sos_button"].kind == "sos"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# -- stories, on an in-memory bus -------------------------------------------------------------


async def _play(demo_config: HomeConfig, name: str, start: datetime) -> MemoryBus:
    clock = VirtualClock(start)
    home = SimulatedHome(demo_config, clock)
    bus = MemoryBus()
    async with asyncio.TaskGroup() as tg:
        home.start(bus, tg)
        bus.sent.clear()
        player = tg.create_task(home.play(name))
        await clock.advance(STORIES[name].duration)
        await player
        home.stop()
    return bus


@pytest.mark.parametrize("name", list(STORIES))
async def test_every_story_plays_in_the_demo_home(demo_config: HomeConfig, name: str) -> None:
    bus = await _play(demo_config, name, NIGHT)
    assert bus.sent  # something happened
    assert bus.retained[STATUS_TOPIC] == b"offline"


def _occupied(bus: MemoryBus, topic: str) -> list[bool]:
    return [m.json()["occupancy"] for m in bus.on(topic)]


async def test_night_exit_walks_to_the_bathroom_and_back(demo_config: HomeConfig) -> None:
    bus = await _play(demo_config, "night_toilet", NIGHT)
    assert _occupied(bus, "zigbee2mqtt/bed_sensor") == [True, False, True]
    for room in ("bedroom", "hall", "bathroom"):
        assert True in _occupied(bus, f"zigbee2mqtt/{room}_motion"), room
    assert not _occupied(bus, "zigbee2mqtt/kitchen_motion")
    rooms = [m.topic.rsplit("/", 1)[1] for m in bus.sent if m.topic.startswith("espresense/devices/")]
    visited = [r for i, r in enumerate(rooms) if i == 0 or rooms[i - 1] != r]
    assert visited == ["bedroom", "hall", "bathroom", "hall", "bedroom"]
    assert not bus.on("zigbee2mqtt/front_door")  # this variant stays inside
    # Asleep at the start: the bedroom sensor sees nothing until she is out of bed.
    out_of_bed = next(i for i, m in enumerate(bus.sent)
                      if m.topic == "zigbee2mqtt/bed_sensor" and m.json()["occupancy"] is False)
    first_motion = next(i for i, m in enumerate(bus.sent)
                        if m.topic == "zigbee2mqtt/bedroom_motion" and m.json()["occupancy"])
    assert out_of_bed < first_motion


async def test_night_exit_door_opens_the_front_door(demo_config: HomeConfig) -> None:
    bus = await _play(demo_config, "night_exit_door", NIGHT)
    assert [m.json()["contact"] for m in bus.on("zigbee2mqtt/front_door")] == [False, True]


async def test_wandering_tag_goes_silent_outside(demo_config: HomeConfig,
                                                 clock: VirtualClock) -> None:
    bus = await _play(demo_config, "wandering", clock.now())
    tag_topics = [i for i, m in enumerate(bus.sent) if m.topic.startswith("espresense/devices/")]
    door_closed = next(i for i, m in enumerate(bus.sent)
                       if m.topic == "zigbee2mqtt/front_door" and m.json()["contact"] is True)
    # The tag's last report comes from the hall before she is out and the door has shut behind
    # her; over eight minutes of silence follow.
    assert bus.sent[tag_topics[-1]].topic == "espresense/devices/wander_tag/hall"
    assert tag_topics[-1] < door_closed


async def test_missed_medication_story(demo_config: HomeConfig, clock: VirtualClock) -> None:
    bus = await _play(demo_config, "missed_medication", clock.now())
    events = [m.json()["event"] for m in bus.on("huis/dispenser/dispenser/event")]
    assert events[:2] == ["dose_due", "dose_missed"]


async def test_morning_routine_leaves_the_medication_to_its_own_story(demo_config: HomeConfig) -> None:
    morning = datetime(2026, 1, 6, 5, 58, tzinfo=UTC)  # 06:58 in Zwolle, a Tuesday
    bus = await _play(demo_config, "morning_routine", morning)
    assert [m.json()["event"] for m in bus.on("huis/dispenser/dispenser/event")] == []
    assert _occupied(bus, "zigbee2mqtt/bed_sensor") == [True, False]
