"""Simulated lives in the demo home, with labelled incidents, for the care-quality benchmark.

    .venv/bin/python -m bench.lives [--residents 6] [--weeks 2] [--seed 8] [--out var/lives]

writes one `huis replay` log per resident. Deterministic: the same seed gives the same lives.

Each resident has their own rhythm (wake and bed times, how restless, how often out) and lives
an ordinary week: up, bathroom, breakfast, the living room with trips to the kitchen and the
toilet, lunch with the 12:30 dose from the dispenser, dinner with the 17:30 dose, evening, bed.
Ordinary life that must NOT page anyone:

- evening outings, coming home between 22:00 and 01:00, and afternoon day trips (13:00-17:00);
- 0-4 night toilet visits of 1-15 min (a visit with the bed empty longer than 10 min is the
  labelled incident `night_up`: the care plan wants a caregiver to know);
- restless nights (short bed exits and movement in the bedroom), a bed sensor that flickers;
- sleeping in at the weekend (up to 10:45), naps on the sofa (an hour or more without motion);
- visitors (the front door, more movement), and a motion sensor that drops off the network.

Incidents injected each week (labelled, see bench/carelog.py `Incident`):

- night_exit x2: after at least 45 min asleep, the bed empties, the front door opens, out 15-60
  min (a page is due when the door opens);
- no_motion: an afternoon at home with no movement at all for 3.5-4 h (a fall, say), until a
  visitor comes in;
- not_up: a weekday in bed until 11:30-12:15 (due from the resident's usual wake time);
- missed_dose: the 17:30 dose never taken.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.carelog import NIGHT_UP_AFTER, Incident, Life, Recorder, Situation, write_log

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Europe/Amsterdam")
FIRST_DAY = date(2026, 1, 5)  # a Monday, in winter time
DOSES = ("12:30", "17:30")
SEC = timedelta(seconds=1)
MIN = timedelta(minutes=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Resident:
    """One person's rhythm."""

    name: str
    wake: timedelta  # weekdays, after midnight
    weekend_extra: tuple[int, int]  # minutes of sleeping in at the weekend
    bedtime: timedelta  # after midnight of the evening
    gap: float  # mean minutes between movements in the living room
    visits: tuple[int, int]  # night toilet visits, fewest and most
    restless: float  # chance of a restless night
    outings: float  # chance of an evening outing
    trips: float  # chance of an afternoon out
    visitors: float
    naps: float


