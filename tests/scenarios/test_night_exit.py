"""Night exit: warning after the tolerance, urgent on a door, orientation light, back in bed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.engine import Trace
from controller.history import History
from controller.store import Database

from .conftest import TZ, Home, local_time

ON = {"state": "ON", "brightness": 25, "transition": 2}  # 10 % of 254, rounded
OFF = {"state": "OFF", "transition": 5}


async def test_a_toilet_visit_gets_lights_only(night: Home) -> None:
    await night.at("03:10")
    mark = night.mark()
    night.bed(False)
    night.motion("bathroom")
    await night.wait(minutes=6)
    night.bed(True)
    await night.wait(hours=1)
    assert night.commands("bedroom_light", mark) == [ON, OFF]
    assert night.commands("bathroom_light", mark) == [ON, OFF]
    assert night.timeline("bedroom_light", mark) == [("03:10", ON), ("03:16", OFF)]
    assert night.sink.records == []


async def test_back_in_bed_within_the_tolerance_raises_nothing(night: Home) -> None:
    await night.at("23:00")
    night.bed(False)
    await night.wait(minutes=9, seconds=59)
    night.bed(True)
    await night.wait(hours=2)
    assert night.sink.records == []
    [trace] = [t for t in await night.traces("night_exit_warning") if t.status == "not_fired"]
    assert "became true after 9m59s" in " ".join(trace.notes)


async def test_out_of_bed_longer_than_the_tolerance_warns_and_resolves_on_return(night: Home) -> None:
    await night.at("02:00")
    mark = night.mark()
    night.bed(False)
    await night.wait(minutes=9)
    assert night.sink.records == []
    await night.wait(minutes=1)
    [alert] = night.sink.raised()
    assert (alert.key, alert.severity, alert.audience) == ("night_exit.bed_empty", "warning", "caregivers")
    assert alert.message == "Mevrouw Jansen is al 10 minuten uit bed (02:10)."
    await night.wait(minutes=20)
    night.bed(True)
    await night.wait(minutes=1)
    assert night.alerts() == [("02:10", "raised", "night_exit.bed_empty"),
                              ("02:30", "resolved", "night_exit.bed_empty")]
    assert night.sink.resolved()[0].reason == "weer in bed"
    assert night.commands("bedroom_light", mark) == [ON, OFF]


async def test_the_tolerance_is_a_parameter(demo_config: HomeConfig, night_clock: VirtualClock,
                                            tmp_path: Path) -> None:
    home = Home(demo_config, night_clock, tmp_path / "huis.db", overrides={"night_exit": {"tolerance": "25m"}})
    await home.start()
    try:
        home.settle_in(in_bed=True)
        await home.at("23:30")
        home.bed(False)
        await home.wait(minutes=24)
        assert home.sink.records == []
        await home.wait(minutes=1)
        assert home.alerts() == [("23:55", "raised", "night_exit.bed_empty")]
        assert home.sink.raised()[0].message == "Mevrouw Jansen is al 25 minuten uit bed (23:55)."
    finally:
        await home.stop()


async def test_a_tolerance_of_zero_warns_at_once(demo_config: HomeConfig, night_clock: VirtualClock,
                                                 tmp_path: Path) -> None:
    home = Home(demo_config, night_clock, tmp_path / "huis.db", overrides={"night_exit": {"tolerance": "0m"}})
    await home.start()
    try:
        home.settle_in(in_bed=True)
        await home.at("23:30")
        home.bed(False)
        await home.wait(seconds=1)
        assert home.alerts() == [("23:30", "raised", "night_exit.bed_empty")]
    finally:
        await home.stop()


async def test_front_door_while_out_of_bed_at_night_is_urgent_at_once(night: Home) -> None:
    await night.at("01:00")
    night.bed(False)
    await night.wait(minutes=2)
    night.door(True)
    await night.wait(seconds=1)
    [alert] = night.sink.raised()
    assert (alert.key, alert.severity) == ("night_exit.door", "urgent")
    assert alert.message == "Voordeur is open gegaan om 01:02 terwijl Mevrouw Jansen uit bed is."
    assert "device:front_door" in alert.cause


async def test_back_door_counts_too(night: Home) -> None:
    await night.at("04:00")
    night.bed(False)
    night.door(True, "back_door")
    await night.wait(seconds=1)
    assert night.raised() == ["night_exit.door"]


async def test_door_with_the_bed_occupied_does_nothing(night: Home) -> None:
    await night.at("01:00")
    before = len(night.link.log)
    night.door(True)  # the night nurse lets herself in
    await night.wait(minutes=5)
    night.door(False)
    await night.wait(hours=1)
    assert night.sink.records == []
    assert night.link.log[before:] == []


async def test_daytime_out_of_bed_and_door_are_not_night_exits(day: Home) -> None:
    # The fixture already has the bed empty since 12:00; the door opens for a visitor.
    await day.wait(minutes=30)
    day.door(True)
    await day.wait(minutes=1)
    day.door(False)
    await day.wait(hours=2)
    assert day.raised() == []
    assert day.commands("bedroom_light") == []


async def test_empty_bed_before_the_night_starts_does_not_warn(night: Home) -> None:
    # She gets up at 21:30 (still evening) and is not back when the night starts.
    await night.at("21:30")
    mark = night.mark()
    night.bed(False)
    await night.at("23:30")
    assert night.raised() == []
    assert night.commands("bedroom_light", mark) == []


async def test_no_warning_when_the_resident_is_away(night: Home) -> None:
    from controller.events import Context

    assert night.engine is not None
    night.engine.set_presence("away", Context(origin="user:anna", description="logeert bij dochter"))
    await night.at("23:00")
    night.bed(False)
    await night.wait(hours=1)
    assert night.raised() == []
    assert night.commands("bedroom_light") == []


async def test_a_restart_while_the_tolerance_runs_still_warns_at_the_original_deadline(
        demo_config: HomeConfig, night_clock: VirtualClock, tmp_path: Path) -> None:
    first = Home(demo_config, night_clock, tmp_path / "huis.db")
    await first.start()
    first.settle_in(in_bed=True)
    await first.at("23:00")
    first.bed(False)
    await first.wait(minutes=4)
    await first.stop()  # the hub goes down at 23:04 with the timer pending

    await night_clock.advance(minutes=2)
    second = Home(demo_config, night_clock, tmp_path / "huis.db")
    await second.start()  # 23:06: a new hub and engine on the same SQLite file
    try:
        await second.wait(minutes=3, seconds=59)
        assert second.sink.records == []
        await second.wait(seconds=1)
        assert second.alerts() == [("23:10", "raised", "night_exit.bed_empty")]
        assert night_clock.now() == local_time(5, 23, 10)
        # The bed reports again after the restart: still empty, the deadline stands.
        second.bed(False)
        await second.wait(minutes=5)
        assert len(second.sink.raised()) == 1
    finally:
        await second.stop()


async def test_a_restart_while_the_hub_was_down_past_the_deadline_fires_at_once(
        demo_config: HomeConfig, night_clock: VirtualClock, tmp_path: Path) -> None:
    first = Home(demo_config, night_clock, tmp_path / "huis.db")
    await first.start()
    first.settle_in(in_bed=True)
    await first.at("23:00")
    first.bed(False)
    await first.wait(minutes=4)
    await first.stop()

    await night_clock.advance(minutes=20)  # down until 23:24
    second = Home(demo_config, night_clock, tmp_path / "huis.db")
    await second.start()
    try:
        await second.wait(seconds=1)
        assert second.alerts() == [("23:24", "raised", "night_exit.bed_empty")]
        [trace] = [t for t in await second.traces("night_exit_warning") if t.status != "not_fired"]
        assert trace.trigger.get("late")
    finally:
        await second.stop()


async def test_back_in_bed_after_the_night_leaves_the_wake_up_light_alone(night: Home) -> None:
    await night.at("06:50")
    mark = night.mark()
    night.bed(False)
    await night.at("07:05")
    night.bed(True)
    await night.wait(minutes=1)
    assert night.timeline("bedroom_light", mark) == [
        ("06:50", ON),
        ("07:00", {"state": "ON", "brightness": 3}),             # the wake-up light
        ("07:00", {"brightness": 203, "transition": 900}),
    ]
    assert night.timeline("bathroom_light", mark) == [("06:50", ON), ("07:05", OFF)]


# -- the night exit follows the person (issue 8): slept, then out of bed, then a door ------------
# Each of these but the real exit paged urgently before: the rule only asked "door at night
# while the bed is empty", which every homecoming and every evening outing also is.


async def _evening_without_tag(home: Home) -> None:
    """21:00, she is up (bed empty), doors shut, nothing moving; no tag worn (the Ordonez home)."""
    home.bed(False)
    home.door(False, "front_door")
    home.door(False, "back_door")
    home.all_still()
    await home.wait(seconds=1)


async def _go_out(home: Home) -> None:
    home.motion("hall")
    home.door(True)
    await home.wait(seconds=20)
    home.door(False)
    home.motion("hall", False)


@pytest.fixture
async def evening(demo_config: HomeConfig, night_clock: VirtualClock, tmp_path: Path) -> AsyncIterator[Home]:
    """Monday 21:00, the resident up and about, no tag: presence is the hub's inference alone."""
    home = Home(demo_config, night_clock, tmp_path / "huis.db")
    await home.start()
    await _evening_without_tag(home)
    try:
        yield home
    finally:
        await home.stop()


