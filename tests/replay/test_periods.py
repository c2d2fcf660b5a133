"""Which day or night a moment belongs to (controller/replay_summary.py)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from controller.replay_summary import parse_night, period_of, summarise

TZ = ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(("clock", "expected"), [
    ("2026-01-06T06:59:59", (date(2026, 1, 5), "night")),  # the morning ends Monday's night
    ("2026-01-06T07:00:00", (date(2026, 1, 6), "day")),
    ("2026-01-06T21:59:59", (date(2026, 1, 6), "day")),
    ("2026-01-06T22:00:00", (date(2026, 1, 6), "night")),
    ("2026-01-06T00:30:00", (date(2026, 1, 5), "night")),
])
def test_a_night_from_evening_to_morning_carries_its_evenings_date(clock: str, expected: tuple[date, str]) -> None:
    assert period_of(datetime.fromisoformat(clock).replace(tzinfo=TZ), TZ) == expected


def test_a_night_after_midnight_and_times_in_utc() -> None:
    assert parse_night("22-07") == (time(22), time(7))
    night = parse_night("00:00-06:00")
    assert period_of(datetime(2026, 1, 6, 5, 0, tzinfo=TZ), TZ, night) == (date(2026, 1, 6), "night")
    assert period_of(datetime(2026, 1, 6, 23, 0, tzinfo=TZ), TZ, night) == (date(2026, 1, 6), "day")
    # 21:30 UTC is 22:30 in Amsterdam in winter: night.
    assert period_of(datetime.fromisoformat("2026-01-06T21:30:00+00:00"), TZ) == (date(2026, 1, 6), "night")


def test_every_period_is_listed_even_the_quiet_ones() -> None:
    periods = summarise(datetime(2026, 1, 5, 20, 0, tzinfo=TZ), datetime(2026, 1, 7, 8, 0, tzinfo=TZ), TZ,
                        pages=(), actions=(), house=())
    assert [(p.date.day, p.part, p.start.time(), p.end.time()) for p in periods] == [
        (5, "day", time(7), time(22)), (5, "night", time(22), time(7)),
        (6, "day", time(7), time(22)), (6, "night", time(22), time(7)),
        (7, "day", time(7), time(22)),
    ]


@pytest.mark.parametrize("text", ["22:00", "07:00-07:00", "laat-vroeg", "22:00-07:00-08:00"])
def test_a_night_that_is_not_one(text: str) -> None:
    with pytest.raises(ValueError, match="night"):
        parse_night(text)
