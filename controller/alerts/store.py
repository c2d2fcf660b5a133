"""Alerts, deliveries, attempts and the append-only audit log in the hub's SQLite file.

Every change is one atomic write of the new alert row *and* its audit entries *and* the
deliveries it implies, so the file never says "escalated" without saying whom to page.
The audit table refuses UPDATE and DELETE through triggers, and each entry carries an
HMAC-SHA256 chained over the previous one (controller/audit.py), so even an edit behind the
triggers' back is detectable (NEN 7513 asks for a log of who did what to a client's record,
that nobody can rewrite).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, TypedDict, TypeVar

import aiosqlite

from controller.alerts.model import ACTIVE_STATES, Alert
from controller.audit import ALERTS, GENESIS, mac, open_chain, verify
from controller.errors import HuisError
from controller.events import Severity
from controller.store import Database

_SCHEMA = [
    """
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        scenario TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        resident TEXT NOT NULL,
        policy TEXT NOT NULL,
        state TEXT NOT NULL,
        cause TEXT NOT NULL,
        cause_chain TEXT NOT NULL,
        data TEXT NOT NULL,
        raised_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        step INTEGER NOT NULL DEFAULT 0,
        next_at TEXT,
        acknowledged_by TEXT,
        acknowledged_via TEXT,
        acknowledged_at TEXT,
        resolved_at TEXT,
        resolved_by TEXT,
        resolution TEXT,
        note TEXT
    );
    CREATE UNIQUE INDEX alerts_active_key ON alerts (key)
        WHERE state IN ('raised', 'delivering', 'delivered', 'acknowledged');
    CREATE INDEX alerts_state ON alerts (state);
    CREATE INDEX alerts_raised_at ON alerts (raised_at);
    CREATE TABLE alert_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        alert_id TEXT,
        event TEXT NOT NULL,
        resident TEXT,
        user TEXT,
        channel TEXT,
        detail TEXT NOT NULL DEFAULT '',
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX alert_audit_alert ON alert_audit (alert_id, seq);
    CREATE TABLE alert_deliveries (
        id INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL REFERENCES alerts (id),
        kind TEXT NOT NULL,
        step INTEGER NOT NULL,
        recipient TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        channel TEXT,
        receipt TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (alert_id, kind, step, recipient)
    );
    CREATE INDEX alert_deliveries_status ON alert_deliveries (status);
    CREATE TABLE alert_attempts (
        id INTEGER PRIMARY KEY,
        delivery_id INTEGER NOT NULL REFERENCES alert_deliveries (id),
        alert_id TEXT NOT NULL,
        recipient TEXT NOT NULL,
        channel TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        ok INTEGER NOT NULL,
        error TEXT,
        receipt TEXT
    );
    CREATE INDEX alert_attempts_alert ON alert_attempts (alert_id, id);
    CREATE TABLE alert_used_links (
        nonce TEXT PRIMARY KEY,
        alert_id TEXT NOT NULL,
        recipient TEXT NOT NULL,
        used_at TEXT NOT NULL
    )
    """,
    # Occurrences (docs/alerts.md): several alerts of one key may be active (a new urgent
    # occurrence is a new alert linked to the earlier one); repeats are counted on the alert.
    """
    DROP INDEX alerts_active_key;
    CREATE INDEX alerts_key_state ON alerts (key, state);
    ALTER TABLE alerts ADD COLUMN previous_id TEXT;
    ALTER TABLE alerts ADD COLUMN occurrence INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE alerts ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE alerts ADD COLUMN last_repeat_at TEXT;
    ALTER TABLE alerts ADD COLUMN renotified_at TEXT;
    ALTER TABLE alerts ADD COLUMN origin TEXT;
    CREATE UNIQUE INDEX alerts_origin ON alerts (key, origin) WHERE origin IS NOT NULL
    """,
]


# Delivery statuses.
PENDING = "pending"  # recorded before sending: after a crash this means "maybe sent"
SENT = "sent"
FAILED = "failed"  # every channel of the caregiver failed
SKIPPED = "skipped"  # no longer needed (acknowledged or resolved meanwhile)
UNKNOWN = "unknown"  # a server got the request but never answered: it may have arrived


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    """One line of the audit log."""

    time: datetime
    alert_id: str | None
    event: str
    resident: str | None = None
    user: str | None = None
    channel: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewDelivery:
    """A delivery to record (as pending) in the same transaction as the change that needs it."""

    alert_id: str
    kind: str
    step: int
    recipient: str
    text: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """A stored delivery: one notification of one kind, for one step, to one caregiver."""

    id: int
    alert_id: str
    kind: str
    step: int
    recipient: str
    text: str
    status: str
    channel: str | None
    receipt: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One try on one channel."""

    delivery_id: int
    alert_id: str
    recipient: str
    channel: str
    attempt: int
    started_at: datetime
    finished_at: datetime
    ok: bool
    error: str | None = None
    receipt: str | None = None


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def alert_from_row(row: aiosqlite.Row) -> Alert:
    """An Alert from its stored row."""
    severity: Severity = row["severity"]
    raised = datetime.fromisoformat(row["raised_at"])
    return Alert(
        id=row["id"], key=row["key"], scenario=row["scenario"], severity=severity,
        message=row["message"], resident=row["resident"], policy=row["policy"], state=row["state"],
        cause=row["cause"], cause_chain=tuple(json.loads(row["cause_chain"])),
        data=json.loads(row["data"]), raised_at=raised,
        updated_at=datetime.fromisoformat(row["updated_at"]), step=row["step"],
        next_at=_dt(row["next_at"]), acknowledged_by=row["acknowledged_by"],
        acknowledged_via=row["acknowledged_via"], acknowledged_at=_dt(row["acknowledged_at"]),
        resolved_at=_dt(row["resolved_at"]), resolved_by=row["resolved_by"],
        resolution=row["resolution"], note=row["note"], previous_id=row["previous_id"],
        occurrence=row["occurrence"], repeats=row["repeats"],
        last_repeat_at=_dt(row["last_repeat_at"]), renotified_at=_dt(row["renotified_at"]),
        origin=row["origin"],
    )


