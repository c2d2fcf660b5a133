"""The learned routine on the real Ordóñez homes: learned bed/wake times against the labels, and
how often the inactivity check-in would ask, with learned limits and with the fixed defaults.

    .venv/bin/python -m bench.routine_ordonez [--data ../shared/data/ordonez]

Each day from the eighth on is judged with the routine learned from the days before it (what the
nightly recomputation gives), presence from the hand-written "Leaving" labels (ideal presence), the
check every 15 minutes as in scenarios/inactivity.yaml. The data has no injected incidents, so
every check-in counts as false. Sensors map as in bench/ordonez.py: the bed mat is the bed, the
main door a door, every other sensor firing is movement. Figures are in docs/scenarios-shipped.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, time, timedelta
from pathlib import Path
from statistics import median
from zoneinfo import ZoneInfo

from controller.config import RoutineConfig
from controller.routine import Activity, Routine, default_routine, learn
from huis.compose import load_home

TZ = ZoneInfo("Europe/Amsterdam")
CHECK_EVERY = timedelta(minutes=15)
Span = tuple[datetime, datetime]


def _rows(path: Path) -> Iterator[list[str]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = [p.strip() for p in line.split("\t") if p.strip()]
        if len(parts) >= 3 and parts[0][:2] == "20":
            yield parts


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def load(data: Path, home: str) -> tuple[list[Activity], list[tuple[datetime, datetime, str]]]:
    """Activity events and activity labels of Ordóñez home A or B."""
    events: list[Activity] = []
    for start, end, location, _kind, place in _rows(data / f"Ordonez{home}_Sensors.txt"):
        if location == "Bed":
            events += [Activity(time=_t(start), device="bed_sensor", kind="bed", value=True),
                       Activity(time=_t(end), device="bed_sensor", kind="bed", value=False)]
        elif location == "Maindoor":
            events += [Activity(time=_t(start), device="front_door", kind="contact", value=False),
                       Activity(time=_t(end), device="front_door", kind="contact", value=True)]
        else:
            events.append(Activity(time=_t(start), device=f"{place.lower()}_motion", kind="motion", value=True))
    events.sort(key=lambda a: a.time)
    labels = [(_t(s), _t(e), a) for s, e, a, *_ in _rows(data / f"Ordonez{home}_ADLs.txt")]
    return events, labels


def _next_check(when: datetime) -> datetime:
    base = when.replace(minute=0, second=0, microsecond=0)
    steps = -(-(when - base) // CHECK_EVERY)  # ceiling: the first check at or after `when`
    return base + steps * CHECK_EVERY


def check_ins(events: Sequence[Activity], away: Sequence[Span],
              limit_of: Callable[[datetime], timedelta]) -> list[tuple[datetime, datetime]]:
    """(quiet since, asked at) of every check-in: out of bed, home, quiet past the limit."""
    out: list[tuple[datetime, datetime]] = []
    in_bed = False
    for a, b in zip(events, events[1:], strict=False):
        if a.kind == "bed":
            in_bed = a.value is True
        if in_bed:
            continue
        asked = _next_check(a.time + limit_of(a.time.astimezone(TZ)))
        if asked < b.time and not any(s <= asked < e for s, e in away):
            out.append((a.time, asked))
    return out


def _in_bed_since(events: Sequence[Activity], when: datetime) -> datetime | None:
    """Since when the bed has been occupied at `when` (None: not in bed)."""
    since: datetime | None = None
    for e in events:
        if e.time > when:
            break
        if e.kind == "bed":
            since = e.time if e.value is True else None
    return since


def not_up(events: Sequence[Activity], away: Sequence[Span], day_start: datetime,
           wake_by: time) -> datetime | None:
    """When `inactivity_not_up` would ask on this morning: the first 15-minute check from 07:00
    to 12:00 at or after `wake_by` with the bed occupied for an hour, the resident home."""
    check = day_start + timedelta(hours=7)
    while check <= day_start + timedelta(hours=12):
        since = _in_bed_since(events, check)
        if check.time() >= wake_by and since is not None and check - since >= timedelta(hours=1) \
                and not any(s <= check < e for s, e in away):
            return check
        check += CHECK_EVERY
    return None


def judge(events: Sequence[Activity], labels: Sequence[tuple[datetime, datetime, str]],
          routine_for: Callable[[datetime], Routine]) -> tuple[int, list[tuple[datetime, datetime]]]:
    """Days judged and the check-ins of each day from the eighth, with `routine_for(midnight)`;
    a not-up alert is a check-in (in bed since, asked at)."""
    away = [(s, e) for s, e, a in labels if a == "Leaving"]
    first, last = events[0].time.astimezone(TZ).date(), events[-1].time.astimezone(TZ).date()
    found: list[tuple[datetime, datetime]] = []
    days = 0
    for k in range(7, (last - first).days):
        start = datetime.combine(first + timedelta(days=k), time(0), tzinfo=TZ)
        end = start + timedelta(days=1)
        routine = routine_for(start)
        todays = [e for e in events if start - timedelta(hours=12) <= e.time < end]
        found += [c for c in check_ins(todays, away, routine.quiet_limit) if start <= c[1] < end]
        asked = not_up(todays, away, start, routine.wake_by(start))
        if asked is not None:
            found.append((_in_bed_since(todays, asked) or asked, asked))
        days += 1
    return days, found


def _learned_before(events: Sequence[Activity], settings: RoutineConfig) -> Callable[[datetime], Routine]:
    return lambda start: learn([e for e in events if e.time < start], settings, TZ, start)


def _hhmm(minutes: float) -> str:
    return f"{int(minutes) // 60:02d}:{int(minutes) % 60:02d}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/ordonez"))
    parser.add_argument("--config", default="config/home.yaml")
    args = parser.parse_args(argv)
    settings = load_home(args.config).routine
    for home in ("A", "B"):
        events, labels = load(args.data, home)
        days, learned = judge(events, labels, _learned_before(events, settings))
        _, fixed = judge(events, labels, lambda start: default_routine(settings, TZ))
        routine = learn(events, settings, TZ, events[-1].time + timedelta(days=1))
        sleeps = [(s, e) for s, e, a in labels if a == "Sleeping" and e - s > timedelta(hours=3)]
        print(f"home {home}: {days} days judged; check-ins with learned limits {len(learned)} "
              f"({len(learned) / days:.2f}/day), with the fixed defaults {len(fixed)} ({len(fixed) / days:.2f}/day)")
        for since, asked in learned:
            print(f"  quiet since {since.astimezone(TZ):%a %d %H:%M}, asked at {asked.astimezone(TZ):%H:%M}")
        beds = [h.bed.strftime("%H:%M") for h in routine.habits if h.bed]
        wakes = [h.wake.strftime("%H:%M") for h in routine.habits if h.wake]
        label_bed = median((s.hour * 60 + s.minute + (1440 if s.hour < 12 else 0)) % 1440 for s, _ in sleeps)
        label_up = median(e.hour * 60 + e.minute for _, e in sleeps)
        print(f"  learned to bed {min(beds)}-{max(beds)} (labels: median {_hhmm(label_bed)}),"
              f" up {min(wakes)}-{max(wakes)} (labels: median {_hhmm(label_up)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
