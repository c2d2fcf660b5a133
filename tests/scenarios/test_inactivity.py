"""Inactivity: 3 h without motion in daytime -> check-in; still in bed at 10:00 -> alert."""

from __future__ import annotations

from controller.events import Context

from .conftest import Home


async def test_three_quiet_hours_in_the_daytime_raise_a_check_in(day: Home) -> None:
    # The fixture reports every motion sensor still at 12:00.
    await day.wait(hours=2, minutes=59)
    assert day.raised("inactivity.no_motion") == []
    await day.wait(minutes=1)
    [alert] = day.sink.raised()
    assert (alert.key, alert.severity) == ("inactivity.no_motion", "warning")
    assert alert.message == "Al 3 uur nergens beweging gezien bij Mevrouw Jansen (15:00). Even bellen of langsgaan?"
    day.motion("kitchen")
    await day.wait(seconds=1)
    assert day.alerts() == [("15:00", "raised", "inactivity.no_motion"),
                            ("15:00", "resolved", "inactivity.no_motion")]
    assert day.sink.resolved()[0].reason == "weer beweging gezien (Keuken)"


async def test_motion_now_and_then_keeps_it_quiet(day: Home) -> None:
    for _ in range(6):
        await day.wait(hours=1, minutes=30)
        day.motion("living")
        await day.wait(minutes=2)
        day.motion("living", False)
    assert day.raised("inactivity.no_motion") == []


async def test_a_quiet_night_is_not_inactivity(night: Home) -> None:
    # Asleep from 21:00 until 07:15: ten quiet hours, but they end outside the daytime window.
    await night.at("07:15")
    night.bed(False)
    night.motion("bedroom")
    await night.wait(minutes=1)
    night.motion("bedroom", False)
    await night.wait(hours=1)
    assert night.raised("inactivity.no_motion") == []


async def test_nobody_home_is_not_inactivity(day: Home) -> None:
    assert day.engine is not None
    day.engine.set_presence("away", Context(origin="user:anna", description="naar de dagbesteding"))
    await day.wait(hours=5)
    assert day.raised("inactivity.no_motion") == []


async def test_still_in_bed_at_ten_raises_an_alert_resolved_when_she_gets_up(night: Home) -> None:
    await night.at("10:00")
    await night.wait(seconds=1)
    assert night.raised("inactivity.not_up") == ["inactivity.not_up"]
    assert night.sink.raised()[-1].message == "Mevrouw Jansen ligt om 10:00 nog in bed. Even bellen of langsgaan?"
    await night.wait(minutes=20)
    night.bed(False)
    await night.wait(seconds=1)
    assert ("10:20", "resolved", "inactivity.not_up") in night.alerts()


async def test_up_before_ten_means_no_alert(night: Home) -> None:
    await night.at("07:15")
    night.bed(False)
    night.motion("bedroom")
    await night.at("11:00")
    assert night.raised("inactivity.not_up") == []
