"""Presence inferred by the hub (issue 8): away after the door and a quiet house, home on any
sign of her, the tag and a person's word win, kept with its reason and across a restart.

On main presence stayed "home" unless someone set it, so every away case here failed there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from controller.bus import EventBus
from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.engine import HOUSE_CHANGED
from controller.events import Context
from controller.history import History
from controller.store import Database

from .conftest import Home


def _info(home: Home) -> dict[str, object]:
    assert home.engine is not None
    return home.engine.presence_info()


async def _quiet_evening(home: Home) -> None:
    """21:00: she is up, doors shut, nothing moving; no tag reports (as in the Ordonez homes)."""
    home.bed(False)
    home.door(False, "front_door")
    home.door(False, "back_door")
    home.all_still()
    await home.wait(seconds=1)


async def _leave(home: Home, door: str = "front_door") -> None:
    home.motion("hall")
    home.door(True, door)
    await home.wait(seconds=20)
    home.door(False, door)
    home.motion("hall", False)


@pytest.fixture
async def home(demo_config: HomeConfig, night_clock: VirtualClock, tmp_path: Path) -> AsyncIterator[Home]:
    h = Home(demo_config, night_clock, tmp_path / "huis.db")
    await h.start()
    await _quiet_evening(h)
    try:
        yield h
    finally:
        await h.stop()


async def test_away_20_minutes_after_the_door_closed_with_nothing_moving(home: Home) -> None:
    await home.at("21:22")
    await _leave(home)  # the door closes at 21:22:20
    await home.wait(minutes=19, seconds=59)
    assert _info(home)["presence"] == "home"
    await home.wait(seconds=1)
    info = _info(home)
    assert info["presence"] == "away"
    assert info["presence_reason"] == ("afwezig sinds 21:42, omdat de voordeur om 21:22 dicht ging "
                                       "en er daarna 20 minuten geen beweging was")
    assert info["presence_reason_en"] == ("away since 21:42, because Voordeur closed at 21:22 and "
                                          "nothing moved for 20 minutes after")


async def test_home_again_on_motion_with_the_reason(home: Home) -> None:
    await home.at("21:22")
    await _leave(home)
    await home.at("22:30")
    assert _info(home)["presence"] == "away"
    home.door(True)
    await home.wait(seconds=5)
    assert _info(home)["presence"] == "away"  # a door alone: a caregiver could be letting herself in
    home.motion("hall")
    await home.wait(seconds=1)
    assert _info(home)["presence"] == "home"
    assert _info(home)["presence_reason"] == "thuis sinds 22:30, omdat er om 22:30 beweging was in Hal"


async def test_motion_before_the_deadline_keeps_her_home_and_stops_the_clock(home: Home) -> None:
    await home.at("21:22")
    await _leave(home)  # a visitor leaves
    await home.wait(minutes=15)
    home.motion("living")  # she is still in
    await home.wait(hours=2)
    assert _info(home)["presence"] == "home"


async def test_a_motion_sensor_still_seeing_someone_keeps_her_home(home: Home) -> None:
    await home.at("21:22")
    home.door(True)
    await home.wait(seconds=20)
    home.door(False)
    home.motion("living")  # moving about all the while: the sensor never drops to false
    await home.wait(minutes=10)
    home.hub.inject("zigbee2mqtt/living_motion", {"occupancy": True, "battery": 90})  # no change
    await home.wait(hours=1)
    assert _info(home)["presence"] == "home"


async def test_the_bed_keeps_her_home(home: Home) -> None:
    await home.at("22:00")
    await _leave(home)  # a visitor leaves; she lies down without passing a motion sensor
    home.bed(True)
    await home.wait(hours=1)
    assert _info(home)["presence"] == "home"


async def test_a_presence_set_by_hand_wins_for_override_for(home: Home) -> None:
    assert home.engine is not None
    home.engine.set_presence("home", Context(origin="user:anna", description="ze zit te lezen"))
    await home.at("21:22")
    await _leave(home)  # a visitor leaves; she reads without moving
    await home.wait(hours=1)
    info = _info(home)
    assert info["presence"] == "home"
    assert info["presence_reason"] == ("handmatig ingesteld (user:anna: ze zit te lezen) om 21:00, "
                                       "geldt tot 09:00")
    assert info["override_until"] is not None
    await home.at("09:01")  # the override has ended: the hub infers again
    assert _info(home)["override_until"] is None
    await _leave(home)
    await home.wait(minutes=20)
    assert _info(home)["presence"] == "away"


async def test_away_set_by_hand_is_not_undone_by_motion(home: Home) -> None:
    assert home.engine is not None
    home.engine.set_presence("away", Context(origin="user:anna", description="logeert bij mij"))
    await home.wait(minutes=5)
    home.motion("kitchen")  # the neighbour waters the plants
    home.bed(True)
    await home.wait(minutes=1)
    assert _info(home)["presence"] == "away"


async def test_the_tag_heard_in_a_room_keeps_her_home(home: Home) -> None:
    home.tag("living")
    await home.at("21:22")
    await _leave(home)  # the visitor leaves; she sits still, the tag in the living room
    await home.wait(hours=1)
    assert _info(home)["presence"] == "home"


async def test_the_tag_out_of_reach_just_after_the_door_is_away_at_once(home: Home) -> None:
    home.tag("hall")
    await home.at("21:22")
    home.door(True)
    await home.tag_gone()  # no receiver hears it within the two minutes after the door
    info = _info(home)
    assert info["presence"] == "away"
    assert "omdat het label om 21:22 buiten bereik raakte, kort nadat de voordeur om 21:22 openging" in \
        str(info["presence_reason"])


async def test_the_tag_out_of_reach_without_a_door_changes_nothing(home: Home) -> None:
    home.tag("living")
    await home.wait(minutes=5)
    await home.tag_gone()  # a flat battery
    await home.wait(hours=1)
    assert _info(home)["presence"] == "home"


async def test_presence_and_its_pending_clock_survive_a_restart(
        demo_config: HomeConfig, night_clock: VirtualClock, tmp_path: Path) -> None:
    first = Home(demo_config, night_clock, tmp_path / "huis.db")
    await first.start()
    await _quiet_evening(first)
    await first.at("21:22")
    await _leave(first)
    await first.at("21:50")
    assert _info(first)["presence"] == "away"
    await first.at("22:10")
    first.motion("hall")
    await first.wait(seconds=1)
    await _leave(first)  # out again at 22:10:21; the hub goes down ten minutes later
    await first.at("22:20")
    await first.stop()

    second = Home(demo_config, night_clock, tmp_path / "huis.db")
    await second.start()
    try:
        info = _info(second)
        assert (info["presence"], info["presence_reason"]) == (
            "home", "thuis sinds 22:10, omdat er om 22:10 beweging was in Hal")
        await second.wait(minutes=10, seconds=20)  # the door clock runs on from before the restart
        assert _info(second)["presence"] == "home"
        await second.wait(seconds=1)  # 20 minutes after the door closed at 22:10:21
        info = _info(second)
        assert info["presence"] == "away"
        assert str(info["presence_reason"]).startswith("afwezig sinds 22:30, omdat de voordeur om 22:10")
    finally:
        await second.stop()


async def test_presence_changes_are_in_the_hub_history_with_their_reason(
        demo_config: HomeConfig, home: Home, tmp_path: Path) -> None:
    db = await Database.connect(tmp_path / "history.db")
    history = History(db, home.hub.bus, home.clock)
    await history.open()
    try:
        await home.at("21:22")
        await _leave(home)
        await home.wait(minutes=21)
        home.motion("kitchen")
        await home.wait(seconds=1)
        await history.flush()
        rows = await history.query(types=[HOUSE_CHANGED])
        assert [(r.attribute, r.value) for r in rows] == [("presence", "away"), ("presence", "home")]
        assert rows[0].origin == "presence"
        assert "afwezig sinds 21:42, omdat de voordeur om 21:22 dicht ging" in rows[0].cause
        assert rows[1].cause.startswith("presence: thuis sinds 21:43, omdat er om 21:43 beweging was "
                                        "in Keuken <- device:kitchen_motion")
    finally:
        await db.close()


async def test_presence_never_silences_the_sos_button(home: Home) -> None:
    await home.at("21:22")
    await _leave(home)
    await home.wait(minutes=21)
    assert _info(home)["presence"] == "away"
    home.sos()  # she was in after all, sitting still
    await home.wait(seconds=1)
    assert [(r.key, r.severity) for r in home.sink.raised()] == [("sos", "urgent")]
    assert _info(home)["presence"] == "home"  # and the button says so


async def test_nothing_happened_while_she_sits_still_and_the_hub_says_why(home: Home) -> None:
    # A visitor leaves at 21:22 and she reads in the living room, the tag on her wrist: the
    # inference is running (a clock started), and it did not conclude away because of the tag.
    home.tag("living")
    await home.wait(seconds=1)
    assert home.engine is not None and home.engine.presence_inference is not None
    await home.at("21:22")
    await _leave(home)
    assert home.engine.presence_inference.pending() is not None  # the rule is armed
    await home.wait(minutes=25)
    assert home.engine.presence_inference.pending() is None  # it ran out...
    info = _info(home)
    assert info["presence"] == "home"  # ...and found her in
    assert info["presence_reason"] == "thuis sinds 21:00, omdat het label om 21:00 werd gehoord in Woonkamer"


def test_house_changed_events_are_typed() -> None:
    bus = EventBus()
    seen: list[object] = []
    bus.subscribe(lambda e: seen.append(e.data["changes"]), HOUSE_CHANGED)
    bus.publish(HOUSE_CHANGED.event(time=VirtualClock().now(), context=Context(origin="t"),
                                    data={"changes": {"presence": ("home", "away")}}))
    assert seen == [{"presence": ("home", "away")}]


async def test_an_override_for_of_zero_holds_until_set_by_hand_again(
        demo_config: HomeConfig, night_clock: VirtualClock, tmp_path: Path) -> None:
    assert demo_config.presence is not None
    cfg = demo_config.model_copy(update={
        "presence": demo_config.presence.model_copy(update={"override_for": timedelta(0)})})
    h = Home(cfg, night_clock, tmp_path / "huis.db")
    await h.start()
    try:
        await _quiet_evening(h)
        assert h.engine is not None
        h.engine.set_presence("away", Context(origin="user:team", description="ziekenhuis"))
        assert _info(h)["override_until"] == "forever"
        await h.wait(hours=72)
        h.motion("living")
        await h.wait(seconds=1)
        assert _info(h)["presence"] == "away"
        h.engine.set_presence("home", Context(origin="user:team", description="terug"))
        assert _info(h)["presence_reason"] == ("handmatig ingesteld (user:team: terug) om 21:00, tot het "
                                               "weer met de hand wordt veranderd")
    finally:
        await h.stop()
