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

Replay applies attributes to the hub's state directly (as the adapters would have produced
them), so derived attributes (a contact's `open`, a tag's `room`) replay as they were recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Protocol, TextIO
from zoneinfo import ZoneInfo

from controller.clock import AcceleratedClock, Clock, RealClock, VirtualClock
from controller.config import HomeConfig
from controller.durations import parse_duration
from controller.engine import AlertSink, Engine, ScenarioSet
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
from controller.store import Database
from controller.testing import AlertRecord, RecordingAlertSink

HEADER = ("timestamp", "device", "attribute", "value")
EXPORTED = (STATE_CHANGED, DEVICE_EVENT, AVAILABILITY)
# After the last recorded event, keep time running so pending `for:` timers, delays and waits
# can still fire: a bed left empty at the end of the log must still show its warning.
DEFAULT_TAIL = timedelta(hours=1)


# -- the event log --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class LogRow:
    """One recorded fact of the event log."""

    line: int
    time: datetime
    device: str
    attribute: str
    value: object


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
    """Read and check an event log; raises ConfigError listing every bad line."""
    tz = ZoneInfo(cfg.home.location.timezone)
    rows: list[LogRow] = []
    problems: list[Problem] = []
    name = str(path)

    def bad(line: int, message: str, hint: str | None = None) -> None:
        problems.append(Problem(file=name, line=line, path="", message=message, hint=hint))

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
    for line, record in records:
        if not record or (len(record) == 1 and not record[0].strip()) or record[0].startswith("#"):
            continue
        if [c.strip() for c in record] == list(HEADER):
            continue
        if len(record) != 4:
            bad(line, f"expected 4 columns ({', '.join(HEADER)}), got {len(record)}")
            continue
        stamp, device, attribute, value = (c.strip() for c in record)
        try:
            when = parse_time(stamp, tz)
        except ValueError:
            bad(line, f"{stamp!r} is not a timestamp", "try 2026-01-05T23:10:00+01:00")
            continue
        if device not in cfg.devices:
            close = get_close_matches(device, list(cfg.devices), n=1)
            bad(line, f"unknown device {device!r}", f"did you mean {close[0]!r}?" if close else None)
            continue
        if not attribute:
            bad(line, "the attribute is empty")
            continue
        rows.append(LogRow(line=line, time=when, device=device, attribute=attribute,
                           value=parse_value(value)))
    if problems:
        raise ConfigError(problems)
    # Stable: rows with the same timestamp keep their order in the file.
    rows.sort(key=lambda r: r.time)
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


class _Printer:
    """Prints what would have happened, one line each, in the home's local time."""

    def __init__(self, out: TextIO, tz: ZoneInfo, link: _ReplayLink) -> None:
        self.out = out
        self.tz = tz
        self.link = link
        self.report = ReplayReport()

    def stamp(self, when: datetime) -> str:
        return f"{when.astimezone(self.tz):%Y-%m-%d %H:%M:%S}"

    def on_command(self, event: Event[CommandSent]) -> None:
        # hub.command sent its MQTT messages just before announcing the command: they are this.
        self.link.unclaimed.clear()
        values = event.data["values"]
        self.report.commands += 1
        if "say" in values:
            line = f"say       {event.device}: {values['say']}"
        else:
            line = f"command   {event.device} {json.dumps(values, ensure_ascii=False, separators=(',', ':'))}"
        self.write(event.time, line)

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
        print(f"{self.stamp(when)}  {line}", file=self.out)


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


def apply_row(hub: Hub, row: LogRow) -> None:
    """Feed one recorded fact to the hub as its device would have caused it."""
    ctx = Context(origin=f"device:{row.device}", description=f"replayed from line {row.line}")
    if row.attribute == "available":
        hub.set_available(row.device, bool(row.value), ctx, reason="replayed")
    elif row.attribute == "event":
        data = dict(row.value) if isinstance(row.value, Mapping) else {"event": str(row.value)}
        hub.state.get(row.device).last_seen = hub.clock.now()
        hub.bus.publish(DEVICE_EVENT.event(time=hub.clock.now(), context=ctx,
                              device=row.device, data=data))
    else:
        hub.apply(row.device, {row.attribute: row.value}, ctx)


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


async def replay_rows(parts: ReplayParts, rows: Sequence[LogRow], out: TextIO, *,
                      speed: float | None = None, tail: timedelta = DEFAULT_TAIL) -> ReplayReport:
    """Play `rows` through the engine `parts` builds; print what it does.

    `speed` None runs in virtual time (as fast as the machine can); a number plays the log that
    many times faster than it was recorded (`1` is real time), for watching it on a dashboard.
    """
    cfg, scenarios = parts.config, parts.scenarios
    tz = ZoneInfo(cfg.home.location.timezone)
    # Start just before the first event; an empty log still runs (and shows nothing happens).
    start = (rows[0].time if rows else datetime(2026, 1, 5, tzinfo=tz)) - timedelta(seconds=1)
    clock: VirtualClock | _LateStart = VirtualClock(start) if speed is None else _LateStart(speed, start)
    link = _ReplayLink(clock)
    hub = parts.hub(clock, link)
    printer = _Printer(out, tz, link)
    hub.bus.subscribe(printer.on_command, COMMAND_SENT)
    db = await Database.connect(":memory:")
    engine = parts.engine(hub, db, _PrintingSink(hub, printer))
    print(f"replaying {len(rows)} events with {len(scenarios.scenarios)} scenarios "
          f"({'virtual time' if speed is None else f'{speed:g}x real time'})", file=out)
    task = asyncio.create_task(engine.run(), name="replay-engine")
    try:
        await _started(engine, task)
        if isinstance(clock, _LateStart):
            clock.start()  # only now: loading and restoring must not eat into the first minutes
        for row in rows:
            await _until(clock, row.time)
            apply_row(hub, row)
            printer.report.events += 1
            printer.flush_messages()
        end = (rows[-1].time if rows else start) + tail
        await _until(clock, end)
        printer.flush_messages()
        await engine.flush()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await db.close()
    return printer.report


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
