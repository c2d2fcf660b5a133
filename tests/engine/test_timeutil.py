"""Local time, DST, sun events, spoken Dutch, and the template mini-language."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from controller.engine.sun import (
    in_window,
    next_sun_event,
    next_time_of_day,
    spoken_date,
    spoken_duration,
    weekday_name,
)
from controller.engine.templates import parse_template

AMS = ZoneInfo("Europe/Amsterdam")


def test_next_time_of_day_across_the_dst_changes() -> None:
    # Saturday 28 March 2026 08:00 local; clocks go forward on Sunday 29 March at 02:00.
    after = datetime(2026, 3, 28, 8, 0, tzinfo=AMS).astimezone(UTC)
    nxt = next_time_of_day(after, [time(7, 30)], AMS)
    assert nxt.astimezone(AMS) == datetime(2026, 3, 29, 7, 30, tzinfo=AMS)
    assert nxt.astimezone(UTC).hour == 5  # summer time: UTC+2
    # The skipped hour still happens (once), rather than the trigger being lost for the day.
    nxt = next_time_of_day(after, [time(2, 30)], AMS)
    assert nxt.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    # October: 02:30 happens twice; the trigger fires once, at the first.
    after = datetime(2026, 10, 24, 12, 0, tzinfo=AMS).astimezone(UTC)
    first = next_time_of_day(after, [time(2, 30)], AMS)
    assert first.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert next_time_of_day(first, [time(2, 30)], AMS).astimezone(AMS).day == 26


def test_weekdays_skip_days() -> None:
    monday = datetime(2026, 1, 5, 12, 0, tzinfo=AMS)
    nxt = next_time_of_day(monday, [time(9, 0)], AMS, frozenset({5}))
    assert nxt.astimezone(AMS) == datetime(2026, 1, 10, 9, 0, tzinfo=AMS)


def test_window_edges() -> None:
    day = datetime(2026, 1, 5, tzinfo=AMS)
    at = lambda h, mi=0: day.replace(hour=h, minute=mi)  # noqa: E731
    assert in_window(at(8), time(8), time(9), None)
    assert not in_window(at(9), time(8), time(9), None)
    assert in_window(at(23), time(22), None, None)
    assert in_window(at(1), None, time(7), None)
    assert not in_window(at(12), time(22), time(7), None)
    assert in_window(at(6, 59), time(22), time(7), frozenset({6}))  # Monday 06:59 is Sunday night


def test_sun_events_in_zwolle() -> None:
    after = datetime(2026, 6, 21, 0, 0, tzinfo=UTC)
    sunrise = next_sun_event(after, 52.5168, 6.0830, "sunrise", timedelta(0), AMS)
    assert sunrise is not None and sunrise.astimezone(AMS).strftime("%H:%M") == "05:12"
    later = next_sun_event(after, 52.5168, 6.0830, "sunset", timedelta(minutes=-30), AMS)
    assert later is not None and later.astimezone(AMS).strftime("%H:%M") == "21:32"


def test_spoken_dutch() -> None:
    assert spoken_duration(timedelta(minutes=10)) == "10 minuten"
    assert spoken_duration(timedelta(minutes=1)) == "1 minuut"
    assert spoken_duration(timedelta(hours=1, minutes=30)) == "1 uur en 30 minuten"
    assert spoken_duration(timedelta(hours=25), "en") == "1 day and 1 hour"
    assert spoken_date(date(2026, 1, 5)) == "5 januari 2026"
    assert weekday_name(date(2026, 1, 5)) == "maandag"
    assert weekday_name(date(2026, 1, 5), "en") == "Monday"


def test_templates_fill_names_and_nothing_else() -> None:
    tpl = parse_template("{{literal}} {resident} is in {trigger.room_name}; {missing}")
    values = {("resident",): "Mevrouw Jansen", ("trigger", "room_name"): "Hal"}
    assert tpl.render(lambda p: values.get(p)) == "{literal} Mevrouw Jansen is in Hal; ?"
    assert [".".join(n) for n in tpl.names] == ["resident", "trigger.room_name", "missing"]
    # Python format syntax is not a way in: attribute access, indexing and specs are rejected.
    for bad in ("{resident.__class__!r}", "{x[0]}", "{time:%H}", "a } b"):
        with pytest.raises(ValueError):
            parse_template(bad)
