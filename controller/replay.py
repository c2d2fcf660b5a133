"""Replay and export: test scenarios against recorded days before they reach the real home.

`huis export` writes the hub's history (the `history` table) as an event log; `huis replay`
plays such a log through the rule engine in virtual time, with every action captured instead
of sent (a `MemoryLink`, a `RecordingAlertSink`), and prints which alerts and actions would have
happened. A technician can so try a scenario change against last week's real nights. The hub
and engine a replay drives are built by the composition root (`huis.compose`), which hands
them over as `ReplayParts`.

The event log is CSV with a header line: `timestamp,device,attribute,value`.

- `timestamp`: ISO 8601; with a UTC offset (`2026-01-05T23:10:00+01:00`), or without one, then
  read in the home's time zone.
- `attribute`: a device attribute (`occupancy`, `open`, `room`, ...), `available` (the device
  came online/went offline) or `event` (a momentary event: the value is the event name, or a
  JSON object `{"event": "dose_due", "dose": "08:00"}` with its data).
- `value`: JSON when it parses as JSON (`true`, `12`, `"13:00"`, `{...}`), else the text itself.

Rows take the live hub's path: each is turned into what its device would have published and
decoded by the device's adapter (`controller/replay_feed.py`), so derived attributes (a
contact's `open`, a tag's `room`) come out as they do live, and a row the live hub would not
accept (an unknown device or attribute, a value the adapter refuses, derived rows that
disagree) is a problem reported, with every other one, before anything is replayed. Presence
and mode changes of the engine's house state are printed with the alerts and actions; per day
and night totals are in `controller/replay_summary.py`. docs/replay.md has the whole story.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Protocol, TextIO
from zoneinfo import ZoneInfo

from controller.clock import AcceleratedClock, Clock, RealClock, VirtualClock
from controller.config import HomeConfig
from controller.durations import parse_duration
from controller.engine import HOUSE_CHANGED, AlertSink, Engine, ScenarioSet
from controller.engine.house import HouseChanged
from controller.errors import ConfigError, Problem
from controller.events import (
    AVAILABILITY,
    COMMAND_SENT,
    DEVICE_EVENT,
    STATE_CHANGED,
    CommandSent,
    Context,
    Event,
    Severity,
)
from controller.history import History, HistoryRow
from controller.hub import Hub
from controller.mqtt import Link, MemoryLink
from controller.replay_feed import Feed, LogRow, plan_feeds
from controller.replay_summary import NIGHT, Action, HouseChange, Page, Period, summarise
from controller.routine import WEEKDAYS, Routine, RoutineKeeper
from controller.store import Database
from controller.testing import AlertRecord, RecordingAlertSink

HEADER = ("timestamp", "device", "attribute", "value")
EXPORTED = (STATE_CHANGED, DEVICE_EVENT, AVAILABILITY)
# After the last recorded event, keep time running so pending `for:` timers, delays and waits
# can still fire: a bed left empty at the end of the log must still show its warning.
DEFAULT_TAIL = timedelta(hours=1)
_KEEPER_LOG = logging.getLogger("controller.routine")


# -- the event log --------------------------------------------------------------------------------


def parse_value(text: str) -> object:
    """A CSV value: JSON when it parses as JSON, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def format_value(value: object) -> str:
    """A value for the CSV: text as is unless it would read back as something else."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def parse_time(text: str, tz: ZoneInfo) -> datetime:
    """ISO 8601; a time without an offset is the home's local time."""
    t = datetime.fromisoformat(text.strip())
    return t.replace(tzinfo=tz) if t.tzinfo is None else t


def read_log(path: str | Path, cfg: HomeConfig) -> list[LogRow]:
    """Read and check an event log's lines; raises ConfigError listing every bad line.

    The rows are not yet checked against the devices' adapters: `check_log` does both.
    """
    rows, problems = parse_log(path, cfg)
    if problems:
        raise ConfigError(problems)
    return rows


def parse_log(path: str | Path, cfg: HomeConfig) -> tuple[list[LogRow], list[Problem]]:
    """The good rows of an event log in time order, and a problem for every bad line."""
    tz = ZoneInfo(cfg.home.location.timezone)
    rows: list[LogRow] = []
    problems: list[Problem] = []
    name = str(path)
    for line, record in _records(path):
        if not record or (len(record) == 1 and not record[0].strip()) or record[0].startswith("#"):
            continue
        if [c.strip() for c in record] == list(HEADER):
            continue
        try:
            rows.append(_row(line, record, cfg, tz))
        except _LineError as exc:
            problems.append(Problem(file=name, line=line, path="", message=exc.message, hint=exc.hint))
    # Stable: rows with the same timestamp keep their order in the file.
    rows.sort(key=lambda r: r.time)
    return rows, problems


