"""Zigbee2MQTT simulators on a real mosquitto: exact payloads, retain flags, commands, timing."""

from __future__ import annotations

from controller.clock import VirtualClock
from simulators.zigbee import (
    BedSimulator,
    ContactSimulator,
    CurtainSimulator,
    LightSimulator,
    MotionSimulator,
    SosSimulator,
)
from tests.conftest import Mosquitto
from tests.simulators.conftest import Recorder, rig, spec


async def test_bed_announces_itself_and_publishes_occupancy(mosquitto: Mosquitto,
                                                            clock: VirtualClock) -> None:
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        bed = r.start(BedSimulator(spec("bed_sensor", "bed", battery=87), clock))
        assert await r.rec.next("zigbee2mqtt/bed_sensor/availability") == {"state": "online"}
        first = await r.rec.next("zigbee2mqtt/bed_sensor")
        assert set(first) == {"occupancy", "battery", "linkquality"}
        assert first["occupancy"] is False and first["battery"] == 87
        assert 0 <= first["linkquality"] <= 255

        bed.set_occupancy(True)
        assert (await r.rec.next("zigbee2mqtt/bed_sensor"))["occupancy"] is True


async def test_availability_is_retained_and_state_is_not(mosquitto: Mosquitto,
                                                         clock: VirtualClock) -> None:
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        r.start(BedSimulator(spec("bed_sensor", "bed"), clock))
        await r.sync()
        assert r.rec.payloads("zigbee2mqtt/bed_sensor")  # it was published...
        # ...but a client that subscribes afterwards gets only what Z2M retains.
        late = Recorder(mosquitto.host, mosquitto.port, clock, "zigbee2mqtt/#")
        task = r.tg.create_task(late.link.run())
        try:
            assert await late.next("zigbee2mqtt/bed_sensor/availability") == {"state": "online"}
            r.sims[0].publish_state()
            await late.next("zigbee2mqtt/bed_sensor")
            assert [t for t, _ in late.messages] == ["zigbee2mqtt/bed_sensor/availability",
                                                     "zigbee2mqtt/bed_sensor"]
        finally:
            task.cancel()


async def test_contact_reports_open_and_closed_with_voltage(mosquitto: Mosquitto,
                                                            clock: VirtualClock) -> None:
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        door = r.start(ContactSimulator(spec("front_door", "contact", battery=100), clock))
        closed = await r.rec.next("zigbee2mqtt/front_door")
        assert set(closed) == {"contact", "battery", "voltage", "linkquality"}
        assert closed["contact"] is True
        assert closed["battery"] == 100 and closed["voltage"] == 3000

        door.open()
        assert (await r.rec.next("zigbee2mqtt/front_door"))["contact"] is False
        door.close()
        assert (await r.rec.next("zigbee2mqtt/front_door"))["contact"] is True


async def test_motion_resets_after_the_occupancy_timeout(mosquitto: Mosquitto,
                                                         clock: VirtualClock) -> None:
    topic = "zigbee2mqtt/hall_motion"
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        motion = r.start(MotionSimulator(spec("hall_motion", "motion"), clock))
        idle = await r.rec.next(topic)
        assert set(idle) == {"occupancy", "illuminance", "illuminance_lux", "battery", "voltage",
                             "linkquality"}
        assert idle["occupancy"] is False
        assert idle["illuminance"] == idle["illuminance_lux"] > 0  # noon in January

        assert motion.detect()
        assert (await r.rec.next(topic))["occupancy"] is True
        await clock.advance(seconds=30)
        assert not motion.detect()  # blind for 60 s after a detection, like the real sensor
        await clock.advance(seconds=59)
        await r.sync()
        assert r.rec.unread(topic) == []  # 89 s: still occupied

        await clock.advance(seconds=1)
        assert (await r.rec.next(topic))["occupancy"] is False


