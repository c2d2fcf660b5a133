"""The hub's own history: every device change and event, written to SQLite off the hot path.

The bus listener only appends to a list; a background task writes batches in one transaction.
`huis export`, the dashboard's timeline and the technician's event log read from here.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.bus import EventBus
from controller.clock import Clock
from controller.engine.house import HOUSE_CHANGED
from controller.events import AVAILABILITY, COMMAND_SENT, DEVICE_EVENT, PAYLOAD_ERROR, STATE_CHANGED, Event, is_a
from controller.store import Database

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


def rows_for(event: Event[object]) -> list[tuple[str, str, str | None, str | None, str, str, str]]:
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
        self._pending: list[tuple[str, str, str | None, str | None, str, str, str]] = []
        self._wake = asyncio.Event()
        for kind in RECORDED:
            bus.subscribe(self._on_event, kind)

    async def open(self) -> None:
        await self.db.migrate("history", _SCHEMA)

    def _on_event(self, event: Event[object]) -> None:
        self._pending.extend(rows_for(event))
        self._wake.set()

    async def flush(self) -> int:
        """Write what is pending; returns the number of rows written."""
        # Shielded: a cancelled caller leaves the transaction to finish (holding the db lock).
        return await asyncio.shield(self._write())

    async def _write(self) -> int:
        rows, self._pending = self._pending, []
        if rows:
            await self.db.executemany(
                "INSERT INTO history (time, type, device, attribute, value, origin, cause)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    async def run(self) -> None:
        """Flush batches until cancelled; prune old rows once a day (clock time)."""
        next_prune = self.clock.now()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                await self.flush()
                if self.clock.now() >= next_prune:
                    await self.prune()
                    next_prune = self.clock.now() + timedelta(days=1)
                # Batch: let more events gather before the next transaction.
                await self.clock.sleep(self.flush_every)
        finally:
            await self.flush()

    async def prune(self) -> None:
        cutoff = (self.clock.now() - self.keep).isoformat()
        await self.db.execute("DELETE FROM history WHERE time < ?", (cutoff,))

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
