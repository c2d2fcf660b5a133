"""Care-quality benchmark: does a page mean someone must act, and does every incident page?

    .venv/bin/python -m bench.care_quality [--data ../shared/data/ordonez] [--residents 6] [--weeks 2]

Replays real and simulated days through the shipped scenarios, the way `huis replay` does
(`controller.replay.read_log` + `replay_rows` on the composition root's `Parts`, virtual time),
matches the pages to labelled incidents and writes the table into docs/care-quality.md.

Data: the Ordóñez homes A and B (bench/ordonez.py; real sensor days with injected night exits)
and simulated residents (bench/lives.py). The Ordóñez folder is optional: without it the real
rows say what to download.

What counts as a page: a *raise* of a caregiver alert (audience caregivers) with a severity
that config/alerts.yaml pushes to a caregiver's phone straight away, day and night: `urgent`
(piet, then anna and buur, then the care team) and `warning` (piet and anna, then the team).
`info` waits for the end of quiet hours and is counted apart as a notice; technician notices
(device health, the dispenser's roll) are not pages. Only raises are counted: the replay's
recording sink keeps no re-notifications (add their action to PAGE_ACTIONS when it does).

A page is true when it is about a labelled incident (its key's family, see MATCH) and falls in
the incident's window, from `Incident.begins` to its end plus the family's grace; every other
page is false. An incident is found when a page of its family (for a night exit: an urgent
one) falls in that window; time to alert counts from `Incident.start`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import statistics
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import lives, ordonez
from bench.carelog import INCIDENT_KINDS, Incident, Life, at_night, days_of, write_log
from bench.common import machine, write_section
from controller.replay import read_log, replay_rows
from controller.testing import AlertRecord
from huis.compose import Parts, load_home

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "care-quality.md"
WORK = ROOT / "var" / "care-quality"
PAGE_SEVERITIES = ("urgent", "warning")
PAGE_ACTIONS = ("raised",)
NIGHT_EXIT_WITHIN = timedelta(seconds=60)

# Targets (issue 8): false pages per day, night exits urgent within 60 s, recall elsewhere.
TARGET_FALSE_PER_DAY = 0.1
TARGET_RECALL = 0.95


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """Which pages answer an incident kind: key families, a needed severity, a grace after it."""

    families: tuple[str, ...]
    severity: tuple[str, ...] = PAGE_SEVERITIES
    grace: timedelta = timedelta(minutes=15)


MATCH = {
    "night_exit": Rule(families=("night_exit.", "wander.", "presence."), severity=("urgent",),
                       grace=timedelta(minutes=10)),
    "night_up": Rule(families=("night_exit.",), grace=timedelta(minutes=5)),
    "no_motion": Rule(families=("inactivity.", "routine.")),
    "not_up": Rule(families=("inactivity.", "routine.")),
    "missed_dose": Rule(families=("medication.",), grace=timedelta(minutes=30)),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Page:
    """A caregiver's phone buzzed."""

    time: datetime
    key: str
    severity: str


def pages_of(records: Iterable[AlertRecord]) -> list[Page]:
    """The pages among a replay's alert records (see the module docstring)."""
    return [Page(time=r.time, key=r.key, severity=r.severity) for r in records
            if r.action in PAGE_ACTIONS and r.audience == "caregivers" and r.severity in PAGE_SEVERITIES]


def answers(page: Page, incident: Incident, *, strict: bool = False) -> bool:
    """Whether `page` is about `incident` (strict: and of the severity the incident needs)."""
    rule = MATCH[incident.kind]
    if not page.key.startswith(rule.families):
        return False
    if strict and page.severity not in rule.severity:
        return False
    return incident.begins <= page.time <= incident.end + rule.grace


@dataclass(slots=True, kw_only=True)
class Found:
    """How one incident kind fared."""

    total: int = 0
    found: int = 0
    delays: list[timedelta] = field(default_factory=list)
    urgent_in_time: int = 0  # night exits only: urgent within 60 s of the door

    @property
    def recall(self) -> float | None:
        return self.found / self.total if self.total else None


@dataclass(slots=True, kw_only=True)
class Score:
    """One dataset's figures."""

    name: str
    days: float
    pages: list[Page] = field(default_factory=list)
    false: list[tuple[Page, str]] = field(default_factory=list)  # with the labelled situation
    notices: int = 0
    kinds: dict[str, Found] = field(default_factory=lambda: {k: Found() for k in INCIDENT_KINDS})
    missed: list[Incident] = field(default_factory=list)
    # Once the resident's routine was learned (the replay's hub had `routine.learn_days` days of
    # its own history): how many days, and the false pages in them.
    learned_days: float = 0.0
    false_learned: int = 0

    @property
    def night_pages(self) -> int:
        return sum(at_night(p.time) for p in self.pages)

    @property
    def false_night(self) -> int:
        return sum(at_night(p.time) for p, _ in self.false)

    def add(self, other: Score) -> None:
        self.days += other.days
        self.pages += other.pages
        self.false += other.false
        self.notices += other.notices
        self.missed += other.missed
        self.learned_days += other.learned_days
        self.false_learned += other.false_learned
        for kind, f in other.kinds.items():
            mine = self.kinds[kind]
            mine.total += f.total
            mine.found += f.found
            mine.delays += f.delays
            mine.urgent_in_time += f.urgent_in_time