async def test_motion_keeps_detecting_while_someone_stays(mosquitto: Mosquitto,
                                                          clock: VirtualClock) -> None:
    topic = "zigbee2mqtt/bathroom_motion"
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        motion = r.start(MotionSimulator(spec("bathroom_motion", "motion"), clock))
        await r.rec.next(topic)
        motion.set_presence(True)
        await clock.advance(minutes=5)
        motion.set_presence(False)
        await clock.advance(minutes=3)
        await r.sync()
        seen = [p["occupancy"] for p in r.rec.unread(topic)]
        # A detection on entering and one after every blind period, never a gap of 90 s;
        # then one reset, 90 s after the last detection.
        assert seen == [True] * 5 + [False]


async def test_sos_press_is_an_emergency_action(mosquitto: Mosquitto, clock: VirtualClock) -> None:
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        button = r.start(SosSimulator(spec("sos_button", "sos"), clock))
        heartbeat = await r.rec.next("zigbee2mqtt/sos_button")
        assert set(heartbeat) == {"battery", "linkquality"}
        button.press()
        pressed = await r.rec.next("zigbee2mqtt/sos_button")
        assert set(pressed) == {"action", "battery", "linkquality"}
        assert pressed["action"] == "emergency"


async def test_light_obeys_set_like_zigbee2mqtt(mosquitto: Mosquitto, clock: VirtualClock) -> None:
    topic = "zigbee2mqtt/hall_light"
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        light = r.start(LightSimulator(spec("hall_light", "light"), clock))
        assert (await r.rec.next(topic))["state"] == "OFF"
        assert light.battery is None  # mains powered: no battery in its payloads

        r.command(f"{topic}/set", {"state": "ON", "brightness": 128, "transition": 2})
        on = await r.rec.next(topic)
        assert set(on) == {"state", "brightness", "linkquality"}
        assert (on["state"], on["brightness"]) == ("ON", 128)

        r.command(f"{topic}/set", {"brightness": 0})
        assert (await r.rec.next(topic))["state"] == "OFF"
        r.command(f"{topic}/set", {"brightness": 40})  # brightness switches an off bulb on
        assert await _state(r.rec, topic) == ("ON", 40)
        r.command(f"{topic}/set", b"OFF")  # a bare value means 'state'
        assert await _state(r.rec, topic) == ("OFF", 40)
        r.command(f"{topic}/set/state", b"TOGGLE")
        assert await _state(r.rec, topic) == ("ON", 40)
        # LED1623G12 has no colour temperature: Z2M ignores it, the rest still applies.
        r.command(f"{topic}/set", {"color_temp": 300, "brightness": 200})
        after = await r.rec.next(topic)
        assert "color_temp" not in after and after["brightness"] == 200


async def test_white_spectrum_light_obeys_color_temp(mosquitto: Mosquitto,
                                                     clock: VirtualClock) -> None:
    topic = "zigbee2mqtt/living_light"
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        r.start(LightSimulator(spec("living_light", "light", model="LED1545G12"), clock))
        await r.rec.next(topic)
        r.command(f"{topic}/set", {"state": "ON", "color_temp": 600})
        assert (await r.rec.next(topic))["color_temp"] == 454  # clamped to what the bulb does
        # Zigbee2MQTT's presets, as the hub's light adapter sends them (fails on a simulator that
        # took only numbers): the model's ends and the fixed points 250, 370, 454.
        for preset, mireds in (("coolest", 250), ("neutral", 370), ("warm", 454), ("Cool", 250)):
            r.command(f"{topic}/set", {"color_temp": preset})
            assert (await r.rec.next(topic))["color_temp"] == mireds
        r.command(f"{topic}/set", {"color_temp": "lukewarm"})
        await r.roundtrip()
        r.command(f"{topic}/set", {"color_temp": "neutral"})
        assert (await r.rec.next(topic))["color_temp"] == 370  # "lukewarm" was refused, not obeyed