def _failed(trace: Trace) -> list[str]:
    return [str(c["condition"]) for c in trace.conditions if not c["result"]]


async def test_a_homecoming_at_2330_with_the_bed_empty_is_no_urgent_page(evening: Home) -> None:
    assert evening.engine is not None
    await evening.at("21:40")
    await _go_out(evening)  # she goes out; the door closes behind her at 21:40:20
    await evening.at("22:01")
    assert evening.engine.presence == "away"
    await evening.at("23:30")
    evening.door(True)  # she comes home
    evening.motion("hall")
    await evening.wait(seconds=30)
    assert evening.raised() == ["night_exit.homecoming"]
    [page] = evening.sink.raised()
    assert page.severity == "info"
    assert page.message == "Voordeur ging om 23:30 open terwijl Mevrouw Jansen weg was: thuisgekomen?"
    assert evening.engine.presence == "home"
    # Why no urgent page, from the trace: she had not slept, and the hub knew she was out.
    trace = [t for t in await evening.traces("night_exit_door") if t.status == "not_fired"][-1]
    failed = _failed(trace)
    assert failed == [
        "held bed_sensor.occupancy is true for 30 minutes since 22:00 [longest 0 minutes]",
        "none of (resident is away) [presence is away: afwezig sinds 22:00, omdat de voordeur om "
        "21:40 dicht ging en er daarna 20 minuten geen beweging was]",
    ]