def score(life: Life, records: Sequence[AlertRecord], learned: datetime | None = None) -> Score:
    """Match a replay's pages to `life`'s incidents (pages after `life.end` are not its own);
    `learned`: when the replay's routine was first learned (None: never)."""
    records = [r for r in records if r.time < life.end]
    pages = pages_of(records)
    result = Score(name=life.name, days=life.days, pages=pages,
                   notices=sum(r.action == "raised" and r.audience == "caregivers" and r.severity == "info"
                               for r in records))
    if learned is not None and learned < life.end:
        result.learned_days = (life.end - max(learned, life.start)) / timedelta(days=1)
    for page in pages:
        if not any(answers(page, i) for i in life.incidents):
            result.false.append((page, situation(life, page.time)))
            result.false_learned += learned is not None and page.time >= learned
    for incident in life.incidents:
        f = result.kinds[incident.kind]
        f.total += 1
        hits = [p for p in pages if answers(p, incident, strict=True)]
        if hits:
            f.found += 1
            f.delays.append(min(p.time for p in hits) - incident.start)
        else:
            result.missed.append(incident)
        if incident.kind == "night_exit" and any(
                incident.start <= p.time <= incident.start + NIGHT_EXIT_WITHIN for p in hits):
            f.urgent_in_time += 1
    return result


def situation(life: Life, when: datetime) -> str:
    """Where the resident was by the labels: out, asleep, nap, visitor, or at home."""
    return life.situation_at(when) or "at home"


# -- running ------------------------------------------------------------------------------------


def slug(name: str) -> str:
    """A file name for a dataset's name."""
    plain = name.lower().replace("ó", "o").replace("ñ", "n")
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


async def replay_life(parts: Parts, life: Life, folder: Path) -> tuple[list[AlertRecord], datetime | None]:
    """Write `life` as an event log and replay it as `huis replay` would; its alert records and
    when its routine was first learned from the days already replayed (None: never)."""
    path = write_log(life, folder / f"{slug(life.name)}.csv")
    out = io.StringIO()
    rows = read_log(path, parts.config)
    # Run to the end of the labelled stretch, however long the last quiet spell is (a morning
    # in bed has no events until 10:00's not-up check), and no further.
    tail = max(timedelta(0), life.end - rows[-1].time) if rows else timedelta(0)
    report = await replay_rows(parts, rows, out, tail=tail)
    (folder / f"{slug(life.name)}.txt").write_text(out.getvalue(), encoding="utf-8")
    learned = next((r.computed_at for r in report.routines if r.learned), None)
    return list(report.alerts), learned


def datasets(data: Path, residents: int, weeks: int, seed: int) -> tuple[list[Life | str], list[Life]]:
    """The real homes (a Life, or why it is missing) and the simulated residents."""
    real: list[Life | str] = []
    for home in ordonez.HOMES:
        try:
            real.append(ordonez.load(home, data, seed=seed))
        except FileNotFoundError as exc:
            real.append(f"Ordóñez {home}: not measured; download {exc}")
    simulated = [lives.generate(n, weeks, seed) for n in range(residents)]
    return real, simulated


async def measure(parts: Parts, real: list[Life | str], simulated: list[Life], folder: Path, *,
                  per_day: bool = False) -> list[Score | str]:
    """One score per real home and one for all simulated residents; `per_day`: a replay per
    day (noon to noon) instead of one continuous replay per home."""
    scores: list[Score | str] = []
    for life in real:
        scores.append(life if isinstance(life, str) else await _scored(parts, [life], life.name, folder, per_day))
    if simulated:
        name = f"simulated, {len(simulated)} residents, {round(sum(s.days for s in simulated) / 7)} resident-weeks"
        scores.append(await _scored(parts, simulated, name, folder, per_day))
    return scores


async def _scored(parts: Parts, group: list[Life], name: str, folder: Path, per_day: bool) -> Score:
    total = Score(name=name, days=0)
    where = folder / ("days" if per_day else "")
    for life in group:
        for piece in days_of(life) if per_day else [life]:
            total.add(score(piece, *await replay_life(parts, piece, where)))
    (where / f"{slug(name)}-score.txt").write_text(details(total), encoding="utf-8")
    return total


