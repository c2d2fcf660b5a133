"""What the care-quality benchmark's data sources share: labelled truth and a replay-log writer.

A `Life` is one resident's recorded (or simulated) stretch of days: the rows of a `huis replay`
event log, the incidents a caregiver should be paged for, and the labelled situations (out,
asleep) that explain a false page. `bench/ordonez.py` makes them from the UCI ADL dataset,
`bench/lives.py` simulates them; `bench/care_quality.py` replays and scores them.

`Recorder` turns "the resident was active here from a to b" into what the demo home's device
adapters would have reported, so both sources produce the same kind of log:

- motion (Aqara RTCGQ11LM): `occupancy` true at the first movement, false 90 s after the last
  (its `occupancy_timeout`); overlapping activity in one room is one detection;
- bed (TS0601 bed presence): `occupancy` true while lying on it;
- door contact (Aqara MCCGQ11LM): `contact` false (magnet away) and `open` true while open; the
  hub's contact adapter derives `open` from `contact`, so both rows are written;
- dispenser: `event` rows (`dose_due`, `dose_taken` with their dose);
- `available` rows for a sensor that drops off the network.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

# The care plan's night and its tolerance for being out of bed: the *truth* used to label
# incidents, fixed here so that a scenario change cannot move the goalposts.
NIGHT_START = time(22, 0)
NIGHT_END = time(7, 0)
NIGHT_UP_AFTER = timedelta(minutes=10)
MOTION_CLEAR = timedelta(seconds=90)  # RTCGQ11LM: occupancy false 90 s after the last motion

MOTION_DEVICES = ("bedroom_motion", "bathroom_motion", "hall_motion", "living_motion", "kitchen_motion")
DOORS = ("front_door", "back_door")
INCIDENT_KINDS = ("night_exit", "night_up", "no_motion", "not_up", "missed_dose")

Row = tuple[datetime, str, str, object]


def at_night(when: datetime) -> bool:
    """Whether `when` (local) lies in the care plan's night, 22:00-07:00."""
    t = when.timetz().replace(tzinfo=None)
    return t >= NIGHT_START or t < NIGHT_END


@dataclass(frozen=True, slots=True, kw_only=True)
class Incident:
    """Something a caregiver must hear about, with when.

    `start` is the moment from which a page is due (time to alert counts from here); `since` is
    the earliest moment a page can be about it (a night exit starts when the bed empties, the
    page is due when the door opens); `end` is when the situation was over.
    """

    kind: str
    start: datetime
    end: datetime
    since: datetime | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in INCIDENT_KINDS:
            raise ValueError(f"unknown incident kind {self.kind!r}; one of {', '.join(INCIDENT_KINDS)}")
        if self.end < self.start:
            raise ValueError(f"incident {self.kind} ends ({self.end}) before it starts ({self.start})")

    @property
    def begins(self) -> datetime:
        return self.since if self.since is not None else self.start


@dataclass(frozen=True, slots=True, kw_only=True)
class Situation:
    """A labelled stretch that is no incident: `out` of the house, `asleep`, a `visitor`."""

    what: str
    start: datetime
    end: datetime


@dataclass(slots=True, kw_only=True)
class Life:
    """One replay log with its truth."""

    name: str
    rows: list[Row]
    start: datetime
    end: datetime
    incidents: list[Incident] = field(default_factory=list)
    situations: list[Situation] = field(default_factory=list)

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)

    def situation_at(self, when: datetime) -> str:
        """The labelled situation at `when` ('out', 'asleep', ...), or '' for none."""
        for s in self.situations:
            if s.start <= when <= s.end:
                return s.what
        return ""