class _LineError(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def _records(path: str | Path) -> list[tuple[int, list[str]]]:
    name = str(path)
    try:
        records: list[tuple[int, list[str]]] = []
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            for record in reader:
                records.append((reader.line_num, record))
    except OSError as exc:
        raise ConfigError([Problem(file=name, line=None, path="", message=f"cannot read: {exc}")]) from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError([Problem(file=name, line=None, path="", message=f"not a CSV text file: {exc}")]) from exc
    return records


def _row(line: int, record: list[str], cfg: HomeConfig, tz: ZoneInfo) -> LogRow:
    if len(record) != 4:
        raise _LineError(f"expected 4 columns ({', '.join(HEADER)}), got {len(record)}")
    stamp, device, attribute, value = (c.strip() for c in record)
    try:
        when = parse_time(stamp, tz)
    except ValueError:
        raise _LineError(f"{stamp!r} is not a timestamp", "try 2026-01-05T23:10:00+01:00") from None
    if device not in cfg.devices:
        close = get_close_matches(device, list(cfg.devices), n=1)
        raise _LineError(f"unknown device {device!r}", f"did you mean {close[0]!r}?" if close else None)
    if not attribute:
        raise _LineError("the attribute is empty")
    return LogRow(line=line, time=when, device=device, attribute=attribute, value=parse_value(value))


def check_log(parts: ReplayParts, path: str | Path) -> list[LogRow]:
    """Read an event log and check every row as the live hub's adapters would take it.

    Raises ConfigError with every problem: bad lines, unknown devices and attributes, values
    an adapter refuses, derived rows that disagree.
    """
    rows, problems = parse_log(path, parts.config)
    hub = parts.hub(VirtualClock(rows[0].time if rows else datetime(2026, 1, 5, tzinfo=UTC)))
    problems.extend(plan_feeds(hub, rows, str(path))[1])
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: p.line or 0))
    return rows


# -- replay ---------------------------------------------------------------------------------------


