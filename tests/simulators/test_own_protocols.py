"""ESPresense tag, dispenser and speaker simulators on a real mosquitto."""

from __future__ import annotations

from datetime import timedelta

import pytest

from controller.clock import VirtualClock
from simulators.base import SimulationError
from simulators.dispenser import DispenserSimulator
from simulators.speaker import SpeakerSimulator
from simulators.tag import TagSimulator
from tests.conftest import Mosquitto
from tests.simulators.conftest import rig, spec

ROOMS = ("bedroom", "bathroom", "hall", "living", "kitchen")
TAG = "espresense/devices/wander_tag"


def tag(clock: VirtualClock) -> TagSimulator:
    return TagSimulator(spec("wander_tag", "tag", topic=TAG), clock, rooms=ROOMS,
                        night_room="bedroom", day_room="living")


async def test_tag_is_reported_by_the_node_in_its_room(mosquitto: Mosquitto,
                                                       clock: VirtualClock) -> None:
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        t = tag(clock)
        t.initial(clock.now())  # noon: in the living room
        r.start(t)
        report = await r.rec.next(f"{TAG}/living")
        assert set(report) == {"id", "name", "rssi@1m", "rssi", "raw", "distance", "speed", "mac",
                               "interval"}
        assert report["id"] == "wander_tag"
        assert 0.3 <= report["distance"] <= 6 and report["rssi"] < 0
        assert len(report["mac"].split(":")) == 6

        await clock.advance(seconds=30)
        await r.sync()
        assert len(r.rec.unread(f"{TAG}/living")) == 10  # every 3 s of clock time

        t.move_to("hall")
        assert (await r.rec.next(f"{TAG}/hall"))["id"] == "wander_tag"
        await clock.advance(seconds=9)
        await r.sync()
        assert len(r.rec.unread(f"{TAG}/hall")) == 3
        assert len(r.rec.payloads(f"{TAG}/living")) == 11  # that node no longer hears it


async def test_tag_outside_is_silent(mosquitto: Mosquitto, clock: VirtualClock) -> None:
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        t = tag(clock)
        t.initial(clock.now())
        r.start(t)
        await r.rec.next(f"{TAG}/living")
        t.move_to("outside")
        await r.sync()
        before = len([m for m in r.rec.messages if m[0].startswith(f"{TAG}/")])
        await clock.advance(minutes=10)
        await r.sync()
        after = len([m for m in r.rec.messages if m[0].startswith(f"{TAG}/")])
        assert after == before and t.room is None

        t.move_to("hall")  # and back in: heard again at once
        assert (await r.rec.next(f"{TAG}/hall"))["id"] == "wander_tag"


def test_tag_refuses_a_room_without_a_node(clock: VirtualClock) -> None:
    with pytest.raises(SimulationError, match="no ESPresense node in room 'attic'"):
        tag(clock).move_to("attic")


DISP = "huis/dispenser/dispenser"


def dispenser(clock: VirtualClock, **kw: object) -> DispenserSimulator:
    return DispenserSimulator(spec("dispenser", "dispenser", topic=DISP, battery=100), clock, **kw)


async def test_dispenser_offers_on_schedule_and_reports_a_missed_dose(mosquitto: Mosquitto,
                                                                      clock: VirtualClock) -> None:
    # The clock fixture starts at 12:00 in Amsterdam; the default schedule has a dose at 13:00.
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        r.start(dispenser(clock, doses_left=20))
        assert await r.rec.next(f"{DISP}/availability") == {"state": "online"}
        assert await r.rec.next(f"{DISP}/state") == {"doses_left": 20, "next_dose": "13:00",
                                                     "battery": 100}
        await clock.advance(minutes=59)
        await r.sync()
        assert r.rec.unread(f"{DISP}/event") == []

        await clock.advance(minutes=1)
        assert await r.rec.next(f"{DISP}/event") == {
            "event": "dose_due", "dose": "13:00", "time": "2026-01-05T13:00:00+01:00"}
        await clock.advance(minutes=59)
        await r.sync()
        assert r.rec.unread(f"{DISP}/event") == []  # still within the 60-minute window

        await clock.advance(minutes=1)
        assert await r.rec.next(f"{DISP}/event") == {
            "event": "dose_missed", "dose": "13:00", "time": "2026-01-05T14:00:00+01:00"}
        state = await r.rec.until(f"{DISP}/state", lambda s: s["doses_left"] == 19)
        assert state["next_dose"] == "18:00"


