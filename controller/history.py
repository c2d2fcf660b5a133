"""The hub's own history: every device change and event, written to SQLite off the hot path.

The bus listener only appends the event to a list (it runs in the reaction path: a rule's command
must not wait for the history); the rows are made and written by a background task in batches,
each in one short transaction (a group commit every `flush_every` seconds). A batch the database
refuses stays in memory (bounded) and is retried with capped backoff on the hub's clock, with a
warning naming what is waiting (see controller/store.py).
`huis export`, the dashboard's timeline and the technician's event log read from here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.bus import EventBus
from controller.clock import Clock
from controller.engine.house import HOUSE_CHANGED
from controller.events import AVAILABILITY, COMMAND_SENT, DEVICE_EVENT, PAYLOAD_ERROR, STATE_CHANGED, Event, is_a
from controller.store import MAX_BATCH, Backoff, ComponentHealth, Database, first_of, retryable

log = logging.getLogger(__name__)

# The house mode and the resident's presence are recorded too (device NULL, attribute "mode" or
# "presence"), with the reason in `cause`: presence is an entity with a history.
RECORDED = (STATE_CHANGED, DEVICE_EVENT, AVAILABILITY, PAYLOAD_ERROR, COMMAND_SENT, HOUSE_CHANGED)

_SCHEMA = [
    """
    CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        type TEXT NOT NULL,
        device TEXT,
        attribute TEXT,
        value TEXT,
        origin TEXT NOT NULL,
        cause TEXT NOT NULL
    );
    CREATE INDEX history_time ON history (time);
    CREATE INDEX history_device_time ON history (device, time)
    """,
]


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryRow:
    """One recorded fact: a device attribute's new value, an event, a command."""

    time: datetime
    type: str
    device: str | None
    attribute: str | None
    value: object  # decoded from the JSON column
    origin: str
    cause: str


_Row = tuple[str, str, str | None, str | None, str, str, str]
_INSERT = ("INSERT INTO history (time, type, device, attribute, value, origin, cause)"
           " VALUES (?, ?, ?, ?, ?, ?, ?)")
# Rows held in memory while the database refuses them (about 100 MB at worst); older ones are
# dropped, counted and logged beyond that.
MAX_PENDING = 200_000


def _describe(rows: Sequence[_Row]) -> str:
    """'12 rows from 02:10:00 to 02:14:31' (what a log line says was kept or lost)."""
    if not rows:
        return "0 rows"
    return f"{len(rows)} rows from {rows[0][0]} to {rows[-1][0]}"


def rows_for(event: Event[object]) -> list[_Row]:
    """The history rows an event becomes (one per changed attribute)."""
    t = event.time.isoformat()
    origin, cause = event.context.origin, event.context.explain()
    if is_a(event, STATE_CHANGED):
        return [(t, event.type, event.device, name, json.dumps(new, default=str), origin, cause)
                for name, (_, new) in event.data["changes"].items()]
    if is_a(event, HOUSE_CHANGED):
        return [(t, event.type, None, name, json.dumps(new), origin, cause)
                for name, (_, new) in event.data["changes"].items()]
    single: tuple[str, object] | None = None
    if is_a(event, DEVICE_EVENT):
        # The event name alone, or with its data ({"event": "dose_due", "dose": "08:00"}).
        single = ("event", dict(event.data) if len(event.data) > 1 else event.data["event"])
    elif is_a(event, AVAILABILITY):
        single = ("available", event.data["online"])
    elif is_a(event, PAYLOAD_ERROR):
        single = ("error", event.data["reason"])
    elif is_a(event, COMMAND_SENT):
        single = ("command", event.data["values"])
    if single is None:
        return []
    attribute, value = single
    return [(t, event.type, event.device, attribute, json.dumps(value, default=str), origin, cause)]