class _ReplayLink(MemoryLink):
    """A MemoryLink that remembers when each message would have been sent."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock
        self.unclaimed: list[tuple[datetime, str, bytes]] = []

    def send(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        super().send(topic, payload, qos=qos, retain=retain)
        self.unclaimed.append((self._clock.now(), topic, payload))


@dataclass(slots=True, kw_only=True)
class ReplayReport:
    """What a replay saw and what the engine would have done."""

    events: int = 0
    alerts: list[AlertRecord] = field(default_factory=list)
    commands: int = 0
    messages: int = 0
    actions: list[Action] = field(default_factory=list)
    house: list[HouseChange] = field(default_factory=list)
    routines: list[Routine] = field(default_factory=list)  # each recomputed routine, in order
    start: datetime | None = None  # the first row's time
    end: datetime | None = None  # the end of the tail after the last row

    @property
    def pages(self) -> list[Page]:
        """The alerts raised, as the summary counts them."""
        return [Page(time=a.time, key=a.key, severity=a.severity, audience=a.audience, scenario=a.scenario)
                for a in self.alerts if a.action == "raised"]


class _Printer:
    """Prints what would have happened, one line each, in the home's local time.

    With `quiet` it only records (for `--summary` and `--json`).
    """

    def __init__(self, out: TextIO, hub: Hub, link: _ReplayLink, *, quiet: bool = False) -> None:
        self.out = out
        self.hub = hub
        self.tz = ZoneInfo(hub.config.home.location.timezone)
        self.link = link
        self.quiet = quiet
        self.report = ReplayReport()

    def stamp(self, when: datetime) -> str:
        return f"{when.astimezone(self.tz):%Y-%m-%d %H:%M:%S}"

    def on_command(self, event: Event[CommandSent]) -> None:
        # hub.command sent its MQTT messages just before announcing the command: they are this.
        self.link.unclaimed.clear()
        values = dict(event.data["values"])
        device = event.device or ""
        bound = self.hub.devices.get(device)
        self.report.commands += 1
        self.report.actions.append(Action(time=event.time, device=device, values=values,
                                          kind=bound.kind if bound is not None else ""))
        if "say" in values:
            line = f"say       {device}: {values['say']}"
        else:
            line = f"command   {device} {json.dumps(values, ensure_ascii=False, separators=(',', ':'))}"
        self.write(event.time, line)

    def on_house(self, event: Event[HouseChanged]) -> None:
        """A presence or mode change: `PRESENCE  away (was home): <cause>`."""
        self.flush_messages()
        for name, (old, new) in event.data["changes"].items():
            self.report.house.append(HouseChange(time=event.time, name=name, old=old, new=new,
                                                 cause=event.context.explain()))
            self.write(event.time, f"{name.upper():<9} {new} (was {old}): {_cause(event.context)}")

    def on_routine(self, routine: Routine) -> None:
        """A recomputed routine; printed once it is learned (the defaults are no news)."""
        self.report.routines.append(routine)
        if routine.learned and routine.computed_at is not None:
            self.write(routine.computed_at, f"ROUTINE   {_routine_line(routine)}")

    def flush_messages(self) -> None:
        for when, topic, payload in self.link.unclaimed:
            self.report.messages += 1
            self.write(when, f"mqtt      {topic} {payload.decode(errors='replace')}")
        self.link.unclaimed.clear()

    def alert(self, record: AlertRecord) -> None:
        self.flush_messages()
        self.report.alerts.append(record)
        if record.action == "raised":
            who = "technician" if record.audience == "technician" else "caregivers"
            line = f"ALERT     {record.severity} {record.key} ({record.scenario}, to {who}): {record.message}"
        else:
            line = f"{record.action.upper():<9} {record.key}: {record.reason}"
        self.write(record.time, line)

    def write(self, when: datetime, line: str) -> None:
        if not self.quiet:
            print(f"{self.stamp(when)}  {line}", file=self.out)


def _routine_line(routine: Routine) -> str:
    """'learned from 9 day(s); not up by: mon 11:52, ...; quiet limits: morning 2h00, ...'."""
    wake_by = ", ".join(f"{day} {t:%H:%M}" for day, t in zip(WEEKDAYS, routine.wake_by_times, strict=True))
    quiet = ", ".join(f"{part} {q.limit.total_seconds() / 3600:.1f}h" for part, q in routine.quiet.items())
    return f"learned from {routine.days_known} day(s); not up by: {wake_by}; quiet limits: {quiet}"


def _cause(ctx: Context) -> str:
    """Who changed it and the original cause: 'scenario:x <- device:front_door: replayed ...'."""
    chain = ctx.chain()
    return chain[0].link if len(chain) == 1 else f"{chain[0].origin} <- {chain[-1].link}"


class _PrintingSink(RecordingAlertSink):
    def __init__(self, hub: Hub, printer: _Printer) -> None:
        super().__init__(hub)
        self._printer = printer

    async def raise_alert(self, *, key: str, scenario: str, severity: Severity, message: str,
                          context: Context, data: Mapping[str, Any]) -> str:
        before = len(self.records)
        alert_id = await super().raise_alert(key=key, scenario=scenario, severity=severity,
                                             message=message, context=context, data=data)
        if len(self.records) > before:
            self._printer.alert(self.records[-1])
        return alert_id

    async def resolve_alert(self, *, key: str, reason: str, context: Context) -> bool:
        found = await super().resolve_alert(key=key, reason=reason, context=context)
        if found:
            self._printer.alert(self.records[-1])
        return found


def apply_feed(hub: Hub, feed: Feed) -> None:
    """Give the hub what the rows of `feed` say their device sent, on the live hub's path."""
    lines = ", ".join(str(n) for n in feed.lines)
    ctx = Context(origin=f"device:{feed.device}",
                  description=f"replayed from line{'s' if len(feed.lines) > 1 else ''} {lines}")
    if feed.available is not None:
        hub.set_available(feed.device, feed.available, ctx, reason="replayed")
    if feed.readings:
        hub.receive(feed.device, feed.readings, ctx)
    if feed.attributes:
        hub.apply(feed.device, feed.attributes, ctx)