async def test_an_evening_outing_before_bed_is_no_urgent_page(evening: Home) -> None:
    await evening.at("22:30")
    await _go_out(evening)  # out at 22:30, within the night window, never been to bed
    await evening.at("22:45")
    evening.door(True)  # back after 15 minutes: presence is still home
    evening.motion("hall")
    await evening.wait(minutes=1)
    evening.door(False)
    await evening.wait(hours=1)
    assert evening.raised() == ["night_exit.door_awake"]
    assert [r.severity for r in evening.sink.raised()] == ["info"]
    assert evening.sink.raised()[0].message == (
        "Voordeur ging om 22:30 open; Mevrouw Jansen was nog niet naar bed geweest.")
    [trace, _] = [t for t in await evening.traces("night_exit_door") if t.status == "not_fired"]
    assert _failed(trace) == [
        "held bed_sensor.occupancy is true for 30 minutes since 22:00 [longest 0 minutes]"]


async def test_asleep_at_2300_up_at_0300_front_door_at_0304_pages_urgently_at_once(evening: Home) -> None:
    await evening.at("23:00")
    evening.bed(True)
    await evening.at("03:00")
    evening.bed(False)
    evening.motion("bedroom")
    await evening.at("03:04")
    evening.motion("hall")
    evening.door(True)
    await evening.wait(seconds=60)
    [page] = [r for r in evening.sink.raised() if r.severity == "urgent"]
    assert page.key == "night_exit.door"
    assert f"{page.time.astimezone(TZ):%H:%M:%S}" == "03:04:00"
    assert page.message == "Voordeur is open gegaan om 03:04 terwijl Mevrouw Jansen uit bed is."