def _delivery(row: aiosqlite.Row) -> Delivery:
    return Delivery(id=row["id"], alert_id=row["alert_id"], kind=row["kind"], step=row["step"],
                    recipient=row["recipient"], text=row["text"], status=row["status"],
                    channel=row["channel"], receipt=row["receipt"])


_ALERT_COLUMNS = ("id", "key", "scenario", "severity", "message", "resident", "policy", "state",
                  "cause", "cause_chain", "data", "raised_at", "updated_at", "step", "next_at",
                  "acknowledged_by", "acknowledged_via", "acknowledged_at", "resolved_at",
                  "resolved_by", "resolution", "note", "previous_id", "occurrence", "repeats",
                  "last_repeat_at", "renotified_at", "origin")


def _alert_values(a: Alert) -> tuple[object, ...]:
    return (a.id, a.key, a.scenario, a.severity, a.message, a.resident, a.policy, a.state, a.cause,
            json.dumps([dict(c) for c in a.cause_chain]), json.dumps(dict(a.data), default=str),
            _iso(a.raised_at), _iso(a.updated_at), a.step, _iso(a.next_at), a.acknowledged_by,
            a.acknowledged_via, _iso(a.acknowledged_at), _iso(a.resolved_at), a.resolved_by,
            a.resolution, a.note, a.previous_id, a.occurrence, a.repeats, _iso(a.last_repeat_at),
            _iso(a.renotified_at), a.origin)


class AuditRow(TypedDict):
    """One stored line of the audit log, as the technician's console shows it."""

    seq: int
    time: str
    alert_id: str | None
    event: str
    resident: str | None
    user: str | None
    channel: str | None
    detail: str
    prev_hash: str
    hash: str


