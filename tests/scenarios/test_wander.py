"""Wander: a door opens and then the tag is no longer heard -> urgent, with the last room."""

from __future__ import annotations

from pathlib import Path

from controller.clock import VirtualClock
from controller.config import HomeConfig

from .conftest import Home


async def test_leaving_through_the_front_door_is_urgent_with_the_last_room(day: Home) -> None:
    day.tag("hall")
    await day.wait(seconds=5)
    day.door(True)
    await day.wait(seconds=5)
    day.door(False)
    await day.tag_gone()
    [alert] = day.sink.raised()
    assert (alert.key, alert.severity) == ("wander.left_home", "urgent")
    assert alert.message == ("Mevrouw Jansen is om 12:00 naar buiten gegaan (Voordeur); "
                             "laatst gezien in: Hal.")
    assert day.hub.state.attribute("wander_tag", "room") == "outside/unknown"


async def test_a_visitor_leaving_while_the_tag_stays_in_a_room_is_nothing(day: Home) -> None:
    day.door(True)
    await day.wait(seconds=10)
    day.door(False)
    for _ in range(20):  # the tag keeps being heard in the living room
        day.tag("living")
        await day.wait(seconds=10)
        day.hub.check_health()
    assert day.raised() == []
    [trace] = await day.traces("wander_left_home")
    assert trace.status == "stopped"


async def test_the_tag_going_quiet_without_a_door_is_nothing(day: Home) -> None:
    await day.tag_gone()
    await day.wait(minutes=10)
    assert day.raised() == []


async def test_tag_already_unheard_before_the_door_opened_is_not_a_wander_alert(day: Home) -> None:
    await day.tag_gone()
    day.door(True)
    await day.wait(minutes=5)
    assert day.raised() == []


async def test_wander_protection_off_means_no_alert(demo_config: HomeConfig, clock: VirtualClock,
                                                   tmp_path: Path) -> None:
    home = Home(demo_config, clock, tmp_path / "huis.db", overrides={"wander": {"wander_protection": False}})
    await home.start()
    try:
        home.settle_in(in_bed=False, room="hall")
        await home.wait(seconds=5)
        home.door(True)
        await home.tag_gone()
        assert home.raised() == []
    finally:
        await home.stop()
