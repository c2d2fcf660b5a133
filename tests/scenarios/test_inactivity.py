"""Inactivity: quieter than usual while home and out of bed -> check-in; in bed later than usual
-> alert. Until the routine is learned the defaults of config/home.yaml apply (3 h in the day)."""

from __future__ import annotations

from datetime import timedelta

from controller.events import Context
from controller.routine import Activity, learn

from .conftest import Home


async def _conditions(home: Home, scenario: str) -> list[tuple[str, bool]]:
    """(description, result) of the conditions of the last run that did not fire."""
    not_fired = [t for t in await home.traces(scenario) if t.status == "not_fired"]
    assert not_fired, f"{scenario} was never checked"
    return [(str(c["condition"]), bool(c["result"])) for c in not_fired[-1].conditions]


async def test_three_quiet_hours_in_the_daytime_raise_a_check_in(day: Home) -> None:
    # The fixture reports every motion sensor still at 12:00.
    await day.wait(hours=2, minutes=59)
    assert day.raised("inactivity.no_motion") == []
    await day.wait(minutes=1)
    [alert] = day.sink.raised()
    assert (alert.key, alert.severity) == ("inactivity.no_motion", "warning")
    assert alert.message == ("Langer dan gewoonlijk nergens beweging gezien bij Mevrouw Jansen (15:00)."
                             " Even bellen of langsgaan?")
    day.motion("kitchen")
    await day.wait(seconds=1)
    assert day.alerts() == [("15:00", "raised", "inactivity.no_motion"),
                            ("15:00", "resolved", "inactivity.no_motion")]
    assert day.sink.resolved()[0].reason == "weer activiteit gezien (Keuken)"


async def test_motion_now_and_then_keeps_it_quiet(day: Home) -> None:
    for _ in range(6):
        await day.wait(hours=1, minutes=30)
        day.motion("living")
        await day.wait(minutes=2)
        day.motion("living", False)
    assert day.raised("inactivity.no_motion") == []


async def test_a_quiet_night_is_not_inactivity(night: Home) -> None:
    # Asleep from 21:00 until 07:15: ten quiet hours, all in bed.
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
    # Checked every 15 minutes, and refused because she is away (the home is quiet enough).
    conditions = dict(await _conditions(day, "inactivity_no_motion"))
    # A failed presence condition says why in the trace: "resident is home [presence is away: ...]".
    [(said, ok)] = [(d, ok) for d, ok in conditions.items() if d.startswith("resident is home")]
    assert ok is False and "naar de dagbesteding" in said
    assert any(ok for d, ok in conditions.items() if d.startswith("quiet"))


async def test_a_check_in_is_withdrawn_when_she_leaves_the_house(day: Home) -> None:
    # Fails on the old scenario: it waited for motion only, so the caregiver was asked to call
    # someone who had gone out, and the alert stayed active until she came home.
    await day.at("15:00")
    assert day.raised("inactivity.no_motion") == ["inactivity.no_motion"]
    assert day.engine is not None
    day.engine.set_presence("away", Context(origin="user:anna", description="opgehaald door Piet"))
    await day.wait(seconds=1)
    assert day.alerts()[-1] == ("15:00", "resolved", "inactivity.no_motion")
    assert day.sink.resolved()[-1].reason == "van huis vertrokken"
    await day.wait(hours=6)
    assert day.raised("inactivity.no_motion") == ["inactivity.no_motion"]


async def test_asleep_in_bed_at_nine_is_not_a_check_in(night: Home) -> None:
    # Fails on the old scenario: it counted every motion sensor quiet for 3 h and fired at 09:05
    # although she was in bed (sleeping in is inactivity_not_up's job).
    await night.at("06:00")
    night.bed(False)
    night.motion("bathroom")
    await night.wait(minutes=3)
    night.motion("bathroom", False)
    night.bed(True)
    await night.at("09:30")
    assert night.raised("inactivity.no_motion") == []
    conditions = dict(await _conditions(night, "inactivity_no_motion"))
    assert conditions["state bed_sensor.occupancy is false"] is False
    assert conditions["quiet (no motion, bed or door) longer than the resident's usual gap for the part "
                      "of the day it began in"]


async def test_a_check_in_left_unanswered_expires_and_is_raised_anew(day: Home) -> None:
    # Fails on the old scenario: its 12 h wait stopped the run and left the alert active for days,
    # swallowing every later one.
    await day.at("15:00")
    await day.wait(hours=12)
    await day.wait(seconds=1)
    # Still quiet (and not in bed): the next check raises a new occurrence, which pages again.
    assert day.alerts() == [("15:00", "raised", "inactivity.no_motion"),
                            ("03:00", "resolved", "inactivity.no_motion"),
                            ("03:00", "raised", "inactivity.no_motion")]
    assert day.sink.resolved()[-1].reason.startswith("vervallen na 12 uur")