async def test_a_short_lie_down_in_the_evening_is_not_sleep(evening: Home) -> None:
    await evening.at("22:10")
    evening.bed(True)
    await evening.wait(minutes=20)  # 29 minutes would not do either; 30 is asleep_after
    evening.bed(False)
    await evening.wait(minutes=2)
    evening.door(True)
    await evening.wait(seconds=5)
    assert evening.raised() == ["night_exit.door_awake"]


async def test_in_bed_before_the_night_and_up_after_it_began_counts_as_asleep(evening: Home) -> None:
    # In bed from 21:15, up at 22:10: 55 minutes in bed, most of them before the night began.
    await evening.at("21:15")
    evening.bed(True)
    await evening.at("22:10")
    evening.bed(False)
    await evening.wait(minutes=3)
    evening.door(True, "back_door")
    await evening.wait(seconds=1)
    assert evening.raised() == ["night_exit.door"]


async def test_a_hub_restarted_while_she_sleeps_still_knows_she_slept(
        demo_config: HomeConfig, night_clock: VirtualClock, tmp_path: Path) -> None:
    first = Home(demo_config, night_clock, tmp_path / "huis.db")
    await first.start()
    await _evening_without_tag(first)
    await first.at("23:00")
    first.bed(True)
    await first.at("02:00")
    await first.stop()
    second = Home(demo_config, night_clock, tmp_path / "huis.db")  # a fresh hub: no values known
    await second.start()
    try:
        second.bed(True)  # the first report after the restart
        await second.at("03:00")
        second.bed(False)
        await second.at("03:04")
        second.door(True)
        await second.wait(seconds=1)
        assert second.raised() == ["night_exit.door"]
    finally:
        await second.stop()


async def test_a_toilet_visit_from_bed_changes_nothing_and_the_door_rule_says_why(night: Home) -> None:
    # Nothing happened: the door rule is loaded, and its trace says the bed was never empty at a
    # door (there was no door) - so we look at the lights instead, which behave as before.
    assert night.engine is not None
    loaded = {s["id"] for s in night.engine.status()}
    assert {"night_exit_door", "night_exit_door_awake", "night_exit_homecoming"} <= loaded
    await night.at("03:10")
    mark = night.mark()
    night.bed(False)
    night.motion("bathroom")
    await night.wait(minutes=6)
    night.bed(True)
    await night.wait(minutes=30)
    assert night.sink.records == []
    assert night.commands("bedroom_light", mark) == [ON, OFF]
    assert night.engine.presence == "home"
    night.door(True)  # the night nurse lets herself in: the bed is occupied
    await night.wait(seconds=1)
    assert night.sink.records == []
    [trace] = [t for t in await night.traces("night_exit_door") if t.status == "not_fired"]
    assert _failed(trace) == ["state bed_sensor.occupancy is false"]


async def test_after_a_restart_the_hub_history_remembers_she_slept(
        demo_config: HomeConfig, night_clock: VirtualClock, tmp_path: Path) -> None:
    # The first report after the restart is "bed empty" (she got up while the hub was down):
    # only the history can say she had been in bed since 23:00.
    history_db = await Database.connect(tmp_path / "huis.db")
    first = Home(demo_config, night_clock, tmp_path / "huis.db")
    history = History(history_db, first.hub.bus, night_clock)
    await history.open()
    try:
        await first.start()
        await _evening_without_tag(first)
        await first.at("23:00")
        first.bed(True)
        await first.at("02:00")
        await history.flush()
        await first.stop()
    finally:
        await history_db.close()
    second = Home(demo_config, night_clock, tmp_path / "huis.db")
    await second.start()
    try:
        await second.at("03:00")
        second.bed(False)
        await second.at("03:04")
        second.door(True)
        await second.wait(seconds=1)
        assert second.raised() == ["night_exit.door"]
    finally:
        await second.stop()