def details(s: Score) -> str:
    """Every false page and every missed incident, one a line, to look into."""
    lines = [f"{p.time:%Y-%m-%d %H:%M:%S}  FALSE   {p.severity} {p.key} ({where})" for p, where in s.false]
    lines += [f"{i.start:%Y-%m-%d %H:%M:%S}  MISSED  {i.kind} ({i.note})" for i in s.missed]
    return "\n".join(sorted(lines)) + "\n"


# -- the report ---------------------------------------------------------------------------------


def minutes(d: timedelta) -> str:
    s = d.total_seconds()
    return f"{s:.0f} s" if abs(s) < 120 else f"{s / 60:.0f} min"


def found_cell(f: Found) -> str:
    if not f.total:
        return "-"
    cell = f"{f.found}/{f.total}"
    if f.delays:
        median = timedelta(seconds=statistics.median(d.total_seconds() for d in f.delays))
        cell += f"; {minutes(median)} / {minutes(max(f.delays))}"
    return cell


def tables(scores: Sequence[Score | str]) -> str:
    measured = [s for s in scores if isinstance(s, Score)]
    lines = ["| dataset | days | pages | pages/day | false pages | false/day | night pages (false) "
             "| info notices | routine learned: days, false/day |", "|---|---|---|---|---|---|---|---|---|"]
    for s in measured:
        learned = (f"{s.learned_days:.1f}, {s.false_learned / s.learned_days:.2f}" if s.learned_days
                   else "never")
        lines.append(f"| {s.name} | {s.days:.1f} | {len(s.pages)} | {len(s.pages) / s.days:.2f} | "
                     f"{len(s.false)} | {len(s.false) / s.days:.2f} | {s.night_pages} ({s.false_night}) "
                     f"| {s.notices} | {learned} |")
    lines += ["", "Incidents found (a page of their kind in their window), with time to alert "
              "median / max:", "",
              "| dataset | " + " | ".join(INCIDENT_KINDS) + " | night exits urgent <= 60 s |",
              "|---|" + "---|" * (len(INCIDENT_KINDS) + 1)]
    for s in measured:
        exits = s.kinds["night_exit"]
        lines.append(f"| {s.name} | " + " | ".join(found_cell(s.kinds[k]) for k in INCIDENT_KINDS)
                     + f" | {exits.urgent_in_time}/{exits.total} |")
    lines += ["", "False pages by alert key and where the resident was (by the labels):", "",
              "| dataset | false pages |", "|---|---|"]
    for s in measured:
        counts = Counter(f"{p.key} ({where})" for p, where in s.false)
        lines.append(f"| {s.name} | " + (", ".join(f"{n}x {k}" for k, n in counts.most_common()) or "none")
                     + " |")
    lines += [f"\n{s}" for s in scores if isinstance(s, str)]
    return "\n".join(lines)


def verdict(scores: Sequence[Score | str]) -> str:
    """The targets, met or not, per dataset."""
    out = []
    for s in scores:
        if not isinstance(s, Score):
            continue
        exits = s.kinds["night_exit"]
        others = [f for k, f in s.kinds.items() if k != "night_exit" and f.total]
        checks = [
            ("false pages <= 0.1/day", len(s.false) / s.days <= TARGET_FALSE_PER_DAY),
            (f"every night exit urgent within 60 s ({exits.urgent_in_time}/{exits.total})",
             exits.urgent_in_time == exits.total),
        ]
        if others:
            checks.append(("recall >= 95% on the other incidents",
                           min(f.recall or 0.0 for f in others) >= TARGET_RECALL))
        out.append(f"- {s.name}: " + "; ".join(f"{name} {'met' if ok else 'NOT met'}" for name, ok in checks))
    return "\n".join(out)


HEADER = """# Care quality

Does a page mean someone must act, and does every incident page someone? Measured with
`bench/care_quality.py` (`make bench` rewrites the sections below): the shipped scenarios replay
real and simulated days in virtual time, as `huis replay` does, and their pages are matched to
labelled incidents.
"""