async def test_dispenser_dose_taken_by_the_resident(mosquitto: Mosquitto,
                                                    clock: VirtualClock) -> None:
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        d = r.start(dispenser(clock, window=timedelta(minutes=30)))
        with pytest.raises(SimulationError, match="no dose is due"):
            d.take_dose()
        await clock.advance(minutes=60)
        assert (await r.rec.next(f"{DISP}/event"))["event"] == "dose_due"
        await clock.advance(minutes=10)
        assert d.take_dose() == "13:00"
        assert await r.rec.next(f"{DISP}/event") == {
            "event": "dose_taken", "dose": "13:00", "time": "2026-01-05T13:10:00+01:00"}
        await clock.advance(minutes=60)
        await r.sync()
        assert r.rec.unread(f"{DISP}/event") == []  # no dose_missed after taking it


async def test_dispenser_asks_for_a_refill(mosquitto: Mosquitto, clock: VirtualClock) -> None:
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        d = r.start(dispenser(clock, doses_left=7))
        await clock.advance(hours=1)
        d.take_dose()
        await r.rec.until(f"{DISP}/event", lambda e: e["event"] == "dose_taken")
        assert await r.rec.next(f"{DISP}/event") == {
            "event": "refill_low", "dose": "13:00", "time": "2026-01-05T13:00:00+01:00"}
        assert (await r.rec.until(f"{DISP}/state", lambda s: s["doses_left"] == 6))["next_dose"] == "18:00"


async def test_dispenser_runs_a_whole_day(mosquitto: Mosquitto, clock: VirtualClock) -> None:
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        r.start(dispenser(clock))
        await clock.advance(hours=24)
        await r.sync()
        events = [(e["event"], e["dose"]) for e in r.rec.payloads(f"{DISP}/event")]
        assert events == [(e, dose) for dose in ("13:00", "18:00", "22:00", "08:00")
                          for e in ("dose_due", "dose_missed")]


SPK = "huis/speaker/speaker"


async def test_speaker_says_what_it_is_told(mosquitto: Mosquitto, clock: VirtualClock) -> None:
    async with rig(mosquitto.host, mosquitto.port, clock) as r:
        s = r.start(SpeakerSimulator(spec("speaker", "speaker", topic=SPK), clock))
        assert await r.rec.next(f"{SPK}/availability") == {"state": "online"}
        assert await r.rec.next(f"{SPK}/state") == {"speaking": False, "volume": 50}

        r.command(f"{SPK}/say", {"say": "Goedemorgen, mevrouw Jansen.", "language": "nl"})
        assert await r.rec.next(f"{SPK}/state") == {"speaking": True, "volume": 50}
        assert [(u.text, u.language) for u in s.said] == [("Goedemorgen, mevrouw Jansen.", "nl")]
        await clock.advance(seconds=10)
        assert await r.rec.next(f"{SPK}/state") == {"speaking": False, "volume": 50}

        r.command(f"{SPK}/set", {"volume": 70})
        assert await r.rec.next(f"{SPK}/state") == {"speaking": False, "volume": 70}
        r.command(f"{SPK}/say", b"not json")
        r.command(f"{SPK}/say", {"language": "nl"})
        await r.roundtrip()
        assert len(s.said) == 1 and r.rec.unread(f"{SPK}/state") == []