class TimelineItem(TypedDict):
    """One line of an alert's timeline: a transition (from the audit log) or a delivery attempt."""

    time: str
    type: str  # 'transition' or 'attempt'
    event: str
    user: str | None
    channel: str | None
    detail: NotRequired[str]
    seq: NotRequired[int]
    kind: NotRequired[str]
    step: NotRequired[int]
    attempt: NotRequired[int]
    ok: NotRequired[bool]
    error: NotRequired[str | None]
    receipt: NotRequired[str | None]
    finished: NotRequired[str]


def _audit_row(r: aiosqlite.Row) -> AuditRow:
    return {"seq": r["seq"], "time": r["time"], "alert_id": r["alert_id"], "event": r["event"],
            "resident": r["resident"], "user": r["user"], "channel": r["channel"],
            "detail": r["detail"], "prev_hash": r["prev_hash"], "hash": r["hash"]}


class DuplicateKey(Exception):
    """An alert with this key and origin already exists (the unique index said so)."""


_T = TypeVar("_T")
Op = Callable[[aiosqlite.Connection], Awaitable[_T]]


class AlertStore:
    """Reads and writes the alert tables.

    Writes are *group-committed*: each write is an operation queued for the next transaction;
    whoever holds the write lock commits everything queued so far in one transaction (one
    fsync), each operation inside its own savepoint so one failing operation (a duplicate key,
    a reused link) rolls back alone. A caller's write is durable when its call returns.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = asyncio.Lock()
        self._ops: list[tuple[Op[Any], asyncio.Future[Any]]] = []
        self._last_hash = GENESIS
        self._key = b""

    async def open(self) -> None:
        """Create or upgrade the tables; make the audit log append-only and remember where its
        keyed chain stands (the key is created next to the database on first start)."""
        await self.db.migrate("alerts", _SCHEMA)
        chain = await open_chain(self.db, ALERTS)
        self._key, self._last_hash = chain.key, chain.last

    async def _write(self, op: Op[_T]) -> _T:
        fut: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._ops.append((op, fut))
        # The lock is FIFO: by the time we hold it, an earlier holder has usually committed
        # our operation along with its own, and there is nothing left to do. The database's
        # writer lock (in `transaction`) keeps out every other component of the hub.
        async with self._lock:
            if not fut.done():
                await self._commit_batch()
        return fut.result()

    async def _commit_batch(self) -> None:
        batch, self._ops = [(op, f) for op, f in self._ops if not f.done()], []
        if not batch:
            return
        saved_hash = self._last_hash
        try:
            # BEGIN IMMEDIATE on the hub's one writer (see controller/store.py).
            async with self.db.transaction() as conn:
                outcomes = await self._run_ops(conn, batch)
        except BaseException as exc:
            self._last_hash = saved_hash
            failure = exc if isinstance(exc, Exception) else HuisError("the alert store write was interrupted")
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(failure)
                    # Its caller may be gone too (shutdown): don't log "never retrieved".
                    fut.exception()
            if not isinstance(exc, Exception):
                raise
            return
        for fut, error, result in outcomes:
            if fut.done():
                continue
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)

    async def _run_ops(self, conn: aiosqlite.Connection, batch: list[tuple[Op[Any], asyncio.Future[Any]]],
                       ) -> list[tuple[asyncio.Future[Any], BaseException | None, Any]]:
        # Each operation in its own savepoint when there are several, so one failing operation
        # (a duplicate key, a reused link) rolls back alone.
        savepoints = len(batch) > 1
        outcomes: list[tuple[asyncio.Future[Any], BaseException | None, Any]] = []
        for op, fut in batch:
            before = self._last_hash
            if savepoints:
                await conn.execute("SAVEPOINT alert_op")
            try:
                result = await op(conn)
            except Exception as exc:
                self._last_hash = before
                if not savepoints:
                    raise
                await conn.execute("ROLLBACK TO alert_op")
                await conn.execute("RELEASE alert_op")
                outcomes.append((fut, exc, None))
                continue
            if savepoints:
                await conn.execute("RELEASE alert_op")
            outcomes.append((fut, None, result))
        return outcomes

    async def _audit(self, conn: aiosqlite.Connection, entries: Sequence[AuditEntry]) -> None:
        rows = []
        for e in entries:
            fields = [_iso(e.time) or "", e.alert_id or "", e.event, e.resident or "", e.user or "",
                      e.channel or "", e.detail]
            digest = mac(self._key, self._last_hash, fields)
            rows.append((_iso(e.time), e.alert_id, e.event, e.resident, e.user, e.channel, e.detail,
                         self._last_hash, digest))
            self._last_hash = digest
        if rows:
            await conn.executemany(
                "INSERT INTO alert_audit (time, alert_id, event, resident, user, channel, detail,"
                " prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    async def _deliveries(self, conn: aiosqlite.Connection, items: Sequence[NewDelivery],
                          now: datetime) -> list[Delivery]:
        out = []
        for d in items:
            cur = await conn.execute(
                "INSERT INTO alert_deliveries (alert_id, kind, step, recipient, text, status,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (alert_id, kind, step, recipient) DO NOTHING",
                (d.alert_id, d.kind, d.step, d.recipient, d.text, PENDING, _iso(now), _iso(now)),
            )
            if cur.rowcount:
                out.append(Delivery(id=cur.lastrowid or 0, alert_id=d.alert_id, kind=d.kind,
                                    step=d.step, recipient=d.recipient, text=d.text,
                                    status=PENDING, channel=None, receipt=None))
            await cur.close()
        return out

    # -- writes -------------------------------------------------------------------------------

    async def insert(self, alert: Alert, audit: Sequence[AuditEntry],
                     deliveries: Sequence[NewDelivery] = ()) -> list[Delivery]:
        """Store a new alert (and its first deliveries); DuplicateKey if its key and origin exist."""

        async def op(conn: aiosqlite.Connection) -> list[Delivery]:
            await conn.execute(
                f"INSERT INTO alerts ({', '.join(_ALERT_COLUMNS)})"
                f" VALUES ({', '.join('?' * len(_ALERT_COLUMNS))})",
                _alert_values(alert),
            )
            await self._audit(conn, audit)
            return await self._deliveries(conn, deliveries, alert.updated_at)

        try:
            return await self._write(op)
        except sqlite3.IntegrityError as exc:
            if "alerts.key" in str(exc):
                raise DuplicateKey(alert.key) from exc
            raise

    async def save(self, alert: Alert, *, audit: Sequence[AuditEntry] = (),
                   deliveries: Sequence[NewDelivery] = (), expect_state: str | None = None,
                   nonce: tuple[str, str] | None = None) -> list[Delivery] | None:
        """Write an alert's new row, its audit entries and new deliveries in one transaction.

        With `expect_state`, nothing is written (and None returned) unless the stored state is
        still that one. With `nonce` (nonce, recipient), a link's single use is recorded in the
        same transaction; a reused nonce raises sqlite3.IntegrityError and nothing is written.
        """
        now = alert.updated_at

        async def op(conn: aiosqlite.Connection) -> list[Delivery] | None:
            if nonce is not None:
                await conn.execute(
                    "INSERT INTO alert_used_links (nonce, alert_id, recipient, used_at)"
                    " VALUES (?, ?, ?, ?)", (nonce[0], alert.id, nonce[1], _iso(now)))
            sets = ", ".join(f"{c} = ?" for c in _ALERT_COLUMNS[1:])
            sql = f"UPDATE alerts SET {sets} WHERE id = ?"
            params: tuple[object, ...] = (*_alert_values(alert)[1:], alert.id)
            if expect_state is not None:
                sql += " AND state = ?"
                params = (*params, expect_state)
            cur = await conn.execute(sql, params)
            changed = cur.rowcount
            await cur.close()
            if not changed:
                return None
            await self._audit(conn, audit)
            return await self._deliveries(conn, deliveries, now)

        return await self._write(op)

    async def record_audit(self, entries: Sequence[AuditEntry]) -> None:
        """Audit entries on their own (refused links, views)."""

        async def op(conn: aiosqlite.Connection) -> None:
            await self._audit(conn, entries)

        await self._write(op)

    async def use_nonce(self, nonce: str, alert_id: str, recipient: str, now: datetime) -> bool:
        """Record a link's single use; False if it was used before."""

        async def op(conn: aiosqlite.Connection) -> None:
            await conn.execute(
                "INSERT INTO alert_used_links (nonce, alert_id, recipient, used_at)"
                " VALUES (?, ?, ?, ?)", (nonce, alert_id, recipient, _iso(now)))

        try:
            await self._write(op)
        except sqlite3.IntegrityError:
            return False
        return True

    async def nonce_used(self, nonce: str) -> bool:
        row = await self.db.fetchone("SELECT 1 FROM alert_used_links WHERE nonce = ?", (nonce,))
        return row is not None

    async def finish_attempts(self, attempts: Sequence[Attempt]) -> None:
        """Record failed attempts as they happen, so a long backoff shows on the timeline."""

        async def op(conn: aiosqlite.Connection) -> None:
            await self._attempts(conn, attempts)

        await self._write(op)

    async def _attempts(self, conn: aiosqlite.Connection, attempts: Sequence[Attempt]) -> None:
        if attempts:
            await conn.executemany(
                "INSERT INTO alert_attempts (delivery_id, alert_id, recipient, channel, attempt,"
                " started_at, finished_at, ok, error, receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(a.delivery_id, a.alert_id, a.recipient, a.channel, a.attempt, _iso(a.started_at),
                  _iso(a.finished_at), int(a.ok), a.error, a.receipt) for a in attempts],
            )

    async def finish_delivery(self, delivery: Delivery, *, status: str, channel: str | None,
                              receipt: str | None, attempts: Sequence[Attempt], now: datetime,
                              alert: Alert | None = None, audit: Sequence[AuditEntry] = ()) -> None:
        """Record a delivery's outcome, its attempts, and (optionally) the alert's new state."""

        async def op(conn: aiosqlite.Connection) -> None:
            await self._attempts(conn, attempts)
            await conn.execute(
                "UPDATE alert_deliveries SET status = ?, channel = ?, receipt = ?, updated_at = ?"
                " WHERE id = ?", (status, channel, receipt, _iso(now), delivery.id))
            if alert is not None:
                sets = ", ".join(f"{c} = ?" for c in _ALERT_COLUMNS[1:])
                await conn.execute(f"UPDATE alerts SET {sets} WHERE id = ?",
                                   (*_alert_values(alert)[1:], alert.id))
            await self._audit(conn, audit)

        await self._write(op)

    # -- reads --------------------------------------------------------------------------------

    async def get(self, alert_id: str) -> Alert | None:
        row = await self.db.fetchone("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return alert_from_row(row) if row else None

    async def by_origin(self, key: str, origin: str) -> Alert | None:
        """The alert that the raise `origin` (a rule run's action) made for `key`, if any."""
        row = await self.db.fetchone("SELECT * FROM alerts WHERE key = ? AND origin = ?", (key, origin))
        return alert_from_row(row) if row else None

    async def active(self) -> list[Alert]:
        """Every alert not yet resolved or cancelled, oldest first."""
        marks = ", ".join("?" * len(ACTIVE_STATES))
        rows = await self.db.fetchall(
            f"SELECT * FROM alerts WHERE state IN ({marks}) ORDER BY raised_at, occurrence, id",
            ACTIVE_STATES)
        return [alert_from_row(r) for r in rows]

    async def recent(self, limit: int = 50) -> list[Alert]:
        """The latest alerts whatever their state, newest first."""
        rows = await self.db.fetchall("SELECT * FROM alerts ORDER BY raised_at DESC, id DESC LIMIT ?",
                                      (limit,))
        return [alert_from_row(r) for r in rows]

    async def pending_deliveries(self) -> list[Delivery]:
        """Deliveries recorded but not finished: after a crash, these may or may not have gone out."""
        rows = await self.db.fetchall(
            "SELECT * FROM alert_deliveries WHERE status = ? ORDER BY id", (PENDING,))
        return [_delivery(r) for r in rows]

    async def deliveries(self, alert_id: str) -> list[Delivery]:
        rows = await self.db.fetchall(
            "SELECT * FROM alert_deliveries WHERE alert_id = ? ORDER BY id", (alert_id,))
        return [_delivery(r) for r in rows]

    async def paged(self, alert_id: str) -> list[str]:
        """Caregivers an alert reached (or may have reached), in the order they were paged."""
        rows = await self.db.fetchall(
            "SELECT recipient, MIN(id) AS first FROM alert_deliveries WHERE alert_id = ? AND kind = 'alert'"
            " AND status IN ('sent', 'pending', 'unknown') GROUP BY recipient ORDER BY first", (alert_id,))
        return [r["recipient"] for r in rows]

    async def attempts(self, alert_id: str) -> list[TimelineItem]:
        """Every delivery attempt for an alert, as timeline lines, in the order they were made."""
        rows = await self.db.fetchall(
            "SELECT a.*, d.kind, d.step FROM alert_attempts a JOIN alert_deliveries d"
            " ON d.id = a.delivery_id WHERE a.alert_id = ? ORDER BY a.id", (alert_id,))
        return [{"time": a["started_at"], "type": "attempt", "event": "attempt",
                 "user": a["recipient"], "channel": a["channel"], "kind": a["kind"],
                 "step": a["step"], "attempt": a["attempt"], "ok": bool(a["ok"]),
                 "error": a["error"], "receipt": a["receipt"], "finished": a["finished_at"]}
                for a in rows]

    async def timeline(self, alert_id: str) -> list[TimelineItem]:
        """Transitions and delivery attempts of one alert, in time order."""
        items: list[TimelineItem] = [
            {"time": row["time"], "type": "transition", "event": row["event"], "user": row["user"],
             "channel": row["channel"], "detail": row["detail"], "seq": row["seq"]}
            for row in reversed(await self.audit(alert_id=alert_id, limit=10_000))]
        items += await self.attempts(alert_id)
        # Stable sort: within one instant, transitions keep their audit order.
        items.sort(key=lambda i: i["time"])
        return items

    async def audit(self, *, alert_id: str | None = None, limit: int = 200,
                    before: int | None = None) -> list[AuditRow]:
        """Audit entries, newest first; `before` pages back by sequence number."""
        where: list[str] = []
        params: list[object] = []
        if alert_id is not None:
            where.append("alert_id = ?")
            params.append(alert_id)
        if before is not None:
            where.append("seq < ?")
            params.append(before)
        sql = "SELECT * FROM alert_audit" + (" WHERE " + " AND ".join(where) if where else "")
        rows = await self.db.fetchall(sql + " ORDER BY seq DESC LIMIT ?", (*params, limit))
        return [_audit_row(r) for r in rows]

    async def verify_audit(self) -> int | None:
        """Recompute the keyed chain; the seq of the first bad entry (0: the chain's start
        marker does not match the key), or None if intact. `huis audit verify` says more."""
        verdict = await verify(self.db, ALERTS, self._key)
        if verdict.ok:
            return None
        return verdict.bad if verdict.bad is not None else 0