def resident(n: int, rng: random.Random) -> Resident:
    """A resident with their own rhythm, drawn from `rng`."""
    return Resident(
        name=f"resident {n + 1}",
        wake=timedelta(hours=6, minutes=rng.randint(45, 100)),
        weekend_extra=(30, rng.randint(90, 180)),
        bedtime=timedelta(hours=22, minutes=rng.randint(0, 60)),
        gap=rng.uniform(4, 12),
        visits=(0, rng.randint(2, 4)),
        restless=rng.uniform(0.05, 0.25),
        outings=rng.uniform(0.1, 0.3),
        trips=rng.uniform(0.1, 0.25),
        visitors=rng.uniform(0.2, 0.5),
        naps=rng.uniform(0.2, 0.6),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DayPlan:
    """What one day holds besides the ordinary."""

    night_exit: bool = False
    no_motion: bool = False
    not_up: bool = False
    missed_dose: bool = False
    flaky: bool = False


class _Life:
    """Walks one resident through their days, recording sensors and truth."""

    def __init__(self, who: Resident, rng: random.Random) -> None:
        self.who = who
        self.rng = rng
        self.rec = Recorder()
        self.incidents: list[Incident] = []
        self.situations: list[Situation] = []
        self.t = datetime.combine(FIRST_DAY, time(0), TZ)
        self.in_bed_since = self.t

    # -- small steps --------------------------------------------------------------------------

    def minutes(self, lo: float, hi: float) -> timedelta:
        return timedelta(minutes=self.rng.uniform(lo, hi))

    def walk(self, device: str) -> None:
        """Passing through a room: a few seconds of movement."""
        self.rec.move(device, self.t, self.t + timedelta(seconds=self.rng.randint(5, 20)))
        self.t += timedelta(seconds=self.rng.randint(15, 40))

    def stay(self, device: str, until: datetime, gap: float) -> None:
        """In one room until `until`, moving every `gap` minutes on average (0: all the time)."""
        until = max(until, self.t + MIN)
        while self.t < until:
            self.rec.move(device, self.t, self.t + timedelta(seconds=self.rng.randint(5, 45)))
            step = 0.5 if gap <= 0 else max(0.5, self.rng.expovariate(1 / gap))
            self.t = min(until, self.t + timedelta(minutes=step))

    def lie(self, until: datetime) -> None:
        self.rec.lie(self.t, until)
        self.t = max(self.t, until)

    def door(self, *, coming_in: bool = False) -> datetime:
        """Through the front door: the hall, then the door going out; the other way round coming
        in (the hall sensor cannot see someone still outside). Returns when it opened."""
        if not coming_in:
            self.walk("hall_motion")
        opened = self.t
        self.rec.door("front_door", opened, opened + timedelta(seconds=self.rng.randint(4, 12)))
        self.t += timedelta(seconds=5)
        if coming_in:
            self.walk("hall_motion")
        return opened

    def go_out(self, back: datetime) -> None:
        left = self.door()
        self.t = back
        self.situations.append(Situation(what="out", start=left, end=self.door(coming_in=True)))

    def at(self, clock: str, day: date) -> datetime:
        hh, mm = clock.split(":")
        return datetime.combine(day, time(int(hh), int(mm)), TZ)

    # -- the day ------------------------------------------------------------------------------

    def day(self, day: date, plan: DayPlan) -> None:
        """From getting up (self.t, in bed) to going to bed; then the night."""
        weekend = day.weekday() >= 5
        usual = datetime.combine(day, time(0), TZ) + self.who.wake
        wake = usual + (self.minutes(*self.who.weekend_extra) if weekend else self.minutes(-15, 20))
        wake = min(wake, self.at("10:45", day))
        if plan.not_up:
            wake = self.at("11:30", day) + self.minutes(0, 45)
            self.incidents.append(Incident(kind="not_up", start=usual, end=wake,
                                           note=f"in bed until {wake:%H:%M}"))
        self.lie(wake)
        self.situations.append(Situation(what="asleep", start=self.in_bed_since, end=wake))
        self.walk("bedroom_motion")
        self.stay("bathroom_motion", self.t + self.minutes(5, 15), 0)
        self.stay("kitchen_motion", self.t + self.minutes(15, 30), 1)
        if plan.flaky:
            lost = self.at("09:00", day) + self.minutes(0, 120)
            device = self.rng.choice(["kitchen_motion", "bathroom_motion", "hall_motion"])
            self.rec.drop_out(device, lost, lost + self.minutes(120, 360))
        self.home(self.at("12:15", day))
        self.stay("kitchen_motion", max(self.at("12:15", day), self.t) + self.minutes(20, 35), 1.5)
        self.dose(day, DOSES[0], taken=True)
        self.afternoon(day, plan)
        self.stay("kitchen_motion", max(self.at("17:15", day), self.t) + self.minutes(25, 40), 1.5)
        self.dose(day, DOSES[1], taken=not plan.missed_dose)
        self.evening(day)
        self.night(day, plan)

    def home(self, until: datetime) -> None:
        """The living room, with trips to the kitchen and the toilet."""
        while self.t < until - 10 * MIN:
            self.stay("living_motion", min(until, self.t + self.minutes(40, 100)), self.who.gap)
            if self.t >= until - 10 * MIN:
                break
            room = self.rng.choice(["kitchen_motion", "bathroom_motion"])
            self.stay(room, self.t + self.minutes(2, 8), 0.5)
        self.stay("living_motion", until, self.who.gap)

    def dose(self, day: date, clock: str, *, taken: bool) -> None:
        due = self.at(clock, day)
        self.rec.event(due, "dispenser", "dose_due", dose=clock)
        late = due + timedelta(hours=1)  # the care plan: a dose not taken within the hour is missed
        if taken:
            when = max(due, self.t - 10 * MIN) + self.minutes(1, 8)
            self.rec.event(when, "dispenser", "dose_taken", dose=clock)
            if when > late:
                self.incidents.append(Incident(kind="missed_dose", start=due, end=when,
                                               note=f"dose {clock} taken late, at {when:%H:%M}"))
        else:
            self.incidents.append(Incident(kind="missed_dose", start=due, end=due + timedelta(hours=3),
                                           note=f"dose {clock} not taken"))

    def afternoon(self, day: date, plan: DayPlan) -> None:
        rng, who = self.rng, self.who
        if plan.no_motion:
            self.stay("living_motion", self.at("13:00", day) + self.minutes(0, 30), who.gap)
            fell = self.t
            self.t += self.minutes(210, 240)
            self.incidents.append(Incident(kind="no_motion", start=fell, end=self.t,
                                           note=f"no movement {fell:%H:%M}-{self.t:%H:%M}"))
            self.visitor(self.t + self.minutes(30, 60))  # found by a visitor
        elif day.weekday() < 5 and rng.random() < who.trips:
            self.home(self.at("13:00", day))
            self.go_out(self.at("16:40", day) + self.minutes(0, 30))
        else:
            if rng.random() < who.naps:
                self.home(self.at("13:45", day))
                dozed = self.t
                self.t += self.minutes(60, 110)  # asleep on the sofa
                self.situations.append(Situation(what="nap", start=dozed, end=self.t))
            if rng.random() < who.visitors and self.t < self.at("15:00", day):
                self.home(self.at("15:00", day) + self.minutes(0, 30))
                self.visitor(self.t + self.minutes(45, 90))
        self.home(self.at("17:15", day))

    def visitor(self, until: datetime) -> None:
        arrived = self.t
        self.rec.door("front_door", arrived, arrived + 8 * SEC)
        self.rec.move("hall_motion", arrived, arrived + 30 * SEC)
        self.t += MIN
        self.stay("living_motion", until, 2)
        self.rec.move("hall_motion", self.t, self.t + 30 * SEC)
        self.rec.door("front_door", self.t + 20 * SEC, self.t + 28 * SEC)
        self.situations.append(Situation(what="visitor", start=arrived, end=self.t))
        self.t += MIN

    def evening(self, day: date) -> None:
        bedtime = datetime.combine(day, time(0), TZ) + self.who.bedtime + self.minutes(-20, 30)
        if self.rng.random() < self.who.outings:
            self.home(self.at("18:45", day) + self.minutes(0, 75))
            back = self.at("22:00", day) + self.minutes(0, 180)
            self.go_out(back)
            self.home(self.t + self.minutes(10, 30))
        else:
            self.home(bedtime)
        self.stay("bathroom_motion", self.t + self.minutes(4, 10), 0)
        self.walk("bedroom_motion")

    # -- the night ----------------------------------------------------------------------------

    def night(self, day: date, plan: DayPlan) -> None:
        rng, who = self.rng, self.who
        tomorrow = day + timedelta(days=1)
        latest = datetime.combine(tomorrow, time(6, 30), TZ)
        fell_asleep = self.in_bed_since = self.t
        moments = sorted(fell_asleep + self.minutes(30, max(31.0, (latest - fell_asleep) / MIN))
                         for _ in range(rng.randint(*who.visits)))
        exit_at = None
        if plan.night_exit:
            exit_at = max(fell_asleep + 45 * MIN, datetime.combine(tomorrow, time(0, 30), TZ)) + self.minutes(0, 240)
            moments = [m for m in moments if abs(m - exit_at) > timedelta(minutes=90)]
        restless = rng.random() < who.restless
        flicker = rng.random() < 0.2
        for when in sorted([*moments, *([exit_at] if exit_at else [])]):
            if when <= self.t:
                continue
            self.asleep(when, restless=restless, flicker=flicker)
            if when == exit_at:
                self.night_exit()
            else:
                self.toilet()
        wake_day = tomorrow
        self.asleep(datetime.combine(wake_day, time(5, 30), TZ), restless=restless, flicker=flicker)

    def asleep(self, until: datetime, *, restless: bool, flicker: bool) -> None:
        """In bed until `until`: a restless sleeper sits up now and then, a flaky mat flickers."""
        while self.t < until - 20 * MIN:
            if restless and self.rng.random() < 0.3:
                nxt = self.t + self.minutes(10, 40)
                self.lie(nxt)
                self.rec.move("bedroom_motion", self.t, self.t + 20 * SEC)
                self.t += timedelta(seconds=self.rng.randint(10, 60))  # on the edge of the bed
            elif flicker and self.rng.random() < 0.1:
                self.lie(self.t + self.minutes(10, 40))
                self.t += timedelta(seconds=self.rng.randint(2, 10))
            else:
                self.lie(min(until, self.t + self.minutes(20, 60)))
        self.lie(until)

    def toilet(self) -> None:
        left = self.t
        self.walk("bedroom_motion")
        visit = min(15.0, max(1.0, self.rng.lognormvariate(1.3, 0.6)))
        self.stay("bathroom_motion", self.t + timedelta(minutes=visit), 1)
        self.walk("bedroom_motion")
        if self.t - left > NIGHT_UP_AFTER:
            self.incidents.append(Incident(kind="night_up", start=left, end=self.t,
                                           note=f"toilet visit, bed empty {(self.t - left) / MIN:.0f} min"))

    def night_exit(self) -> None:
        left = self.t
        self.walk("bedroom_motion")
        opened = self.door()
        back = opened + self.minutes(15, 60)
        self.situations.append(Situation(what="out", start=opened, end=back))
        self.t = back
        self.door(coming_in=True)
        self.walk("bedroom_motion")
        self.incidents.append(Incident(kind="night_exit", since=left, start=opened, end=self.t,
                                       note=f"out {(back - opened) / MIN:.0f} min"))


def plans(rng: random.Random, weeks: int) -> list[DayPlan]:
    """Each week: two night exits, one afternoon without motion, one morning not up, one
    missed dose, one flaky sensor, on different days (not_up on a weekday)."""
    out: list[DayPlan] = []
    for _ in range(weeks):
        days = list(range(7))
        rng.shuffle(days)
        weekday = next(d for d in days if d < 5)
        rest = [d for d in days if d != weekday]
        chosen = {"not_up": weekday, "no_motion": rest[0], "missed_dose": rest[1],
                  "exit1": rest[2], "exit2": rest[3], "flaky": rest[4]}
        for d in range(7):
            out.append(DayPlan(night_exit=d in (chosen["exit1"], chosen["exit2"]),
                               no_motion=d == chosen["no_motion"], not_up=d == chosen["not_up"],
                               missed_dose=d == chosen["missed_dose"], flaky=d == chosen["flaky"]))
    return out


def generate(n: int, weeks: int = 2, seed: int = 8) -> Life:
    """Resident `n`'s simulated life over `weeks` weeks from Monday 5 January 2026."""
    rng = random.Random(f"{seed}-{n}")
    who = resident(n, rng)
    sim = _Life(who, rng)
    start = datetime.combine(FIRST_DAY, time(5, 0), TZ)
    sim.t = start
    for offset, plan in enumerate(plans(rng, weeks)):
        sim.day(FIRST_DAY + timedelta(days=offset), plan)
    # The last morning: up at the usual time, so the log does not end with an empty bed at night.
    sim.lie(datetime.combine(sim.t.date(), time(0), TZ) + who.wake)
    sim.walk("bedroom_motion")
    sim.stay("bathroom_motion", sim.t + 10 * MIN, 0)
    rows = sim.rec.rows(start)
    end = max(sim.t, rows[-1][0])
    return Life(name=f"simulated {who.name}", rows=rows, start=start, end=end,
                incidents=sorted(sim.incidents, key=lambda i: i.start), situations=sim.situations)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=6)
    parser.add_argument("--weeks", type=int, default=2)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "lives")
    args = parser.parse_args(argv)
    for n in range(args.residents):
        life = generate(n, args.weeks, args.seed)
        path = write_log(life, args.out / f"resident-{n + 1}.csv",
                         f"{life.name}: simulated by bench/lives.py (seed {args.seed}), {life.days:.0f} days")
        print(f"{path}: {len(life.rows)} rows, {life.days:.1f} days, {len(life.incidents)} incident(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