async def test_still_in_bed_at_ten_raises_an_alert_resolved_when_she_gets_up(night: Home) -> None:
    await night.at("10:00")
    await night.wait(seconds=1)
    assert night.raised("inactivity.not_up") == ["inactivity.not_up"]
    assert night.sink.raised()[-1].message == ("Mevrouw Jansen ligt om 10:00 nog in bed, later dan gewoonlijk."
                                               " Even bellen of langsgaan?")
    await night.wait(minutes=20)
    night.bed(False)
    await night.wait(seconds=1)
    assert ("10:20", "resolved", "inactivity.not_up") in night.alerts()


async def test_a_late_night_is_not_a_late_morning(day: Home) -> None:
    # Fails before the 10.5-hours-in-bed condition: in bed from 02:30 (Ordonez home A's usual
    # night), she was "not up" at the default 10:00 after 7.5 hours' sleep.
    await day.at("02:30")
    day.bed(True)
    await day.at("10:00")
    await day.wait(seconds=1)
    assert day.raised("inactivity.not_up") == []
    conditions = dict(await _conditions(day, "inactivity_not_up"))
    assert conditions["routine: past the resident's usual wake time"] is True
    [(said, ok)] = [(d, ok) for d, ok in conditions.items() if d.startswith("held bed_sensor")]
    assert ok is False
    assert said == ("held bed_sensor.occupancy is true for 10 hours and 30 minutes in total since 18:00"
                    " [in total 7 hours and 30 minutes]")
    # Still in bed at 13:00 (10.5 hours): now it is unusual, and she is asked about.
    await day.at("12:45")
    assert day.raised("inactivity.not_up") == []
    await day.at("13:00")
    await day.wait(seconds=1)
    assert [a for a in day.alerts() if a[2] == "inactivity.not_up"] == [("13:00", "raised", "inactivity.not_up")]


async def test_a_toilet_visit_does_not_restart_the_night(day: Home) -> None:
    # In bed 21:30-06:00, the toilet for 10 minutes, back in bed: 10.5 hours in bed are reached
    # at 08:10, so "not up" is asked at the default wake time, 10:00. With the longest single stretch
    # (3 h 50 min since 06:10) she would not be asked before 16:40.
    await day.at("21:30")
    day.bed(True)
    await day.at("06:00")
    day.bed(False)
    day.motion("bathroom")
    await day.wait(minutes=10)
    day.motion("bathroom", False)
    day.bed(True)
    await day.at("09:45")
    await day.wait(seconds=1)
    assert day.raised("inactivity.not_up") == []
    await day.at("10:00")
    await day.wait(seconds=1)
    assert [a for a in day.alerts() if a[2] == "inactivity.not_up"] == [("10:00", "raised", "inactivity.not_up")]


async def test_up_before_ten_means_no_alert(night: Home) -> None:
    await night.at("07:15")
    night.bed(False)
    night.motion("bedroom")
    await night.at("11:00")
    assert night.raised("inactivity.not_up") == []


async def test_a_learned_early_riser_is_asked_about_earlier(night: Home) -> None:
    # Two weeks of getting up at 06:30: not up by 08:00 (06:30 + 1h30) is unusual for her.
    events = []
    for d in range(14):
        base = night.local().replace(hour=0, minute=0) - timedelta(days=15 - d)
        events += [Activity(time=base.replace(hour=22), device="bed_sensor", kind="bed", value=True),
                   Activity(time=(base + timedelta(days=1)).replace(hour=6, minute=30),
                            device="bed_sensor", kind="bed", value=False)]
    assert night.engine is not None
    night.engine.use_routine(learn(events, night.config.routine, night.local().tzinfo, night.clock.now()))
    await night.at("08:00")
    await night.wait(seconds=1)
    assert night.alerts() == [("08:00", "raised", "inactivity.not_up")]


async def test_a_learned_quiet_limit_is_what_the_check_in_waits_for(day: Home) -> None:
    # Two weeks with a 90-minute nap as the longest daytime quiet: the limit becomes 1.25 x 90 min
    # = 1h53, so quiet since 12:00 is asked about at the first check after 13:53, not at 15:00.
    from tests.routine_days import days

    first = day.local().date() - timedelta(days=14)
    assert day.engine is not None
    routine = learn(days(first, 14), day.config.routine, day.local().tzinfo, day.clock.now())
    assert routine.quiet_limit(day.local()) == timedelta(minutes=113)
    day.engine.use_routine(routine)
    await day.at("13:45")
    assert day.raised("inactivity.no_motion") == []
    await day.at("14:00")
    await day.wait(seconds=1)
    assert day.alerts() == [("14:00", "raised", "inactivity.no_motion")]