class ReplayParts(Protocol):
    """What a replay drives, built by the composition root (`huis.compose.Parts`)."""

    @property
    def config(self) -> HomeConfig: ...

    @property
    def scenarios(self) -> ScenarioSet: ...

    def hub(self, clock: Clock, link: Link | None = None) -> Hub:
        """A hub for the home on `link`."""
        ...

    def engine(self, hub: Hub, db: Database, alerts: AlertSink) -> Engine:
        """The home's engine with its scenarios, on `hub`."""
        ...

    def history(self, hub: Hub, db: Database, clock: Clock) -> History:
        """The record of `hub`'s events in `db`, as the live hub keeps it."""
        ...

    def routine(self, db: Database, clock: Clock, use: Callable[[Routine], None]) -> RoutineKeeper:
        """The routine learned from the history in `db`, recomputed nightly on `clock`."""
        ...


async def replay_rows(parts: ReplayParts, rows: Sequence[LogRow], out: TextIO, *,
                      speed: float | None = None, tail: timedelta = DEFAULT_TAIL,
                      quiet: bool = False, source: str = "log") -> ReplayReport:
    """Play `rows` through the engine `parts` builds; print what it does (unless `quiet`).

    `speed` None runs in virtual time (as fast as the machine can); a number plays the log that
    many times faster than it was recorded (`1` is real time), for watching it on a dashboard.
    Raises ConfigError, before anything is replayed, when a row is one the live hub would not
    take (`source` names the log in the problems).
    """
    tz = ZoneInfo(parts.config.home.location.timezone)
    # Start just before the first event; an empty log still runs (and shows nothing happens).
    start = (rows[0].time if rows else datetime(2026, 1, 5, tzinfo=tz)) - timedelta(seconds=1)
    clock: VirtualClock | _LateStart = VirtualClock(start) if speed is None else _LateStart(speed, start)
    link = _ReplayLink(clock)
    hub = parts.hub(clock, link)
    feeds, problems = plan_feeds(hub, rows, source)
    if problems:
        raise ConfigError(problems)
    printer = _Printer(out, hub, link, quiet=quiet)
    printer.report.start = start + timedelta(seconds=1)
    hub.bus.subscribe(printer.on_command, COMMAND_SENT)
    hub.bus.subscribe(printer.on_house, HOUSE_CHANGED)
    if not quiet:
        print(f"replaying {len(rows)} events with {len(parts.scenarios.scenarios)} scenarios "
              f"({'virtual time' if speed is None else f'{speed:g}x real time'})", file=out)
    end = (rows[-1].time if rows else start) + tail
    await _play(parts, hub, clock, feeds, printer, end)
    printer.report.events = len(rows)
    printer.report.end = end
    return printer.report


async def _play(parts: ReplayParts, hub: Hub, clock: VirtualClock | _LateStart, feeds: Sequence[Feed],
                printer: _Printer, end: datetime) -> None:
    """Run the engine and feed it, at the clock's pace, until `end`.

    As on the live hub, the replayed events are recorded in a history and the resident's routine
    is learned from it at start and at the routine's nightly time: a replay of many days uses, on
    each day, what the days replayed before it taught (the defaults until enough are known).
    """
    db = await Database.connect(":memory:")
    # The history and the routine read back from it share one connection: each in-memory
    # connection is a database of its own.
    learned = await Database.connect(":memory:")
    engine = parts.engine(hub, db, _PrintingSink(hub, printer))
    history = parts.history(hub, learned, clock)
    await history.open()

    def use(routine: Routine) -> None:
        engine.use_routine(routine)
        printer.on_routine(routine)

    keeper = parts.routine(learned, clock, use)
    task = asyncio.create_task(engine.run(), name="replay-engine")
    tasks = [task]
    try:
        # The replay prints each learned routine itself (ROUTINE lines); the keeper's log line
        # for the live hub would repeat it on stderr every night.
        _KEEPER_LOG.setLevel(logging.WARNING)
        await _started(engine, task)
        if isinstance(clock, _LateStart):
            clock.start()  # only now: loading and restoring must not eat into the first minutes
        tasks += [asyncio.create_task(history.run(), name="replay-history"),
                  asyncio.create_task(keeper.run(), name="replay-routine")]
        for feed in feeds:
            await _until(clock, feed.time)
            apply_feed(hub, feed)
            printer.flush_messages()
        await _until(clock, end)
        printer.flush_messages()
        await engine.flush()
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        await db.close()
        await learned.close()
        _KEEPER_LOG.setLevel(logging.NOTSET)


