"""The resident's own routine, learned from the hub's history: how active the home usually is per
hour of the week, the usual bed and wake times, and how long the usual quiet gaps are.

Thresholds then fit the person rather than a textbook day: a quiet gap is unusual when it is
longer than her usual longest quiet of that part of the day (the `percentile`, 99th by default, of
each known day's longest gap that began in it) times `margin`, clipped to the bounds a technician
sets in `config/home.yaml` (`routine:`); "not up" is the usual wake time plus a margin. Until
`learn_days` days are known the fixed defaults apply.

Why the daily longest gap and not the 99th percentile of all gaps: a home with many sensors has
dozens of gaps a day, so 1% of them (several a week) would exceed the 99th percentile by
definition. On the real Ordóñez homes, judged day by day with what was learned before that day,
the percentile of all gaps asked for 0.29 and 0.93 check-ins a day; the daily longest with a 1.25
margin 0.14 and 0.07 (docs/scenarios-shipped.md).

A long quiet counts as usual only when it came on at least two days: with at most 28 days the
99th percentile of the daily longest is the one longest day, and that day may be the incident the
hub paged about (3.6-4.5 h without movement in the simulated lives), which would then teach it
that four quiet hours are usual and hide the next one. So the usual longest is never above the
second-longest day's.

The learning is pure computation over rows (`learn`), so it is tested without I/O; `load_routine`
reads the `history` table, and `RoutineKeeper` recomputes once a night through the clock (never
per event), handing each new routine to whoever uses it (the engine's `quiet` and `routine`
conditions).
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from statistics import median
from zoneinfo import ZoneInfo

from controller.clock import Clock
from controller.config import HomeConfig, RoutineConfig
from controller.store import Database

log = logging.getLogger(__name__)

PARTS = ("night", "morning", "day", "evening")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# What counts as "someone is active": a motion sensor seeing movement, getting into or out of
# bed, a door opening or closing.
ACTIVITY = {"motion": "occupancy", "bed": "occupancy", "contact": "contact"}
_NIGHT_LENGTH = timedelta(hours=20)  # a night's bed intervals: from 18:00 until 14:00 next day
_SLEEP_AT_LEAST = timedelta(minutes=30)  # shorter stays in bed are a rest, not the night
_BACK_IN_BED = timedelta(hours=1)  # out of bed no longer than this at night: still the same night


@dataclass(frozen=True, slots=True, kw_only=True)
class Activity:
    """One activity event: who (device and its kind) and, for the bed, in or out."""

    time: datetime
    device: str
    kind: str
    value: object


@dataclass(frozen=True, slots=True, kw_only=True)
class QuietGaps:
    """The quiet gaps of one part of the day: how many, their median and 90th percentile, the
    usual longest of a day (the configured percentile of each day's longest), the limit in use."""

    count: int
    p50: timedelta | None
    p90: timedelta | None
    longest: timedelta | None
    limit: timedelta


@dataclass(frozen=True, slots=True, kw_only=True)
class DayHabits:
    """One weekday's usual times (None when no night of that weekday is known)."""

    bed: time | None
    wake: time | None
    active_hours: tuple[int, ...]  # hours with more than half the busiest hour's mean activity


@dataclass(frozen=True, slots=True, kw_only=True)
class Routine:
    """What the hub knows of the resident's days. `learned` is False while the defaults apply."""

    settings: RoutineConfig
    computed_at: datetime | None
    days_known: int
    learned: bool
    usual: tuple[tuple[float, ...], ...]  # 7 x 24: mean activity events per hour of the week
    habits: tuple[DayHabits, ...]  # per weekday, Monday first
    quiet: Mapping[str, QuietGaps]  # per part of the day
    wake_by_times: tuple[time, ...]  # per weekday: later than this in bed is "not up"
    tz: tzinfo = field(default_factory=lambda: ZoneInfo("Europe/Amsterdam"))

    def part_of_day(self, local: datetime) -> str:
        """'night', 'morning', 'day' or 'evening' for a local time."""
        return part_of_day(local.time(), self.settings)

    def quiet_limit(self, local: datetime) -> timedelta:
        """How long a quiet gap that began at `local` may last before it is unusual for this
        resident (gaps are learned by the part of the day they begin in)."""
        return self.quiet[self.part_of_day(local)].limit

    def wake_by(self, local: datetime) -> time:
        """Still in bed after this time today is "not up"."""
        return self.wake_by_times[local.weekday()]

    def in_night(self, local: datetime) -> bool:
        """Whether `local` is in the resident's night: from the usual bed time (less a margin)
        until the usual wake time; the configured night part until learned."""
        margin = self.settings.night_margin
        for start_day in (local.date() - timedelta(days=1), local.date()):
            bed = self._bed_time(start_day.weekday())
            wake = self._wake_time((start_day + timedelta(days=1)).weekday())
            start = datetime.combine(start_day, bed, tzinfo=local.tzinfo) - margin
            if bed < time(12):  # going to bed after midnight belongs to the evening before
                start += timedelta(days=1)
            end = datetime.combine(start_day + timedelta(days=1), wake, tzinfo=local.tzinfo)
            if start <= local < end:
                return True
        return False

    def _bed_time(self, weekday: int) -> time:
        usual = self.habits[weekday].bed if self.learned else None
        return usual if usual is not None else self.settings.parts.night

    def _wake_time(self, weekday: int) -> time:
        usual = self.habits[weekday].wake if self.learned else None
        return usual if usual is not None else self.settings.parts.morning

    def as_dict(self) -> dict[str, object]:
        """For the dashboard and `huis routine --json`: durations in minutes, times as HH:MM."""
        return {
            "learned": self.learned, "days_known": self.days_known,
            "learn_days": self.settings.learn_days, "percentile": self.settings.percentile,
            "computed_at": self.computed_at.isoformat() if self.computed_at else None,
            "usual": [list(row) for row in self.usual],
            "weekdays": [{"day": WEEKDAYS[i], "bed": _hhmm(h.bed), "wake": _hhmm(h.wake),
                          "wake_by": _hhmm(self.wake_by_times[i]), "active_hours": list(h.active_hours)}
                         for i, h in enumerate(self.habits)],
            "quiet": {p: {"gaps": q.count, "p50": _minutes(q.p50), "p90": _minutes(q.p90),
                          "longest": _minutes(q.longest), "limit": _minutes(q.limit)}
                      for p, q in self.quiet.items()},
        }


def _hhmm(t: time | None) -> str | None:
    return None if t is None else f"{t:%H:%M}"


def _minutes(d: timedelta | None) -> float | None:
    return None if d is None else round(d.total_seconds() / 60, 1)


def part_of_day(t: time, settings: RoutineConfig) -> str:
    """The part of the day a local time falls in (night wraps past midnight)."""
    p = settings.parts
    if p.morning <= t < p.day:
        return "morning"
    if p.day <= t < p.evening:
        return "day"
    if p.evening <= t < p.night:
        return "evening"
    return "night"


def default_routine(settings: RoutineConfig, tz: tzinfo | None = None) -> Routine:
    """The fixed defaults: what applies before enough days are known."""
    return learn([], settings, tz or ZoneInfo("Europe/Amsterdam"), None)


# -- learning: pure computation over activity events ----------------------------------------------


def activities(rows: Iterable[tuple[datetime, str | None, str | None, object]],
               kinds: Mapping[str, str]) -> list[Activity]:
    """History rows (time, device, attribute, value) -> activity events, in time order.

    `kinds` maps device ids to their kind; a motion sensor counts only when it sees movement.
    """
    out: list[Activity] = []
    for when, device, attribute, value in rows:
        kind = kinds.get(device or "")
        if kind is None or ACTIVITY.get(kind) != attribute or not isinstance(value, bool):
            continue
        if kind == "motion" and not value:
            continue
        out.append(Activity(time=when, device=device or "", kind=kind, value=value))
    out.sort(key=lambda a: a.time)
    return out


def learn(events: Sequence[Activity], settings: RoutineConfig, tz: tzinfo,
          now: datetime | None) -> Routine:
    """The routine shown by `events` (activity events in time order) up to `now`."""
    local = [(e.time.astimezone(tz), e) for e in events]
    today = now.astimezone(tz).date() if now is not None else None
    days = sorted({t.date() for t, _ in local if today is None or t.date() < today})
    learned = len(days) >= settings.learn_days
    usual = _usual_activity(local, days)
    nights = _nights(local)
    habits = tuple(_habits(wd, nights, usual[wd]) for wd in range(7))
    gaps = _quiet_gaps(local, settings)
    quiet = {p: _quiet_of(gaps.get(p, {}), settings, p, learned) for p in PARTS}
    wake_by = tuple(_wake_by(habits[wd].wake if learned else None, settings) for wd in range(7))
    return Routine(settings=settings, computed_at=now, days_known=len(days), learned=learned,
                   usual=usual, habits=habits, quiet=quiet, wake_by_times=wake_by, tz=tz)


def _usual_activity(local: Sequence[tuple[datetime, Activity]],
                    days: Sequence[date]) -> tuple[tuple[float, ...], ...]:
    known = set(days)
    per_weekday = [sum(1 for d in days if d.weekday() == wd) for wd in range(7)]
    counts = [[0] * 24 for _ in range(7)]
    for t, _ in local:
        if t.date() in known:
            counts[t.weekday()][t.hour] += 1
    return tuple(tuple(round(c / per_weekday[wd], 2) if per_weekday[wd] else 0.0 for c in counts[wd])
                 for wd in range(7))


def this_week(events: Sequence[Activity], tz: tzinfo, now: datetime) -> list[list[int | None]]:
    """7 x 24 activity counts of the current week (Monday first); hours still ahead are None."""
    local_now = now.astimezone(tz)
    monday = local_now.date() - timedelta(days=local_now.weekday())
    start = datetime.combine(monday, time(0), tzinfo=tz)
    grid: list[list[int | None]] = [[0] * 24 for _ in range(7)]
    for e in events:
        t = e.time.astimezone(tz)
        if start <= t <= local_now:
            row = grid[t.weekday()]
            row[t.hour] = (row[t.hour] or 0) + 1
    for wd in range(7):
        for h in range(24):
            if datetime.combine(monday + timedelta(days=wd), time(h), tzinfo=tz) > local_now:
                grid[wd][h] = None
    return grid


def _bed_intervals(local: Sequence[tuple[datetime, Activity]]) -> list[tuple[datetime, datetime | None]]:
    """Stretches in bed: from getting in to getting out (None: still in bed at the end)."""
    out: list[tuple[datetime, datetime | None]] = []
    since: datetime | None = None
    for t, e in local:
        if e.kind != "bed":
            continue
        if e.value is True and since is None:
            since = t
        elif e.value is False and since is not None:
            out.append((since, t))
            since = None
    if since is not None:
        out.append((since, None))
    return out


def _nights(local: Sequence[tuple[datetime, Activity]]) -> list[tuple[date, datetime, datetime]]:
    """Per night (keyed by the evening's date): when she went to bed and when she got up.

    A night's stays in bed start between 18:00 and 04:00; toilet visits split it, so bed time is
    the first long stay's start and wake time the last long stay's end.
    """
    by_night: dict[date, list[tuple[datetime, datetime]]] = defaultdict(list)
    unfinished: set[date] = set()
    last_out: dict[date, datetime] = {}  # when the night's last stay in bed ended
    for start, end in _bed_intervals(local):
        evening = (start - timedelta(hours=18)).date()  # 18:00..17:59 next day -> that evening
        if end is None:
            unfinished.add(evening)  # still in bed: that night's wake time is not known yet
            continue
        begins = datetime.combine(evening, time(18), tzinfo=start.tzinfo)
        # Back in bed soon after a night's stay (a 05:30 toilet visit) is the same night.
        back = evening in last_out and start - last_out[evening] <= _BACK_IN_BED
        if not (start < begins + timedelta(hours=10) or back) or end > begins + _NIGHT_LENGTH:
            continue
        last_out[evening] = end
        if end - start >= _SLEEP_AT_LEAST:
            by_night[evening].append((start, end))
    return [(d, stays[0][0], stays[-1][1]) for d, stays in sorted(by_night.items()) if d not in unfinished]


_SAME_WEEKDAY_AT_LEAST = 3  # nights of a weekday before its own times are trusted over all days


def _habits(weekday: int, nights: Sequence[tuple[date, datetime, datetime]],
            usual: Sequence[float]) -> DayHabits:
    """One weekday's usual times: the median of its own nights once there are three, before
    that the median of all nights (one odd night must not move "not up" by hours)."""
    # Bed time belongs to the evening's weekday, wake time to the morning's.
    all_beds = [(d.weekday(), _clock_minutes(bed, evening=True)) for d, bed, _ in nights]
    all_wakes = [((d.weekday() + 1) % 7, _clock_minutes(up, evening=False)) for d, _, up in nights]
    peak = max(usual, default=0.0)
    active = tuple(h for h, v in enumerate(usual) if peak > 0 and v > peak / 2)
    return DayHabits(bed=_usual_time(weekday, all_beds), wake=_usual_time(weekday, all_wakes),
                     active_hours=active)


def _usual_time(weekday: int, samples: Sequence[tuple[int, float]]) -> time | None:
    own = [m for wd, m in samples if wd == weekday]
    chosen = own if len(own) >= _SAME_WEEKDAY_AT_LEAST else [m for _, m in samples]
    return _from_minutes(median(chosen)) if chosen else None


def _clock_minutes(t: datetime, *, evening: bool) -> float:
    """Minutes since midnight; after midnight counts past 24:00 for a bed time (01:00 -> 25:00)."""
    m = t.hour * 60 + t.minute + t.second / 60
    return m + 24 * 60 if evening and t.hour < 12 else m


def _from_minutes(m: float) -> time:
    whole = int(round(m)) % (24 * 60)
    return time(whole // 60, whole % 60)


def _quiet_gaps(local: Sequence[tuple[datetime, Activity]],
                settings: RoutineConfig) -> dict[str, dict[date, list[timedelta]]]:
    """The gaps between activity events, by the part of the day and the date they began in.

    Left out: gaps spent in bed (sleep is not inactivity; `not_up` watches the morning) and gaps
    that begin and end with a door (the resident was probably out).
    """
    out: dict[str, dict[date, list[timedelta]]] = defaultdict(lambda: defaultdict(list))
    in_bed = False
    for (t0, e0), (t1, e1) in zip(local, local[1:], strict=False):
        if e0.kind == "bed":
            in_bed = e0.value is True
        if in_bed or (e0.kind == "contact" and e1.kind == "contact"):
            continue
        out[part_of_day(t0.time(), settings)][t0.date()].append(t1 - t0)
    return out


def percentile(values: Sequence[timedelta], pct: float) -> timedelta | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def _usual_longest(daily_longest: Sequence[timedelta], pct: float) -> timedelta | None:
    """The configured percentile of each day's longest gap, but never above the second-longest
    day's: one day's long quiet (perhaps the incident that was paged) is not yet usual."""
    longest = percentile(daily_longest, pct)
    if longest is None or len(daily_longest) < 2:
        return longest
    return min(longest, sorted(daily_longest)[-2])


def _quiet_of(by_day: Mapping[date, Sequence[timedelta]], settings: RoutineConfig, part: str,
              learned: bool) -> QuietGaps:
    bounds = settings.quiet.of(part)
    gaps = [g for day in by_day.values() for g in day]
    longest = _usual_longest([max(day) for day in by_day.values() if day], settings.percentile)
    limit = bounds.default
    if learned and longest is not None:
        # Whole minutes up: a limit of 1h52m30s reads (and compares) as 1h53.
        wanted = timedelta(minutes=math.ceil(longest.total_seconds() * settings.margin / 60))
        limit = min(max(wanted, bounds.min), bounds.max)
    return QuietGaps(count=len(gaps), p50=percentile(gaps, 50), p90=percentile(gaps, 90), longest=longest,
                     limit=limit)


def _wake_by(usual: time | None, settings: RoutineConfig) -> time:
    w = settings.wake
    if usual is None:
        return w.default
    later = datetime.combine(date(2000, 1, 1), usual) + w.margin
    chosen = later.time() if later.date() == date(2000, 1, 1) else w.latest
    return min(max(chosen, w.earliest), w.latest)


# -- reading the history table, and keeping the routine up to date --------------------------------


def device_kinds(cfg: HomeConfig) -> dict[str, str]:
    """Device id -> kind, for the devices whose events count as activity."""
    return {dev_id: d.kind for dev_id, d in cfg.devices.items() if d.kind in ACTIVITY}


async def load_activity(db: Database, cfg: HomeConfig, since: datetime, until: datetime) -> list[Activity]:
    """Activity events recorded in the `history` table between `since` and `until`."""
    kinds = device_kinds(cfg)
    if not kinds:
        return []
    rows = await db.fetchall(
        f"SELECT time, device, attribute, value FROM history WHERE type = 'state_changed'"
        f" AND time >= ? AND time < ? AND device IN ({','.join('?' * len(kinds))})"
        " AND attribute IN ('occupancy', 'contact') ORDER BY time, id",
        (since.isoformat(), until.isoformat(), *kinds))
    return activities(((datetime.fromisoformat(r["time"]), r["device"], r["attribute"], json.loads(r["value"]))
                       for r in rows), kinds)


async def load_routine(db: Database, cfg: HomeConfig, now: datetime) -> Routine:
    """The routine learned from the last `window_days` of history up to `now`."""
    settings = cfg.routine
    tz = ZoneInfo(cfg.home.location.timezone)
    local_midnight = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)
    since = local_midnight - timedelta(days=settings.window_days)
    return learn(await load_activity(db, cfg, since, now), settings, tz, now)


class RoutineKeeper:
    """Recomputes the routine at start and then every night at `recompute_at` (clock time)."""

    def __init__(self, db: Database, cfg: HomeConfig, clock: Clock,
                 use: Callable[[Routine], None] | None = None) -> None:
        self.db = db
        self.cfg = cfg
        self.clock = clock
        self.tz = ZoneInfo(cfg.home.location.timezone)
        self.current = default_routine(cfg.routine, self.tz)
        self._use = use

    async def recompute(self) -> Routine:
        self.current = await load_routine(self.db, self.cfg, self.clock.now())
        log.info("routine: %d day(s) known, %s", self.current.days_known,
                 "learned" if self.current.learned else "defaults until "
                 f"{self.cfg.routine.learn_days} days are known")
        if self._use is not None:
            self._use(self.current)
        return self.current

    def next_run(self) -> datetime:
        local = self.clock.now().astimezone(self.tz)
        when = datetime.combine(local.date(), self.cfg.routine.recompute_at, tzinfo=self.tz)
        return when if when > local else when + timedelta(days=1)

    async def run(self) -> None:
        """Until cancelled: recompute now, then nightly. A failure keeps the routine it had (the
        defaults at worst) and is logged: learning is an extra, never a reason to stop the hub."""
        while True:
            try:
                await self.recompute()
            except Exception:
                log.exception("routine: recomputing failed; keeping the routine of %s",
                              self.current.computed_at or "the defaults")
            await self.clock.sleep_until(self.next_run())


# -- as text (`huis routine`) ----------------------------------------------------------------------


def _hours_text(hours: Sequence[int]) -> str:
    """(7, 8, 9, 12, 13) -> '07-10, 12-14'."""
    spans: list[list[int]] = []
    for h in hours:
        if spans and spans[-1][1] == h:
            spans[-1][1] = h + 1
        else:
            spans.append([h, h + 1])
    return ", ".join(f"{a:02d}-{b:02d}" for a, b in spans) or "-"


def _dur(d: timedelta | None) -> str:
    if d is None:
        return "-"
    minutes = round(d.total_seconds() / 60)
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes >= 60 else f"{minutes}m"


def render_routine(routine: Routine, who: str) -> str:
    """The routine as a technician reads it in a terminal."""
    s = routine.settings
    state = (f"LEARNED from {routine.days_known} day(s)" if routine.learned else
             f"DEFAULT (only {routine.days_known} of {s.learn_days} day(s) known; the fixed limits apply)")
    lines = [f"Routine of {who}: {state}; last {s.window_days} days; limit: the {s.percentile:g}th "
             f"percentile of each day's longest quiet x {s.margin:g}.", "",
             "day  bed    up     not up by  active hours"]
    for i, h in enumerate(routine.habits):
        lines.append(f"{WEEKDAYS[i]:<4} {_hhmm(h.bed) or '-':<6} {_hhmm(h.wake) or '-':<6} "
                     f"{_hhmm(routine.wake_by_times[i]):<10} {_hours_text(h.active_hours)}")
    lines += ["", f"{'part':<8} {'from':<6} {'gaps':>5} {'p50':>6} {'p90':>6} {'longest':>7}"
                  f"  limit   (bounds; default)"]
    for part in PARTS:
        q = routine.quiet[part]
        b = s.quiet.of(part)
        start = getattr(s.parts, part)
        lines.append(f"{part:<8} {start:%H:%M}  {q.count:>5} {_dur(q.p50):>6} {_dur(q.p90):>6} {_dur(q.longest):>7}"
                     f"  {_dur(q.limit):<7} ({_dur(b.min)}-{_dur(b.max)}; {_dur(b.default)})")
    return "\n".join(lines) + "\n"