class Recorder:
    """Collects what the resident did per device and writes it as the adapters would report it."""

    def __init__(self) -> None:
        self.motion: dict[str, list[tuple[datetime, datetime]]] = {d: [] for d in MOTION_DEVICES}
        self.bed: list[tuple[datetime, datetime]] = []
        self.doors: dict[str, list[tuple[datetime, datetime]]] = {d: [] for d in DOORS}
        self.events: list[Row] = []
        self.offline: list[tuple[str, datetime, datetime]] = []

    def move(self, device: str, start: datetime, end: datetime) -> None:
        self.motion[device].append((start, max(start, end)))

    def lie(self, start: datetime, end: datetime) -> None:
        if end > start:
            self.bed.append((start, end))

    def door(self, device: str, start: datetime, end: datetime) -> None:
        self.doors[device].append((start, max(start + timedelta(seconds=1), end)))

    def event(self, when: datetime, device: str, name: str, **data: object) -> None:
        self.events.append((when, device, "event", {"event": name, **data} if data else name))

    def drop_out(self, device: str, start: datetime, end: datetime) -> None:
        """`device` is off the network from `start` to `end`: it reports nothing then."""
        self.offline.append((device, start, end))

    def rows(self, start: datetime) -> list[Row]:
        """Every row, sorted, beginning with each sensor's state at `start`."""
        in_bed = any(a <= start < b for a, b in self.bed)
        rows: list[Row] = [(start, "bed_sensor", "occupancy", in_bed)]
        for door in DOORS:
            rows += [(start, door, "contact", True), (start, door, "open", False)]
        rows += [(start, device, "occupancy", False) for device in MOTION_DEVICES]
        for device, spans in self.motion.items():
            for a, b in _merge(self._online(device, spans), MOTION_CLEAR):
                rows += [(a, device, "occupancy", True), (b + MOTION_CLEAR, device, "occupancy", False)]
        for a, b in _merge(self.bed, timedelta(0)):
            if a > start:
                rows.append((a, "bed_sensor", "occupancy", True))
            rows.append((b, "bed_sensor", "occupancy", False))
        for door, spans in self.doors.items():
            for a, b in _merge(spans, timedelta(0)):
                rows += [(a, door, "contact", False), (a, door, "open", True),
                         (b, door, "contact", True), (b, door, "open", False)]
        for device, a, b in self.offline:
            rows += [(a, device, "available", False), (b, device, "available", True)]
        rows += self.events
        rows = [r for r in rows if r[0] >= start]
        rows.sort(key=lambda r: r[0])
        return rows

    def _online(self, device: str, spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
        gaps = [(a, b) for d, a, b in self.offline if d == device]
        return [(s, e) for s, e in spans if not any(a <= s <= b for a, b in gaps)]


def _merge(spans: list[tuple[datetime, datetime]], slack: timedelta) -> list[tuple[datetime, datetime]]:
    """Overlapping spans (or closer than `slack`) as one."""
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1] + slack:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def value_text(value: object) -> str:
    """A value as `huis replay` reads it back (JSON unless plain text)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def write_log(life: Life, path: Path, header: str = "") -> Path:
    """Write `life` as a `huis replay` event log (CSV, local times with their offset)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        for line in header.splitlines():
            handle.write(f"# {line}\n")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("timestamp", "device", "attribute", "value"))
        for when, device, attribute, value in life.rows:
            writer.writerow((when.isoformat(), device, attribute, value_text(value)))
    return path


def days_of(life: Life, cut: time = time(12, 0)) -> list[Life]:
    """`life` cut into days from `cut` to `cut` (noon: no night is split), each starting with
    every sensor's last reported state, with the incidents that begin in it."""
    edge = datetime.combine(life.start.date(), cut, life.start.tzinfo)
    if edge <= life.start:
        edge += timedelta(days=1)
    bounds = [life.start]
    while edge < life.end:
        bounds.append(edge)
        edge += timedelta(days=1)
    bounds.append(life.end)
    state: dict[tuple[str, str], Row] = {}
    rows = iter(life.rows)
    pending = next(rows, None)
    out: list[Life] = []
    for n, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        own: list[Row] = []
        while pending is not None and (pending[0] < b or b == life.end):
            own.append(pending)
            pending = next(rows, None)
        carried = [(a, d, attr, v) for (d, attr), (_, _, _, v) in state.items()]
        for row in own:
            if row[2] != "event":
                state[(row[1], row[2])] = row
        out.append(Life(name=f"{life.name} day {n + 1}", rows=carried + own, start=a, end=b,
                        incidents=[i for i in life.incidents if a <= i.begins < b],
                        situations=[s for s in life.situations if s.start < b and s.end > a]))
    return out