async def _started(engine: Engine, task: asyncio.Task[None]) -> None:
    ready = asyncio.create_task(engine.ready.wait())
    await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        ready.cancel()
        task.result()


class _LateStart:
    """An AcceleratedClock that stands still at `start` until `start()` is called."""

    def __init__(self, speed: float, start: datetime) -> None:
        self._speed = speed
        self._start = start
        self._clock: AcceleratedClock | None = None

    def start(self) -> None:
        self._clock = AcceleratedClock(self._speed, self._start)

    def now(self) -> datetime:
        return self._start if self._clock is None else self._clock.now()

    async def sleep_until(self, when: datetime) -> None:
        if self._clock is None:
            raise RuntimeError("the replay clock has not started")
        await self._clock.sleep_until(when)

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.now() + timedelta(seconds=seconds))


async def _until(clock: VirtualClock | _LateStart, when: datetime) -> None:
    if isinstance(clock, VirtualClock):
        await clock.run_until(when)
    else:
        await clock.sleep_until(when)


def summary(report: ReplayReport) -> str:
    """The last line `huis replay` prints: events, alerts by severity, commands, messages."""
    raised = [a for a in report.alerts if a.action == "raised"]
    resolved = [a for a in report.alerts if a.action == "resolved"]
    by_severity = ", ".join(f"{sum(a.severity == s for a in raised)} {s}"
                            for s in ("urgent", "warning", "info"))
    return (f"summary: {report.events} events; {len(raised)} alert(s) would have been raised "
            f"({by_severity}), {len(resolved)} resolved; {report.commands} command(s), "
            f"{report.messages} other MQTT message(s).")


def periods_of(report: ReplayReport, tz: ZoneInfo, night: tuple[time, time] = NIGHT) -> list[Period]:
    """The replay's days and nights with their pages, lights, reminders and house changes."""
    first = report.start or datetime(2026, 1, 5, tzinfo=tz)
    return summarise(first, report.end or first, tz, pages=report.pages, actions=report.actions,
                     house=report.house, night=night)


# -- export ---------------------------------------------------------------------------------------


def parse_when(text: str | None, now: datetime) -> datetime | None:
    """`--since`/`--until`: ISO 8601 (date or date and time; local when without offset), or a
    duration ago (`7d`, `12h`)."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        try:
            return now - parse_duration(value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{text!r} is neither a date/time (2026-01-05T22:00) nor a duration "
                             "(7d, 12h)") from exc
    return when if when.tzinfo is not None else when.replace(tzinfo=now.tzinfo)


def export_rows(rows: Sequence[HistoryRow]) -> Iterator[tuple[str, str, str, str]]:
    """History rows as event-log rows (device facts only: no commands, no payload errors)."""
    for r in rows:
        if r.type not in EXPORTED or r.device is None or r.attribute is None:
            continue
        yield (r.time.isoformat(), r.device, r.attribute, format_value(r.value))


async def export_history(db_path: str | Path, since: datetime | None, until: datetime | None,
                         out: TextIO) -> int:
    """Write the history rows in [since, until) as an event log; returns how many."""
    from controller.bus import EventBus

    db = await Database.connect(db_path)
    try:
        history = History(db, EventBus(), RealClock())
        await history.open()
        rows = await history.query(since=since, until=until, types=EXPORTED, limit=100_000_000)
    finally:
        await db.close()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    count = 0
    for row in export_rows(rows):
        writer.writerow(row)
        count += 1
    return count


def export(db_path: str | Path, since: str | datetime | None, until: str | datetime | None,
           out: TextIO | None = None, *, clock: Clock | None = None) -> int:
    """`huis export`: the hub's history as an event log on `out`; 0, or 2 on a bad argument."""
    stream = out if out is not None else sys.stdout
    now = (clock or RealClock()).now().astimezone()
    try:
        lo = since if isinstance(since, datetime) or since is None else parse_when(since, now)
        hi = until if isinstance(until, datetime) or until is None else parse_when(until, now)
    except ValueError as exc:
        print(f"huis export: {exc}", file=sys.stderr)
        return 2
    if not Path(db_path).exists():
        print(f"huis export: no database at {db_path}", file=sys.stderr)
        return 2
    count = asyncio.run(export_history(db_path, lo, hi, stream))
    print(f"exported {count} event(s).", file=sys.stderr)
    return 0
