"""Dementia day structure: a weekday and a weekend morning, and nothing when nobody is home."""

from __future__ import annotations

from pathlib import Path

from controller.clock import VirtualClock
from controller.config import HomeConfig
from controller.events import Context

from .conftest import Home, local_time


async def morning(demo_config: HomeConfig, tmp_path: Path, day: int) -> Home:
    home = Home(demo_config, VirtualClock(local_time(day, 5)), tmp_path / "huis.db")
    await home.start()
    home.settle_in(in_bed=True)
    return home


async def test_a_weekday_morning(demo_config: HomeConfig, tmp_path: Path) -> None:
    home = await morning(demo_config, tmp_path, 7)  # Wednesday
    try:
        await home.at("09:00")
        assert home.timeline("bedroom_light") == [("07:00", {"state": "ON", "brightness": 3}),
                                                  ("07:00", {"brightness": 203, "transition": 900})]
        assert home.timeline("bedroom_curtain") == [("07:15", {"state": "OPEN"})]
        assert home.said_at() == [
            ("07:15", "Goedemorgen Mevrouw Jansen. Het is woensdag 7 januari 2026."),
            ("08:30", "Het is 08:30. Tijd voor het ontbijt."),
        ]
        assert home.engine is not None and home.engine.mode == "day"
    finally:
        await home.stop()


async def test_the_weekend_starts_an_hour_later(demo_config: HomeConfig, tmp_path: Path) -> None:
    home = await morning(demo_config, tmp_path, 10)  # Saturday
    try:
        await home.at("09:30")
        assert [t for t, _ in home.timeline("bedroom_light")] == ["08:00", "08:00"]
        assert home.said_at() == [
            ("08:15", "Goedemorgen Mevrouw Jansen. Het is zaterdag 10 januari 2026."),
            ("09:15", "Het is 09:15. Tijd voor het ontbijt."),
        ]
    finally:
        await home.stop()


async def test_the_afternoon_and_evening(day: Home) -> None:
    await day.at("21:00")
    assert day.said_at("middag") == [
        ("14:30", "Het is maandagmiddag. Zin in een wandelingetje, een puzzel of wat muziek?")]
    assert [t for t, _ in day.said_at("drinken")] == ["15:30", "19:30"]
    assert day.timeline("living_light")[-1] == ("20:30", {"state": "ON", "brightness": 76, "color_temp": 454,
                                                         "transition": 300})
    assert day.timeline("living_curtain")[-1] == ("20:30", {"state": "CLOSE"})


async def test_bedtime_waits_for_her_to_lie_down_before_the_lights_go_off(day: Home) -> None:
    await day.at("22:30")
    await day.wait(seconds=1)
    assert day.said_at("bedtijd") == [("22:30", "Het is 22:30, bedtijd. Welterusten, Mevrouw Jansen.")]
    assert day.commands("living_light")[-1]["state"] == "ON"  # still up: the light stays on
    await day.wait(minutes=20)
    day.bed(True)
    await day.wait(seconds=1)
    assert day.timeline("living_light")[-1] == ("22:50", {"state": "OFF", "transition": 30})
    assert day.engine is not None and day.engine.mode == "night"


async def test_nothing_is_said_to_an_empty_house(day: Home) -> None:
    assert day.engine is not None
    day.engine.set_presence("away", Context(origin="user:anna", description="logeert bij Anna"))
    mark = day.mark()
    await day.wait(hours=30)
    assert day.said() == []
    assert [s for s in day.link.log[mark:] if "curtain" in s.topic] == []
