"""The centre's PostgreSQL store: every message once, each alert's current state, the homes.

`Store.store_batch` writes a batch of parsed messages (and refused ones) in one transaction; the
ingest acknowledges them to JetStream only after it returns. A message delivered twice has the
same `(home, msg_id, at)` and is stored once (`ON CONFLICT DO NOTHING`); what it would change is
guarded so that applying it again changes nothing (an alert keeps the copy with the newest
`updated_at`, a home its newest heartbeat). The schema is central/schema.sql.

The queries are what the central dashboard shows: open alerts of a set of homes by urgency then
age, silent homes, a home's timeline, and the audit of commands.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from central import wire
from controller.alerts.model import ACTIVE_STATES, SEVERITIES

log = logging.getLogger(__name__)

SILENT_AFTER = timedelta(minutes=3)  # no heartbeat heard for this long: the hub is silent
Conn = psycopg.AsyncConnection[dict[str, Any]]

# Failures of the connection or the server (a restart, a network cut): retry the same batch.
# Anything else PostgreSQL refuses is about the data of one message.
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError)


@dataclass(frozen=True, slots=True, kw_only=True)
class Incoming:
    """One message fetched from the stream: parsed, or refused with why."""

    subject: str
    stream: str
    stream_seq: int
    payload: bytes
    message: wire.UpMessage | None = None
    reason: str | None = None  # why it was refused, when `message` is None


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResult:
    stored: int  # new messages
    duplicates: int  # already stored: delivered again
    rejected: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRow:
    """An alert as the centre knows it now, with its home's pseudonym and team."""

    home: str
    id: str
    key: str
    scenario: str
    severity: str
    state: str
    title: str
    message: str | None
    note: str | None
    raised_at: datetime
    updated_at: datetime
    occurrence: int
    previous_id: str | None
    repeats: int
    acknowledged_by: str | None
    acknowledged_via: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None
    unknown_at_home: bool
    pseudonym: str | None
    team: str | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeRow:
    id: str
    pseudonym: str | None
    team: str | None
    last_heartbeat: datetime | None  # the hub's clock
    heard_at: datetime | None  # the centre's clock
    heartbeat_seq: int | None
    active_alerts: int | None
    started_at: datetime | None
    last_seen: datetime | None
    link: str
    link_since: datetime | None
    presence: str | None
    mode: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEntry:
    at: datetime
    kind: str
    action: str | None
    alert_id: str | None
    received_at: datetime
    body: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandRow:
    msg_id: str
    home: str
    alert_id: str
    action: str
    by_user: str
    note: str | None
    at: datetime
    outcome: str
    detail: str | None


def schema_sql() -> str:
    return resources.files("central").joinpath("schema.sql").read_text(encoding="utf-8")


def month_of(t: datetime) -> datetime:
    """The first instant of `t`'s month in UTC: partitions are UTC months."""
    u = t.astimezone(UTC)
    return datetime(u.year, u.month, 1, tzinfo=UTC)


