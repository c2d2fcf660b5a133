"""What a replay did, per day and per night: pages, lights, reminders, presence and mode.

A *night* runs from the evening to the morning (by default 22:00-07:00 local time, the shipped
night_exit scenario's night) and carries the date of its evening; the *day* of a date is the
rest of it (07:00-22:00). `huis replay --summary` prints one line per period, `--json` writes
the same as a document for tools (shape in docs/replay.md, `"format": "huis-replay-summary/1"`).

- pages: alerts raised for caregivers, by key and severity; technician notices apart;
- lights: commands to lights, by light, as switched on / off / changed (brightness only);
- reminders: spoken announcements (`say`), with their texts;
- alerts: (JSON only) every alert raised, with its time, for tools that measure time to alert;
- presence and mode: every change of the engine's house state, with what caused it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FORMAT = "huis-replay-summary/1"
NIGHT = (time(22, 0), time(7, 0))


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """An alert raised during the replay."""

    time: datetime
    key: str
    severity: str
    audience: str  # 'caregivers' or 'technician'
    scenario: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """A command the engine sent (captured, not sent)."""

    time: datetime
    device: str
    kind: str  # the device's kind: 'light', 'speaker', ...
    values: Mapping[str, object]


@dataclass(frozen=True, slots=True, kw_only=True)
class HouseChange:
    """A change of the house state (presence or mode)."""

    time: datetime
    name: str  # 'presence' or 'mode'
    old: str
    new: str
    cause: str


@dataclass(slots=True, kw_only=True)
class Period:
    """One day or night of a replay and what happened in it."""

    date: date  # of the day, or of the night's evening
    part: str  # 'day' or 'night'
    start: datetime
    end: datetime
    pages: Counter[tuple[str, str]] = field(default_factory=Counter)  # (severity, key)
    notices: Counter[tuple[str, str]] = field(default_factory=Counter)  # technician
    lights: dict[str, Counter[str]] = field(default_factory=dict)  # light -> on/off/changed
    reminders: list[tuple[datetime, str]] = field(default_factory=list)
    raised: list[Page] = field(default_factory=list)  # every alert, pages and notices, in order
    house: list[HouseChange] = field(default_factory=list)


def parse_night(text: str) -> tuple[time, time]:
    """'22:00-07:00' as (start, end); ValueError saying what is expected."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a night such as 22:00-07:00") from exc
    if start == end:
        raise ValueError(f"{text!r}: a night needs a start and a different end")
    return start, end


def period_of(when: datetime, tz: ZoneInfo, night: tuple[time, time] = NIGHT) -> tuple[date, str]:
    """The (date, 'day'|'night') that local time `when` falls in."""
    local = when.astimezone(tz)
    t, (start, end) = local.time(), night
    if start > end:  # the night crosses midnight
        if t >= start:
            return local.date(), "night"
        if t < end:
            return local.date() - timedelta(days=1), "night"
        return local.date(), "day"
    return local.date(), ("night" if start <= t < end else "day")


def _bounds(day: date, part: str, tz: ZoneInfo, night: tuple[time, time]) -> tuple[datetime, datetime]:
    start, end = night
    crosses = start > end
    night_start = datetime.combine(day, start, tz)
    night_end = datetime.combine(day + timedelta(days=1) if crosses else day, end, tz)
    if part == "night":
        return night_start, night_end
    if crosses:
        return datetime.combine(day, end, tz), night_start
    return night_end, datetime.combine(day + timedelta(days=1), start, tz)


def _periods(first: datetime, last: datetime, tz: ZoneInfo, night: tuple[time, time]) -> Iterator[tuple[date, str]]:
    """Every period from the one holding `first` to the one holding `last`, in order."""
    day, part = period_of(first, tz, night)
    end = period_of(last, tz, night)
    order = ("day", "night") if night[0] > night[1] else ("night", "day")
    while (day, order.index(part)) <= (end[0], order.index(end[1])):
        yield day, part
        if part == order[0]:
            part = order[1]
        else:
            day, part = day + timedelta(days=1), order[0]