class History:
    """Records bus events into the `history` table."""

    def __init__(self, db: Database, bus: EventBus, clock: Clock, *, keep: timedelta = timedelta(days=30),
                 flush_every: float = 0.5) -> None:
        self.db = db
        self.clock = clock
        self.keep = keep
        self.flush_every = flush_every
        self._events: list[Event[object]] = []  # not yet turned into rows
        self._pending: list[_Row] = []
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()  # one batch at a time, oldest rows first
        self._backoff = Backoff()
        # While the disk refuses writes the rows wait here (bounded), not in the writer's
        # memory copy: the history is the one table that grows with every event.
        db.own_holding("history")
        for kind in RECORDED:
            bus.subscribe(self._on_event, kind)

    async def open(self) -> None:
        await self.db.migrate("history", _SCHEMA)

    def _on_event(self, event: Event[object]) -> None:
        self._events.append(event)
        self._wake.set()

    def _rows(self) -> None:
        # Events are values (frozen, their context too): turning them into rows later says the same.
        if self._events:
            events, self._events = self._events, []
            for event in events:
                self._pending.extend(rows_for(event))

    @property
    def pending(self) -> int:
        """Rows recorded in memory, not yet in the database."""
        self._rows()
        return len(self._pending)

    async def flush(self) -> int:
        """Write what is pending; returns the number of rows written.

        Raises the storage error if the database refuses them; they stay pending and the
        writer (`run`) keeps retrying.
        """
        # Shielded: a cancelled caller leaves the batch to finish (holding the writer); the
        # inner task never raises, so no failure can end in a task nobody awaits.
        written, error = await asyncio.shield(self._write_pending())
        if error is not None:
            raise error
        return written

    async def _write_pending(self) -> tuple[int, sqlite3.Error | None]:
        written = 0
        async with self._writing:
            health = self.db.health.of(self.db.component)
            self._rows()
            while self._pending:
                # New rows are only ever appended, so the front stays ours until it is written.
                rows = self._pending[:MAX_BATCH]
                try:
                    await self.db.executemany(_INSERT, rows)
                except sqlite3.Error as exc:
                    if not retryable(exc):
                        del self._pending[:len(rows)]
                        health.lost += len(rows)
                        log.error("%s: %s dropped, the database refuses them: %s", self.db.component,
                                  _describe(rows), exc)
                        continue
                    self._bound(health)
                    health.pending = len(self._pending)
                    return written, exc
                del self._pending[:len(rows)]
                written += len(rows)
                self._rows()
            health.pending = 0
        return written, None

    def _bound(self, health: ComponentHealth) -> None:
        self._rows()
        # A disk that refuses writes for hours must not take the hub's memory with it.
        excess = len(self._pending) - MAX_PENDING
        if excess > 0:
            dropped = self._pending[:excess]
            del self._pending[:excess]
            health.lost += excess
            health.dropped += excess
            log.error("%s: the database has refused writes for too long; %s dropped to keep %d "
                      "in memory", self.db.component, _describe(dropped), MAX_PENDING)

    async def run(self) -> None:
        """Write batches until cancelled, retrying failed ones with capped backoff; prune old
        rows once a day (clock time)."""
        next_prune = self.clock.now()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                _, error = await asyncio.shield(self._write_pending())
                if error is not None:
                    await self._wait_to_retry(error)
                    continue
                if failures := self._backoff.reset():
                    log.warning("%s: writing again after %d failed attempts", self.db.component, failures)
                if self.clock.now() >= next_prune and await self._prune_or_report():
                    next_prune = self.clock.now() + timedelta(days=1)
                # Batch: let more events gather before the next transaction.
                await self.clock.sleep(self.flush_every)
        finally:
            await self._last_flush()

    async def _wait_to_retry(self, error: sqlite3.Error) -> None:
        delay = self._backoff.next()
        log.warning("%s: %s not written yet (%s); kept in memory, next try in %.0f s",
                    self.db.component, _describe(self._pending), error, delay)
        # Or as soon as the file takes writes again (the storage guard's write-back).
        await first_of(self.clock.sleep(delay), self.db.until_written_back())
        self._wake.set()

    async def _prune_or_report(self) -> bool:
        try:
            await self.prune()
        except sqlite3.Error as exc:
            log.warning("%s: pruning old rows failed (%s); trying again with the next batch",
                        self.db.component, exc)
            return False
        return True

    async def _last_flush(self) -> None:
        # On the way out (also when cancelled): whatever is pending gets one more try.
        _, error = await asyncio.shield(self._write_pending())
        self._rows()
        if error is not None and self._pending:
            health = self.db.health.of(self.db.component)
            health.lost += len(self._pending)
            health.pending = 0
            log.error("%s: %s lost at shutdown: %s", self.db.component, _describe(self._pending), error)
            self._pending.clear()

    async def prune(self) -> int:
        """Delete rows older than `keep`, in short transactions; returns how many."""
        cutoff = (self.clock.now() - self.keep).isoformat()
        removed = 0
        while True:
            async with self.db.transaction() as conn:
                cur = await conn.execute(
                    "DELETE FROM history WHERE id IN (SELECT id FROM history WHERE time < ? LIMIT ?)",
                    (cutoff, MAX_BATCH))
                n = cur.rowcount
                await cur.close()
            removed += n
            if n < MAX_BATCH:
                return removed

    async def query(self, *, since: datetime | None = None, until: datetime | None = None,
                    devices: Sequence[str] = (), types: Sequence[str] = (), limit: int = 1000) -> list[HistoryRow]:
        """Recorded rows in time order, filtered."""
        where, params = [], []
        if since is not None:
            where.append("time >= ?")
            params.append(since.isoformat())
        if until is not None:
            where.append("time < ?")
            params.append(until.isoformat())
        if devices:
            where.append(f"device IN ({','.join('?' * len(devices))})")
            params.extend(devices)
        if types:
            where.append(f"type IN ({','.join('?' * len(types))})")
            params.extend(types)
        sql = "SELECT * FROM history" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY time DESC, id DESC LIMIT ?"
        rows = await self.db.fetchall(sql, (*params, limit))
        return [HistoryRow(time=datetime.fromisoformat(r["time"]), type=r["type"], device=r["device"],
                           attribute=r["attribute"], value=json.loads(r["value"]), origin=r["origin"],
                           cause=r["cause"]) for r in reversed(rows)]
