"""The UCI ADL binary dataset (Ordóñez homes A and B) as `huis replay` logs for the demo home.

    .venv/bin/python -m bench.ordonez [--data ../shared/data/ordonez] [--out var/ordonez]

writes `ordonez-a.csv` and `ordonez-b.csv` (with labelled night exits injected; `--no-inject`
for the days as recorded), ready for `huis replay config/home.yaml LOG`. The data is read where
it lies and never copied into the project (its README restricts commercial use).

Sensors onto the demo home (config/home.yaml):

| Ordóñez sensor (Location, Place) | demo device |
|---|---|
| Bed, Bedroom (pressure mat) | bed_sensor `occupancy` |
| Maindoor, Entrance (reed switch) | front_door `contact` / `open`; hall_motion around it |
| Shower, Basin (PIR), Toilet (flush), Cabinet, Bathroom | bathroom_motion |
| Cooktop (PIR), Fridge, Cupboard, Microwave, Toaster, Kitchen; B: Door PIR Kitchen | kitchen_motion |
| Seat, Living (pressure mat); B: Door PIR Living | living_motion |
| B: Door PIR Bedroom; both: getting into or out of bed | bedroom_motion |

A sensor that is active for an interval is a person there: a PIR room of the demo home reports
`occupancy` from the interval's start until 90 s after its end (`bench/carelog.py`). The demo
home's hall has a motion sensor neither Ordóñez home has: someone at the front door passes it.
No wander tag, no back door, no dispenser: those rows are absent, as in a home without them.

Truth from the hand-written activity labels: `Leaving` is out, `Sleeping` is asleep. Incidents:
- night_up: at night (22:00-07:00) between two `Sleeping` labels, out of bed longer than 10 min;
- night_exit: a `Leaving` that starts at night soon after a `Sleeping` ends; and the injected
  ones: on every other night, an hour or so after the resident went to bed, the bed empties,
  he walks through the bedroom and the hall, opens the front door and stays out 20-60 min.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.carelog import NIGHT_UP_AFTER, Incident, Life, Recorder, Situation, at_night, write_log

ROOT = Path(__file__).resolve().parent.parent


def default_data() -> Path:
    """`$HUIS_ORDONEZ`, else `../shared/data/ordonez` from the project root (or from a parent:
    a git worktree lives one level deeper)."""
    if os.environ.get("HUIS_ORDONEZ"):
        return Path(os.environ["HUIS_ORDONEZ"])
    for parent in ROOT.parents:
        candidate = parent / "shared" / "data" / "ordonez"
        if candidate.is_dir():
            return candidate
    return ROOT.parent / "shared" / "data" / "ordonez"


DEFAULT_DATA = default_data()
TZ = ZoneInfo("Europe/Amsterdam")  # the demo home's zone; Madrid keeps the same clock
HOMES = {"A": "OrdonezA", "B": "OrdonezB"}
DOWNLOAD = ("the UCI 'Activities of Daily Living (ADLs) Recognition Using Binary Sensors' dataset "
            "(OrdonezA_Sensors.txt, OrdonezA_ADLs.txt, OrdonezB_Sensors.txt, OrdonezB_ADLs.txt; "
            "https://archive.ics.uci.edu/dataset/271) into {folder}")

MOTION = {
    ("Shower", "Bathroom"): "bathroom_motion", ("Basin", "Bathroom"): "bathroom_motion",
    ("Toilet", "Bathroom"): "bathroom_motion", ("Cabinet", "Bathroom"): "bathroom_motion",
    ("Cooktop", "Kitchen"): "kitchen_motion", ("Fridge", "Kitchen"): "kitchen_motion",
    ("Cupboard", "Kitchen"): "kitchen_motion", ("Microwave", "Kitchen"): "kitchen_motion",
    ("Toaster", "Kitchen"): "kitchen_motion", ("Door", "Kitchen"): "kitchen_motion",
    ("Seat", "Living"): "living_motion", ("Door", "Living"): "living_motion",
    ("Door", "Bedroom"): "bedroom_motion",
}
PASSING = timedelta(seconds=30)  # in the hall on the way to and from the front door


@dataclass(frozen=True, slots=True, kw_only=True)
class Interval:
    start: datetime
    end: datetime
    what: str  # activity, or "Location Place" for a sensor


def parse(path: Path, tokens: int) -> list[Interval]:
    """Rows of an Ordóñez file: split on whitespace (the README's rule), local times."""
    out: list[Interval] = []
    for line in path.read_text(encoding="ascii").splitlines()[2:]:
        parts = line.split()
        if len(parts) != tokens:
            continue
        start = datetime.fromisoformat(f"{parts[0]} {parts[1]}").replace(tzinfo=TZ)
        end = datetime.fromisoformat(f"{parts[2]} {parts[3]}").replace(tzinfo=TZ)
        if end < start:  # three rows of A: a mistyped date or hour; keep the start
            end = start
        what = parts[4] if tokens == 5 else f"{parts[4]} {parts[6]}"
        out.append(Interval(start=start, end=end, what=what))
    out.sort(key=lambda i: i.start)  # B's sensor file goes back in time at four lines
    return out


def load(home: str, folder: Path = DEFAULT_DATA, *, inject: bool = True, seed: int = 8) -> Life:
    """Home "A" or "B" as a Life; FileNotFoundError says what to download when it is missing."""
    stem = HOMES[home]
    sensors_file, adls_file = folder / f"{stem}_Sensors.txt", folder / f"{stem}_ADLs.txt"
    if not sensors_file.exists() or not adls_file.exists():
        raise FileNotFoundError(DOWNLOAD.format(folder=folder))
    sensors, adls = parse(sensors_file, 7), parse(adls_file, 5)
    start = sensors[0].start  # each sensor's state is known from its first report
    end = max(max(i.end for i in sensors), max(i.end for i in adls))
    sleeping = [i for i in adls if i.what == "Sleeping"]
    leaving = [i for i in adls if i.what == "Leaving"]
    life = Life(name=f"Ordóñez {home}", rows=[], start=start, end=end,
                situations=[Situation(what="out", start=i.start, end=i.end) for i in leaving]
                + [Situation(what="asleep", start=i.start, end=i.end) for i in sleeping],
                incidents=labelled_incidents(sleeping, leaving))
    rec = Recorder()
    for i in sensors:
        _record(rec, i, leaving)
    if inject:
        _inject_night_exits(rec, life, sleeping, random.Random(f"{seed}-{home}"))
    life.rows = rec.rows(start)
    life.end = max(life.end, life.rows[-1][0])
    life.incidents.sort(key=lambda i: i.start)
    return life


def _record(rec: Recorder, i: Interval, leaving: list[Interval]) -> None:
    location, place = i.what.split()
    if location == "Bed":
        rec.lie(i.start, i.end)
        rec.move("bedroom_motion", i.start - timedelta(seconds=40), i.start)
        rec.move("bedroom_motion", i.end, i.end + timedelta(seconds=40))
    elif location == "Maindoor":
        # The hall sensor sees someone on the way out before the door opens, and someone coming
        # home after it has: the labels tell which (a door no label explains: both).
        near = timedelta(minutes=10)
        going = any(abs(o.start - i.start) <= near for o in leaving)
        coming = any(abs(o.end - i.start) <= near for o in leaving)
        rec.door("front_door", i.start, i.end)
        rec.move("hall_motion", i.start if coming and not going else i.start - PASSING,
                 i.end if going and not coming else i.end + PASSING)
    else:
        rec.move(MOTION[(location, place)], i.start, i.end)


def labelled_incidents(sleeping: list[Interval], leaving: list[Interval]) -> list[Incident]:
    """Night exits and long night-time bed exits as the activity labels tell them."""
    found: list[Incident] = []
    for a, b in zip(sleeping, sleeping[1:], strict=False):
        gap = b.start - a.end
        outs = [o for o in leaving if a.end <= o.start < b.start]
        if not at_night(a.end) or gap > timedelta(hours=8):
            continue
        if outs:
            found.append(Incident(kind="night_exit", since=a.end, start=outs[0].start, end=b.start,
                                  note="labelled: Leaving after Sleeping at night"))
        elif gap > NIGHT_UP_AFTER:
            found.append(Incident(kind="night_up", start=a.end, end=b.start,
                                  note=f"labelled: awake {gap_minutes(gap)} min between two Sleeping"))
    return found


def gap_minutes(gap: timedelta) -> int:
    return round(gap / timedelta(minutes=1))


def _inject_night_exits(rec: Recorder, life: Life, sleeping: Iterable[Interval], rng: random.Random) -> None:
    """On every other night, a night exit an hour or so into the resident's sleep."""
    nights = [s for s in sleeping if at_night(s.start) and s.end - s.start >= timedelta(hours=4)]
    for s in nights[::2]:
        leave = s.start + timedelta(minutes=rng.randint(50, 110))
        away = timedelta(minutes=rng.randint(20, 60))
        door = leave + timedelta(seconds=rng.randint(60, 100))
        back = door + away
        in_bed = back + timedelta(minutes=3)
        if not (at_night(leave) and at_night(in_bed) and in_bed + timedelta(minutes=30) < s.end):
            continue
        if not _split_bed(rec, leave, in_bed):
            continue
        rec.move("bedroom_motion", leave, leave + timedelta(seconds=30))
        rec.move("hall_motion", door - timedelta(seconds=20), door + timedelta(seconds=10))
        rec.door("front_door", door, door + timedelta(seconds=6))
        rec.door("front_door", back, back + timedelta(seconds=6))
        rec.move("hall_motion", back, back + timedelta(seconds=40))
        rec.move("bedroom_motion", in_bed - timedelta(seconds=60), in_bed)
        life.incidents.append(Incident(kind="night_exit", since=leave, start=door, end=in_bed,
                                       note=f"injected: out {gap_minutes(away)} min"))
        life.situations.insert(0, Situation(what="out", start=door, end=back))


def _split_bed(rec: Recorder, leave: datetime, back: datetime) -> bool:
    """Cut [leave, back) out of the bed interval that holds it; False when none does."""
    for n, (a, b) in enumerate(rec.bed):
        if a < leave and back < b:
            rec.bed[n:n + 1] = [(a, leave), (back, b)]
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "ordonez")
    parser.add_argument("--no-inject", action="store_true", help="the days as recorded")
    args = parser.parse_args(argv)
    for home in HOMES:
        try:
            life = load(home, args.data, inject=not args.no_inject)
        except FileNotFoundError as exc:
            print(f"bench.ordonez: download {exc}", file=sys.stderr)
            return 2
        path = write_log(life, args.out / f"ordonez-{home.lower()}.csv",
                         f"{life.name}: UCI ADL binary dataset (Ordonez et al. 2013, CC BY 4.0),\n"
                         f"converted by bench/ordonez.py for the demo home; "
                         f"{sum(i.kind == 'night_exit' for i in life.incidents)} night exit(s).")
        print(f"{path}: {len(life.rows)} rows, {life.days:.1f} days, {len(life.incidents)} incident(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