def summarise(first: datetime, last: datetime, tz: ZoneInfo, *, pages: Sequence[Page],
              actions: Sequence[Action], house: Sequence[HouseChange],
              night: tuple[time, time] = NIGHT) -> list[Period]:
    """The periods from `first` to `last` with what happened in each."""
    periods = {key: Period(date=key[0], part=key[1], start=(b := _bounds(*key, tz, night))[0], end=b[1])
               for key in _periods(first, last, tz, night)}

    def at(when: datetime) -> Period | None:
        return periods.get(period_of(when, tz, night))

    for page in pages:
        if (p := at(page.time)) is not None:
            (p.notices if page.audience == "technician" else p.pages)[(page.severity, page.key)] += 1
            p.raised.append(page)
    for action in actions:
        if (p := at(action.time)) is not None:
            _count_action(p, action)
    for change in house:
        if (p := at(change.time)) is not None:
            p.house.append(change)
    return list(periods.values())


def _count_action(period: Period, action: Action) -> None:
    if "say" in action.values:
        period.reminders.append((action.time, str(action.values["say"])))
    elif action.kind == "light":
        state = str(action.values.get("state", "")).upper()
        how = {"ON": "on", "OFF": "off", "TRUE": "on", "FALSE": "off"}.get(state, "changed")
        period.lights.setdefault(action.device, Counter())[how] += 1


SEVERITIES = ("urgent", "warning", "info")


def _by_severity(counts: Counter[tuple[str, str]]) -> list[tuple[str, str, int]]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(((s, k, n) for (s, k), n in counts.items()), key=lambda x: (rank.get(x[0], 9), x[1]))


def render(periods: Sequence[Period], tz: ZoneInfo, night: tuple[time, time] = NIGHT) -> str:
    """The periods as text, one line each (and one per presence or mode change)."""
    lines = [f"per day ({night[1]:%H:%M}-{night[0]:%H:%M}) and night ({night[0]:%H:%M}-{night[1]:%H:%M}), "
             "local time:"]
    for p in periods:
        pages = ", ".join(f"{n} {s} {k}" for s, k, n in _by_severity(p.pages)) or "none"
        text = f"{p.date.isoformat()} {p.part:<5}  pages: {pages}"
        if p.notices:
            text += "; technician: " + ", ".join(f"{n} {s} {k}" for s, k, n in _by_severity(p.notices))
        switched = sum(sum(c.values()) for c in p.lights.values())
        detail = ", ".join(f"{light} {_light_text(c)}" for light, c in sorted(p.lights.items()))
        text += f"; lights: {switched}" + (f" ({detail})" if detail else "")
        text += f"; reminders: {len(p.reminders)}"
        lines.append(text)
        lines.extend(f"    {c.time.astimezone(tz):%H:%M:%S} {c.name} {c.old} -> {c.new}"
                     for c in p.house)
    return "\n".join(lines) + "\n"


def _light_text(counts: Counter[str]) -> str:
    return " ".join(f"{how} {counts[how]}" for how in ("on", "off", "changed") if counts[how])


def to_json(periods: Sequence[Period], night: tuple[time, time], *, log: str, events: int,
            tz: ZoneInfo) -> dict[str, object]:
    """The periods as a JSON document (docs/replay.md describes it)."""
    return {
        "format": FORMAT,
        "log": log,
        "events": events,
        "timezone": tz.key,
        "night": {"start": f"{night[0]:%H:%M}", "end": f"{night[1]:%H:%M}"},
        "periods": [_period_json(p, tz) for p in periods],
    }


def _period_json(p: Period, tz: ZoneInfo) -> dict[str, object]:
    def pages(counts: Counter[tuple[str, str]]) -> list[dict[str, object]]:
        return [{"key": k, "severity": s, "count": n} for s, k, n in _by_severity(counts)]

    return {
        "date": p.date.isoformat(),
        "part": p.part,
        "start": p.start.isoformat(),
        "end": p.end.isoformat(),
        "pages": pages(p.pages),
        "technician": pages(p.notices),
        "lights": {light: {how: c[how] for how in ("on", "off", "changed")}
                   for light, c in sorted(p.lights.items())},
        "reminders": [{"time": t.astimezone(tz).isoformat(), "text": text} for t, text in p.reminders],
        "alerts": [{"time": a.time.astimezone(tz).isoformat(), "key": a.key, "severity": a.severity,
                    "audience": a.audience, "scenario": a.scenario} for a in p.raised],
        "house": [{"time": c.time.astimezone(tz).isoformat(), "name": c.name, "from": c.old, "to": c.new,
                   "cause": c.cause} for c in p.house],
    }
