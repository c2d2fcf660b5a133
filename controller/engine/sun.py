"""Local time, sun events and the Dutch words for them.

Scenarios speak in the home's local time ("22:00", "maandag"), the clock in UTC: everything that
converts between the two lives here, so daylight saving time is handled in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from astral import Observer
from astral.sun import dawn, dusk, sunrise, sunset

_SUN: dict[str, Callable[..., datetime]] = {"sunrise": sunrise, "sunset": sunset, "dawn": dawn, "dusk": dusk}

WEEKDAY_NAMES = {
    "nl": ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTH_NAMES = {
    "nl": ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
           "september", "oktober", "november", "december"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}


@lru_cache(maxsize=4096)
def _sun_cached(lat: float, lon: float, day: date, event: str, tz: tzinfo) -> datetime | None:
    try:
        when: datetime = _SUN[event](Observer(lat, lon), day, tzinfo=tz)
        return when
    except ValueError:
        # Polar day or night: the event does not happen on this date.
        return None


def sun_event(lat: float, lon: float, day: date, event: str, tz: tzinfo) -> datetime | None:
    """When `event` (sunrise/sunset/dawn/dusk) happens on local date `day`, or None."""
    return _sun_cached(lat, lon, day, event, tz)


def next_sun_event(
    after: datetime, lat: float, lon: float, event: str, offset: timedelta, tz: tzinfo,
    weekdays: frozenset[int] | None = None,
) -> datetime | None:
    """The first `event + offset` strictly after `after` (on an allowed weekday), or None."""
    start = after.astimezone(tz).date() - timedelta(days=1)
    for d in range(0, 400):
        day = start + timedelta(days=d)
        if weekdays is not None and day.weekday() not in weekdays:
            continue
        when = sun_event(lat, lon, day, event, tz)
        if when is not None and when + offset > after:
            return when + offset
    return None


def next_time_of_day(
    after: datetime, times: Iterable[time], tz: tzinfo, weekdays: frozenset[int] | None = None
) -> datetime:
    """The first local time in `times` strictly after `after` (on an allowed weekday)."""
    local_day = after.astimezone(tz).date()
    best: datetime | None = None
    for d in range(0, 9):
        day = local_day + timedelta(days=d)
        if weekdays is not None and day.weekday() not in weekdays:
            continue
        for t in times:
            # Through UTC: a time in the hour skipped at the spring DST change still happens,
            # an hour "early" by the new offset, rather than not at all.
            candidate = datetime.combine(day, t, tzinfo=tz)
            if candidate.astimezone(after.tzinfo) > after and (best is None or candidate < best):
                best = candidate
        if best is not None:
            return best
    raise ValueError("no weekday allowed")  # weekdays is never empty after validation


def in_window(now_local: datetime, after: time | None, before: time | None,
              weekdays: frozenset[int] | None) -> bool:
    """Local time in [after, before); crosses midnight when after > before.

    The weekday that counts is that of the window's start: Friday 23:00 and Saturday 03:00 both
    belong to Friday night.
    """
    t = now_local.time()
    day = now_local.weekday()
    if after is None and before is None:
        inside = True
    elif after is None:
        inside = t < before  # type: ignore[operator]
    elif before is None:
        inside = t >= after
    elif after <= before:
        inside = after <= t < before
    else:
        inside = t >= after or t < before
        if t < before:
            day = (day - 1) % 7  # the early-morning part belongs to yesterday's window
    return inside and (weekdays is None or day in weekdays)


def spoken_duration(td: timedelta, language: str = "nl") -> str:
    """timedelta -> '10 minuten', '1 uur en 30 minuten' (or English)."""
    secs = int(round(td.total_seconds()))
    nl = language == "nl"
    units = (
        (86400, "dag" if nl else "day", "dagen" if nl else "days"),
        (3600, "uur" if nl else "hour", "uur" if nl else "hours"),
        (60, "minuut" if nl else "minute", "minuten" if nl else "minutes"),
        (1, "seconde" if nl else "second", "seconden" if nl else "seconds"),
    )
    parts: list[str] = []
    for size, one, many in units:
        if secs >= size:
            n, secs = divmod(secs, size)
            parts.append(f"{n} {one if n == 1 else many}")
    if not parts:
        return "0 minuten" if nl else "0 minutes"
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} {'en' if nl else 'and'} {parts[-1]}"


def spoken_date(day: date, language: str = "nl") -> str:
    """date -> '5 januari 2026' / 'January 5, 2026'."""
    months = MONTH_NAMES.get(language, MONTH_NAMES["nl"])
    if language == "en":
        return f"{months[day.month - 1]} {day.day}, {day.year}"
    return f"{day.day} {months[day.month - 1]} {day.year}"


def weekday_name(day: date, language: str = "nl") -> str:
    """date -> 'maandag' / 'Monday'."""
    return WEEKDAY_NAMES.get(language, WEEKDAY_NAMES["nl"])[day.weekday()]