def next_month(m: datetime) -> datetime:
    return datetime(m.year + m.month // 12, m.month % 12 + 1, 1, tzinfo=UTC)


def partition_name(m: datetime) -> str:
    return f"events_y{m.year:04d}m{m.month:02d}"


class Store:
    """The centre's database through a small pool (the ingest and the dashboard share it)."""

    def __init__(self, pool: AsyncConnectionPool[Conn]) -> None:
        self.pool = pool
        self._partitions: set[datetime] = set()

    @classmethod
    @asynccontextmanager
    async def open(cls, dsn: str, *, size: int = 4, wait: float = 30.0) -> AsyncIterator[Store]:
        """A store on `dsn`; waits up to `wait` seconds for the database at start."""
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            dsn, min_size=1, max_size=size, open=False, kwargs={"row_factory": dict_row, "autocommit": False},
            check=AsyncConnectionPool.check_connection, name="huis-central", reconnect_timeout=0)
        await pool.open(wait=True, timeout=wait)
        try:
            yield cls(pool)
        finally:
            await pool.close()

    # -- schema -----------------------------------------------------------------------------------

    async def init(self, now: datetime) -> None:
        """Apply the schema (idempotent) and make this month's and next month's partitions."""
        async with self.pool.connection() as conn:
            # One session at a time applies it: two services starting together must not race.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('huis-central-schema'))")
            await conn.execute(schema_sql())  # type: ignore[arg-type]  # our own file, no parameters
            this = month_of(now)
            await self._ensure_partitions(conn, {this, next_month(this)})
        self._partitions |= {this, next_month(this)}

    async def ensure_ahead(self, now: datetime) -> None:
        """This month's and next month's partitions (the service calls it every half minute, so a
        month never starts without its partition; a no-op once they are there)."""
        months = {month_of(now), next_month(month_of(now))}
        if months <= self._partitions:
            return
        async with self.pool.connection() as conn, conn.transaction():
            await self._ensure_partitions(conn, months)
        self._partitions |= months

    async def _ensure_partitions(self, conn: Conn, months: Collection[datetime]) -> None:
        for m in sorted(months):
            if m in self._partitions:
                continue
            start, end = m.isoformat(), next_month(m).isoformat()
            await conn.execute(psycopg.sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ({}) TO ({})").format(
                    psycopg.sql.Identifier(partition_name(m)), psycopg.sql.Literal(start),
                    psycopg.sql.Literal(end)))

    async def partitions(self) -> list[str]:
        """The names of the events table's partitions, oldest first."""
        rows = await self._all("SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                               "WHERE i.inhparent = 'events'::regclass ORDER BY c.relname")
        return [r["name"] for r in rows]

    # -- writing ----------------------------------------------------------------------------------

    async def store_batch(self, batch: Sequence[Incoming], now: datetime) -> BatchResult:
        """Store `batch` in one transaction. Raises a TRANSIENT error when the database is away
        (nothing stored: try again); a message PostgreSQL refuses for its content lands in
        `rejected` instead of holding up the others."""
        try:
            return await self._store(batch, now)
        except TRANSIENT:
            raise
        except psycopg.Error as exc:
            log.warning("a batch of %d failed (%s); storing its messages one by one", len(batch), exc)
        stored = duplicates = rejected = 0
        for item in batch:
            try:
                r = await self._store([item], now)
            except TRANSIENT:
                raise
            except psycopg.Error as exc:
                refused = Incoming(subject=item.subject, stream=item.stream, stream_seq=item.stream_seq,
                                   payload=item.payload, reason=f"PostgreSQL refused it: {exc}")
                r = await self._store([refused], now)
            stored, duplicates, rejected = stored + r.stored, duplicates + r.duplicates, rejected + r.rejected
        return BatchResult(stored=stored, duplicates=duplicates, rejected=rejected)

    async def _store(self, batch: Sequence[Incoming], now: datetime) -> BatchResult:
        months = {month_of(i.message.at) for i in batch if i.message is not None}
        stored = duplicates = rejected = 0
        async with self.pool.connection() as conn, conn.transaction():
            await self._ensure_partitions(conn, months)
            for item in batch:
                if item.message is None:
                    rejected += await _reject(conn, item, now)
                elif await _insert_event(conn, item, item.message, now):
                    stored += 1
                    await _apply(conn, item.message, now)
                else:
                    duplicates += 1
        self._partitions |= months
        return BatchResult(stored=stored, duplicates=duplicates, rejected=rejected)

    async def sync_homes(self, teams: dict[str, str | None]) -> None:
        """Make a row for each configured home and set its team (home id -> team)."""
        async with self.pool.connection() as conn, conn.transaction():
            for home, team in sorted(teams.items()):
                await conn.execute("INSERT INTO homes (id, team) VALUES (%s, %s) "
                                   "ON CONFLICT (id) DO UPDATE SET team = EXCLUDED.team", (home, team))

    async def mark_silent(self, now: datetime, after: timedelta = SILENT_AFTER) -> list[str]:
        """Homes whose hub was up and has not been heard for `after`: now 'silent'. Returns them."""
        rows = await self._all(
            "UPDATE homes SET link = 'silent', link_since = %(now)s "
            "WHERE link <> 'silent' AND (heard_at IS NULL OR heard_at < %(since)s) "
            "AND (heard_at IS NOT NULL OR link = 'up') RETURNING id",
            {"now": now, "since": now - after}, write=True)
        return sorted(r["id"] for r in rows)

    async def record_command(self, row: CommandRow) -> None:
        """Write one command to the audit (a second write of the same msg_id updates its outcome)."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO commands (msg_id, home, alert_id, action, by_user, note, at, outcome, detail) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (msg_id) DO UPDATE "
                "SET outcome = EXCLUDED.outcome, detail = EXCLUDED.detail",
                (row.msg_id, row.home, row.alert_id, row.action, row.by_user, row.note, row.at,
                 row.outcome, row.detail))

    # -- reading ----------------------------------------------------------------------------------

    async def open_alerts(self, homes: Collection[str] | None = None) -> list[AlertRow]:
        """Open alerts of `homes` (None: all), most urgent first, then the oldest first."""
        rows = await self._all(
            f"SELECT {_ALERT_COLUMNS} FROM alerts a LEFT JOIN homes h ON h.id = a.home "
            "WHERE a.state = ANY(%(active)s) AND (%(all)s OR a.home = ANY(%(homes)s)) "
            "ORDER BY array_position(%(severities)s, a.severity), a.raised_at, a.home, a.id",
            {"active": list(ACTIVE_STATES), "all": homes is None, "homes": sorted(homes or ()),
             "severities": list(SEVERITIES)})
        return [AlertRow(**r) for r in rows]

    async def alert(self, home: str, alert_id: str) -> AlertRow | None:
        rows = await self._all(f"SELECT {_ALERT_COLUMNS} FROM alerts a LEFT JOIN homes h ON h.id = a.home "
                               "WHERE a.home = %s AND a.id = %s", (home, alert_id))
        return AlertRow(**rows[0]) if rows else None

    async def alerts_of(self, home: str, limit: int = 100) -> list[AlertRow]:
        """A home's alerts, open or not, newest change first."""
        rows = await self._all(f"SELECT {_ALERT_COLUMNS} FROM alerts a LEFT JOIN homes h ON h.id = a.home "
                               "WHERE a.home = %s ORDER BY a.updated_at DESC LIMIT %s", (home, limit))
        return [AlertRow(**r) for r in rows]

    async def homes(self, homes: Collection[str] | None = None) -> list[HomeRow]:
        rows = await self._all(f"SELECT {_HOME_COLUMNS} FROM homes WHERE %(all)s OR id = ANY(%(homes)s) ORDER BY id",
                               {"all": homes is None, "homes": sorted(homes or ())})
        return [HomeRow(**r) for r in rows]

    async def silent_homes(self, now: datetime, homes: Collection[str] | None = None,
                           after: timedelta = SILENT_AFTER) -> list[HomeRow]:
        """Homes of `homes` (None: all) whose hub has not been heard for `after`, longest silent first."""
        rows = await self._all(
            f"SELECT {_HOME_COLUMNS} FROM homes WHERE (%(all)s OR id = ANY(%(homes)s)) "
            "AND (heard_at IS NULL OR heard_at < %(since)s) ORDER BY heard_at NULLS FIRST, id",
            {"all": homes is None, "homes": sorted(homes or ()), "since": now - after})
        return [HomeRow(**r) for r in rows]

    async def timeline(self, home: str, *, limit: int = 200, before: datetime | None = None) -> list[TimelineEntry]:
        """A home's messages, newest first (`before`: older than that, for paging)."""
        rows = await self._all(
            "SELECT at, kind, action, alert_id, received_at, body FROM events WHERE home = %(home)s "
            "AND (%(before)s::timestamptz IS NULL OR at < %(before)s) "
            "ORDER BY at DESC, received_at DESC LIMIT %(limit)s",
            {"home": home, "before": before, "limit": limit})
        return [TimelineEntry(**r) for r in rows]

    async def commands_of(self, home: str, limit: int = 100) -> list[CommandRow]:
        """The audit of commands given to a home, newest first."""
        rows = await self._all("SELECT msg_id::text AS msg_id, home, alert_id, action, by_user, note, at, outcome, "
                               "detail FROM commands WHERE home = %s ORDER BY at DESC LIMIT %s", (home, limit))
        return [CommandRow(**r) for r in rows]

    async def count(self, table: str, home: str | None = None) -> int:
        """Rows in `table` (events, alerts, rejected, commands), of one home or all: tests and benchmarks."""
        if table not in ("events", "alerts", "rejected", "commands", "homes", "devices"):
            raise ValueError(f"no table {table!r}")
        where = psycopg.sql.SQL("") if home is None or table == "rejected" else psycopg.sql.SQL(
            " WHERE home = {}").format(psycopg.sql.Literal(home))
        rows = await self._all(psycopg.sql.SQL("SELECT count(*) AS n FROM {}{}").format(
            psycopg.sql.Identifier(table), where))
        return int(rows[0]["n"])

    async def _all(self, query: Any, params: Any = None, *, write: bool = False) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(query, params)
            rows = await cur.fetchall() if cur.description is not None else []
            if write:
                await conn.commit()
            return rows


_ALERT_COLUMNS = ", ".join(
    [f"a.{c}" for c in ("home", "id", "key", "scenario", "severity", "state", "title", "message", "note",
                        "raised_at", "updated_at", "occurrence", "previous_id", "repeats", "acknowledged_by",
                        "acknowledged_via", "acknowledged_at", "resolved_at", "resolution", "unknown_at_home")]
    + ["h.pseudonym", "h.team"])
_HOME_COLUMNS = ("id, pseudonym, team, last_heartbeat, heard_at, heartbeat_seq, active_alerts, started_at, "
                 "last_seen, link, link_since, presence, mode")


# -- one message's writes (inside the batch's transaction) -------------------------------------------


async def _reject(conn: Conn, item: Incoming, now: datetime) -> int:
    cur = await conn.execute(
        "INSERT INTO rejected (subject, stream, stream_seq, received_at, reason, payload) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT ON CONSTRAINT rejected_once DO NOTHING",
        (item.subject, item.stream, item.stream_seq, now, item.reason or "?", item.payload))
    return cur.rowcount


async def _insert_event(conn: Conn, item: Incoming, msg: wire.UpMessage, now: datetime) -> bool:
    """The message in `events`; False when it was there already (delivered twice)."""
    cur = await conn.execute(
        "INSERT INTO events (home, msg_id, at, kind, action, alert_id, received_at, stream_seq, body) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT ON CONSTRAINT events_once DO NOTHING",
        (msg.home, msg.msg_id, msg.at, msg.kind, getattr(msg, "action", None), wire.alert_of(msg), now,
         item.stream_seq, Jsonb(wire.body_of(msg))))
    return cur.rowcount == 1


async def _apply(conn: Conn, msg: wire.UpMessage, now: datetime) -> None:
    """What a new message changes besides the timeline."""
    await conn.execute(
        "INSERT INTO homes (id, pseudonym, last_seen) VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
        "pseudonym = COALESCE(EXCLUDED.pseudonym, homes.pseudonym), "
        "last_seen = GREATEST(homes.last_seen, EXCLUDED.last_seen)", (msg.home, msg.pseudonym, now))
    if isinstance(msg, wire.AlertMessage):
        await _upsert_alert(conn, msg.home, msg.alert, msg.msg_id)
    elif isinstance(msg, wire.SnapshotMessage):
        for a in msg.alerts:
            await _upsert_alert(conn, msg.home, a, msg.msg_id)
        # Active here, missing from the home's list at that moment: say so, do not close it.
        await conn.execute(
            "UPDATE alerts SET unknown_at_home = true WHERE home = %s AND state = ANY(%s) "
            "AND NOT (id = ANY(%s)) AND updated_at <= %s",
            (msg.home, list(ACTIVE_STATES), [a.id for a in msg.alerts], msg.at))
    elif isinstance(msg, wire.HeartbeatMessage):
        await conn.execute(
            "UPDATE homes SET last_heartbeat = %(at)s, heard_at = %(now)s, heartbeat_seq = %(seq)s, "
            "active_alerts = %(active)s, started_at = %(started)s, "
            "link_since = CASE WHEN link = 'up' THEN link_since ELSE %(now)s END, link = 'up' "
            "WHERE id = %(home)s AND (last_heartbeat IS NULL OR last_heartbeat < %(at)s)",
            {"at": msg.at, "now": now, "seq": msg.seq, "active": msg.active_alerts, "started": msg.started_at,
             "home": msg.home})
    elif isinstance(msg, wire.HouseMessage):
        await conn.execute(
            "UPDATE homes SET presence = COALESCE(%(presence)s, presence), mode = COALESCE(%(mode)s, mode), "
            "house_at = %(at)s WHERE id = %(home)s AND (house_at IS NULL OR house_at < %(at)s)",
            {"presence": msg.presence, "mode": msg.mode, "at": msg.at, "home": msg.home})
    elif isinstance(msg, wire.DeviceMessage):
        await conn.execute(
            "INSERT INTO devices (home, device, device_kind, room, health, detail, at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (home, device) DO UPDATE SET "
            "device_kind = EXCLUDED.device_kind, room = EXCLUDED.room, health = EXCLUDED.health, "
            "detail = EXCLUDED.detail, at = EXCLUDED.at WHERE devices.at < EXCLUDED.at",
            (msg.home, msg.device, msg.device_kind, msg.room, msg.health, msg.detail, msg.at))


_ALERT_FIELDS = ("key", "scenario", "severity", "state", "title", "message", "note", "raised_at", "updated_at",
                 "occurrence", "previous_id", "repeats", "acknowledged_by", "acknowledged_via",
                 "acknowledged_at", "resolved_at", "resolution")
_UPSERT_ALERT = (
    f"INSERT INTO alerts (home, id, msg_id, {', '.join(_ALERT_FIELDS)}) "
    f"VALUES (%(home)s, %(id)s, %(msg_id)s, {', '.join(f'%({f})s' for f in _ALERT_FIELDS)}) "
    "ON CONFLICT (home, id) DO UPDATE SET msg_id = EXCLUDED.msg_id, unknown_at_home = false, "
    + ", ".join(f"{f} = EXCLUDED.{f}" for f in _ALERT_FIELDS)
    # The newest copy wins; the same copy again (a snapshot) only clears unknown_at_home.
    + " WHERE alerts.updated_at < EXCLUDED.updated_at "
    "OR (alerts.updated_at = EXCLUDED.updated_at AND alerts.unknown_at_home)")


async def _upsert_alert(conn: Conn, home: str, alert: wire.WireAlert, msg_id: object) -> None:
    params: dict[str, object] = {f: getattr(alert, f) for f in _ALERT_FIELDS}
    params.update(home=home, id=alert.id, msg_id=msg_id)
    await conn.execute(_UPSERT_ALERT, params)  # type: ignore[arg-type]  # built from constants above