def body(scores: Sequence[Score | str], daily: Sequence[Score | str], stamp: str) -> str:
    return f"""Run {stamp}; {machine()}. Scenarios: the shipped `scenarios/` as configured in
config/home.yaml; every dataset is one continuous replay per home or resident, as a hub lives:
the replay records its history and learns the resident's routine from the days it has already
replayed, at the routine's nightly time (03:30), used once `routine.learn_days` (7) days are known.
The last column counts from that moment: the days on the learned routine and their false pages.

{tables(scores)}

Targets (issue 8): false pages <= 0.1 per day; every injected night exit paged urgently within 60 s
of the door; recall >= 95% on the other incident types.

{verdict(scores)}

### One replay per day

The same days, each replayed on its own from noon to noon (every sensor starting from its last
reported state), so an alert left active one night cannot hide the next night's: what the
scenarios page for when nothing is already open. Each of these replays starts with no history,
so whatever the hub learns from earlier days (a routine) is only in the continuous replay.

{tables(daily)}

{verdict(daily)}

### How it is measured

- **A page** is the raise of a caregiver alert of severity `urgent` or `warning`: config/alerts.yaml
  pushes both to caregivers' phones at once, day and night. `info` alerts wait for the end of quiet
  hours and are counted apart ("info notices"); technician notices (device health, dispenser
  roll) are not pages. Only raises count: the replay records no re-notifications of a repeat.
- **A true page** is about a labelled incident: its key belongs to the incident's family
  (`night_exit.*`, `wander.*` or `presence.*` for a night exit; `night_exit.*` for being up at night;
  `inactivity.*` or `routine.*` for no motion and not up; `medication.*` for a missed dose) and it comes
  between the incident's beginning and its end plus a grace (10 min for a night exit, 5 min for
  being up at night, 30 min for a dose, else 15 min). Every other page is false.
- **Found** means a page of the incident's family in that window; for a night exit it must be
  urgent. Time to alert counts from the moment the page is due: the door opening (night exit),
  the bed emptying (up at night), the last movement (no motion), the resident's usual wake time
  (not up), the dose's time (missed dose).
- **Night** is 22:00-07:00, the care plan's night, fixed in bench/carelog.py.

Incident kinds (bench/carelog.py): `night_exit` (out of bed at night, then out of the front door);
`night_up` (out of bed at night longer than 10 min: the care plan wants a caregiver told);
`no_motion` (at home, no movement for hours); `not_up` (still in bed hours after the usual wake
time, on a weekday); `missed_dose` (a dose not taken within the hour).

**Real days: the Ordóñez homes A and B** (UCI "Activities of Daily Living (ADLs) Recognition Using
Binary Sensors", Ordóñez, de Toledo, Sanchis, Sensors 2013; CC BY 4.0; read where it lies, never
copied into the repository). bench/ordonez.py maps their sensors onto the demo home (bed mat ->
`bed_sensor`, main door -> `front_door` with `contact` and the derived `open`, PIRs, flush,
cabinet, fridge, seat mat -> the room's motion sensor, held 90 s after the last activity like
the Aqara sensors; the hall sensor sees whoever uses the front door). Truth is the hand-written
activity labels: `Leaving` is out, `Sleeping` asleep; a gap of more than 10 min between two
`Sleeping` at night is `night_up`, a `Leaving` then is a night exit. On every other night a
night exit is injected into the real recording: an hour or so after he went to bed the bed
empties, he walks through bedroom and hall, opens the front door and is out 20-60 min.
Neither home has a wander tag, back door or dispenser, so `wander` and `medication` are not
exercised on real days. Both homes go to bed late (A around 02:00, B around 01:00) and sleep
until 09:00-12:00, 8-10 hours in bed: a "not up" check that looks only at the clock (10:00 until
her routine is learned) pages on most of A's mornings.

**Simulated lives** (bench/lives.py, seed 8): each resident has their own wake and bed times,
restlessness and habits, and lives ordinary days that must not page: evening outings coming home
22:00-01:00, afternoon trips, 0-4 night toilet visits of 1-15 min, restless nights, a flickering
bed mat, sleeping in at weekends, naps on the sofa, visitors, a motion sensor dropping off the
network. Injected each week: two night exits after at least 45 min asleep, an afternoon at home
without movement for 3.5-4 h, a weekday in bed until 11:30-12:15, a 17:30 dose never taken. No
wander tag is simulated (the Ordóñez homes have none either), so `wander` is not measured here.

The logs, each replay's printed output and a list of every false page and missed incident
(`*-score.txt`) are kept in var/care-quality/ to look at; convert the
real homes for `huis replay` with `python -m bench.ordonez`, simulate with `python -m bench.lives`.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ordonez.DEFAULT_DATA, help="the Ordóñez folder")
    parser.add_argument("--residents", type=int, default=6)
    parser.add_argument("--weeks", type=int, default=2)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "home.yaml")
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--quick", action="store_true", help="do not write the doc")
    args = parser.parse_args(argv)
    parts = Parts.load(load_home(args.config))
    real, simulated = datasets(args.data, args.residents, args.weeks, args.seed)
    WORK.mkdir(parents=True, exist_ok=True)
    scores = asyncio.run(measure(parts, real, simulated, WORK))
    daily = asyncio.run(measure(parts, real, simulated, WORK, per_day=True))
    print(tables(scores))
    print(verdict(scores))
    print("one replay per day:")
    print(tables(daily))
    if args.quick:
        return 0
    if not args.doc.exists():
        args.doc.write_text(HEADER, encoding="utf-8")
    stamp = f"{datetime.now(UTC):%Y-%m-%d}"
    write_section(args.doc, "Pages and incidents", body(scores, daily, stamp))
    print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