async def test_light_ignores_bad_commands_and_commands_while_offline(mosquitto: Mosquitto,
                                                                     clock: VirtualClock) -> None:
    topic = "zigbee2mqtt/kitchen_light"
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        light = r.start(LightSimulator(spec("kitchen_light", "light"), clock))
        await r.rec.next(topic)
        r.command(f"{topic}/set", {"state": "DIM"})
        await r.roundtrip()
        assert r.rec.unread(topic) == []  # Z2M refuses it and publishes nothing

        light.set_online(False)
        assert await r.rec.until(f"{topic}/availability", lambda p: p["state"] == "offline")
        r.command(f"{topic}/set", {"state": "ON"})
        await r.roundtrip()
        assert r.rec.unread(topic) == [] and light.on is False


async def test_curtain_moves_over_clock_time(mosquitto: Mosquitto, clock: VirtualClock) -> None:
    topic = "zigbee2mqtt/bedroom_curtain"
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        curtain = r.start(CurtainSimulator(spec("bedroom_curtain", "curtain"), clock))
        closed = await r.rec.next(topic)
        assert closed["position"] == 0 and closed["state"] == "CLOSE" and closed["running"] is False

        r.command(f"{topic}/set", {"position": 50})
        started = await r.rec.next(topic)
        assert started["running"] is True and started["position"] == 0
        assert started["motor_state"] == "opening"
        await clock.advance(seconds=5)
        await r.rec.wait_for(lambda: len(r.rec.unread(topic)) >= 2)
        moving = r.rec.unread(topic)
        assert all(p["running"] for p in moving)
        assert 0 < moving[0]["position"] < moving[1]["position"] < 50

        await clock.advance(seconds=30)
        final = await r.rec.until(topic, lambda p: not p["running"])
        assert (final["position"], final["state"], final["motor_state"]) == (50, "OPEN", "stopped")
        assert curtain.position == 50

        r.command(f"{topic}/set", {"state": "CLOSE"})
        await r.rec.until(topic, lambda p: p["running"])
        await clock.advance(seconds=4)
        r.command(f"{topic}/set", {"state": "STOP"})
        stopped = await r.rec.until(topic, lambda p: not p["running"])
        assert 0 < stopped["position"] < 50 and stopped["state"] == "OPEN"


async def test_battery_drains_and_heartbeats_report_it(mosquitto: Mosquitto,
                                                       clock: VirtualClock) -> None:
    topic = "zigbee2mqtt/bed_sensor"
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        r.start(BedSimulator(spec("bed_sensor", "bed", battery=90, battery_drain_per_day=2), clock))
        assert (await r.rec.next(topic))["battery"] == 90
        await clock.advance(hours=24 * 5)
        await r.sync()
        beats = r.rec.unread(topic)
        assert len(beats) == 24 * 5  # an hourly report, as the Tuya sensor does
        assert beats[-1]["battery"] == 80
        assert [b["battery"] for b in beats] == sorted((b["battery"] for b in beats), reverse=True)


async def test_device_told_to_go_offline_falls_silent(mosquitto: Mosquitto,
                                                      clock: VirtualClock) -> None:
    topic = "zigbee2mqtt/back_door"
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        door = r.start(ContactSimulator(spec("back_door", "contact"), clock))
        await r.rec.next(f"{topic}/availability")
        door.set_online(False)
        assert await r.rec.next(f"{topic}/availability") == {"state": "offline"}
        r.rec.skip(topic)
        door.open()
        await clock.advance(hours=3)
        await r.sync()
        assert r.rec.unread(topic) == []  # no state, no heartbeats

        door.set_online(True)
        assert await r.rec.next(f"{topic}/availability") == {"state": "online"}
        assert (await r.rec.next(topic))["contact"] is False


async def _state(rec: Recorder, topic: str) -> tuple[str, int]:
    p = await rec.next(topic)
    return p["state"], p["brightness"]
