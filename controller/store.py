"""The hub's SQLite file, and the one policy every component follows to write to it.

Components (rule engine timers and traces, alerts and their audit log, event history, the
dashboard's accounts) each declare their tables through `migrate`; nothing here knows what they
store. The policy (docs/storage.md says the same for operators):

- **WAL, synchronous FULL.** Readers never wait for the writer and the writer never waits for
  readers; a committed alert survives a power cut, which matters more here than write speed.
- **One writer path per process.** `Database.connect` opens the file's *writer* connection;
  `for_component` gives every further component a handle that shares it. All writes of the
  process go through that one connection, one transaction at a time (an asyncio lock), so the
  hub's own components never meet each other's lock inside SQLite. Other processes (`huis user
  add`, a test's lock holder, a second `connect` on the same file) are other writers; they are
  why the next two rules exist.
- **Every write transaction is BEGIN IMMEDIATE and short.** The write lock is taken up front,
  where SQLite's busy handler waits for it (`busy_timeout`, `BUSY_TIMEOUT` by default: far
  longer than our slowest transaction, a batch of at most `MAX_BATCH` rows). A *deferred*
  transaction, or a write on a connection that still holds a read snapshot (an open cursor),
  would instead have to upgrade a snapshot, and in WAL mode that fails at once with "database
  is locked" (SQLITE_BUSY_SNAPSHOT) whatever the busy timeout: the busy handler is not called
  for it. Batches are capped and long jobs (history pruning) go in chunks, so a caregiver's
  acknowledgement never queues behind a minute of housekeeping.
- **Reads on a connection of their own.** Each handle reads on its own connection, opened
  `query_only`: it can never write, so it can never hold a snapshot that a write would have to
  upgrade. (`:memory:` has no second connection; there reads share the writer, under its lock.)
- **No write in a fire-and-forget task.** A write is awaited by whoever needs it, and a failure
  reaches that caller. Components that write in the background (engine, history) keep a failed
  batch in memory, retry it with capped backoff on their clock, and log which component failed
  and what it is holding. Every handle counts its commits and failures in `StorageHealth`
  (shared by the file's handles), which the technician console shows.

Every call to SQLite counts as work in flight for `controller/idle.py`: aiosqlite runs it on a
thread, and a virtual clock must not move time on while a write is still on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import aiosqlite

from controller import idle

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# Seconds a BEGIN IMMEDIATE waits for another process's write lock before failing. Our own
# transactions are milliseconds (MAX_BATCH rows, one fsync); this only has to outlast a slow SD
# card under another process's transaction or a checkpoint.
BUSY_TIMEOUT = 30.0
# Rows a background writer commits per transaction (engine statements, history rows, pruning).
MAX_BATCH = 1000


def retryable(exc: sqlite3.Error) -> bool:
    """Whether trying the same write again may work: a lock, a full or failing disk, a
    read-only file. A constraint or a bad parameter fails the same way every time."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


@dataclass(slots=True)
class Backoff:
    """Capped exponential backoff for a background writer's retries (seconds on its clock)."""

    first: float = 1.0
    cap: float = 60.0
    failures: int = 0

    def next(self) -> float:
        """The wait before the next retry; each failure doubles it, up to `cap`."""
        self.failures += 1
        return min(self.cap, self.first * 2.0 ** min(self.failures - 1, 32))

    def reset(self) -> int:
        """A write went through: start from `first` again; returns the failures before it."""
        failures, self.failures = self.failures, 0
        return failures


class _TrackedConnection(aiosqlite.Connection):
    """An aiosqlite connection whose every call is tracked as work in flight."""

    # `_execute` is aiosqlite's one door to its thread (connection and cursor methods all pass
    # through it). tests/controller/test_clock.py fails if a new aiosqlite version changes that.
    async def _execute(self, fn: Callable[..., _T], *args: object, **kwargs: object) -> _T:
        with idle.track():
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call,no-any-return]


async def _open(path: str, *, busy_timeout: float, reader: bool) -> aiosqlite.Connection:
    # What aiosqlite.connect does, with the tracked connection class.
    def connector() -> sqlite3.Connection:
        return sqlite3.connect(path, isolation_level=None)

    with idle.track():  # opening runs on the connection's thread too
        conn = await _TrackedConnection(connector, iter_chunk_size=64)
    try:
        conn.row_factory = aiosqlite.Row
        # First of all: even switching to WAL may have to wait for another connection.
        await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        if reader:
            await conn.execute("PRAGMA query_only=ON")  # see the module docstring
        else:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=FULL")
            await conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        with idle.track():
            await conn.close()
        raise
    return conn


@dataclass(slots=True)
class ComponentHealth:
    """How one component's writes are going."""

    commits: int = 0
    failures: int = 0  # transactions that failed (each is retried or reported to its caller)
    pending: int = 0  # rows or statements held in memory for a retry
    lost: int = 0  # rows or statements given up (the hub stopped while the disk refused them)
    last_error: str | None = None


@dataclass(slots=True)
class StorageHealth:
    """Commits and failures per component, for the technician console."""

    path: str
    components: dict[str, ComponentHealth] = field(default_factory=dict)

    def of(self, component: str) -> ComponentHealth:
        found = self.components.get(component)
        if found is None:
            found = self.components[component] = ComponentHealth()
        return found

    @property
    def failures(self) -> int:
        return sum(c.failures for c in self.components.values())

    def as_dict(self) -> dict[str, object]:
        return {"path": self.path, "failures": self.failures,
                "components": {name: asdict(c) for name, c in sorted(self.components.items())}}


class _Writer:
    """The file's one writer connection, shared by every handle of this process that has it."""

    def __init__(self, conn: aiosqlite.Connection, path: str, busy_timeout: float) -> None:
        self.conn = conn
        self.path = path
        self.busy_timeout = busy_timeout
        self.health = StorageHealth(path)
        self.lock = asyncio.Lock()
        self.owner: asyncio.Task[object] | None = None  # the task inside a transaction
        self.handles = 0


class Database:
    """A component's handle on the hub's SQLite file: writes through the file's one writer,
    reads on a connection of its own. Use `async with await Database.connect(path) as db`."""

    def __init__(self, writer: _Writer, reader: aiosqlite.Connection | None, component: str) -> None:
        self._writer = writer
        self._reader = reader
        self.path = writer.path
        self.component = component
        writer.handles += 1
        self._closed = False

    @classmethod
    async def connect(cls, path: str | Path, *, component: str = "hub",
                      busy_timeout: float = BUSY_TIMEOUT) -> Database:
        """Open (creating if needed) the database file at `path`: its writer and a first handle.

        Give further components of the same process `for_component` handles, not another
        `connect`: that would be a second writer, correct but contending (see the docstring).
        """
        p = str(path)
        if p != ":memory:":
            Path(p).parent.mkdir(parents=True, exist_ok=True)
            # Care data and password hashes: a new file is the hub user's alone (0600); SQLite
            # gives its -wal and -shm files the same mode.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = await _open(p, busy_timeout=busy_timeout, reader=False)
        writer = _Writer(conn, p, busy_timeout)
        db: Database | None = None
        try:
            db = await cls._attach(writer, component)
            async with db.transaction() as tx:
                await tx.execute("CREATE TABLE IF NOT EXISTS schema_version "
                                 "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        except BaseException:
            if db is not None:
                await db.close()
            else:
                with idle.track():
                    await conn.close()
            raise
        return db

    @classmethod
    async def _attach(cls, writer: _Writer, component: str) -> Database:
        reader = None
        if writer.path != ":memory:":
            reader = await _open(writer.path, busy_timeout=writer.busy_timeout, reader=True)
        return cls(writer, reader, component)

    async def for_component(self, component: str) -> Database:
        """Another component's handle on this file: the same writer, a reader of its own."""
        return await self._attach(self._writer, component)

    @property
    def writing(self) -> bool:
        """Whether a write transaction on this file's writer is open or waiting for the lock."""
        return self._writer.lock.locked()

    @property
    def health(self) -> StorageHealth:
        """Commits and failures of every handle on this writer."""
        return self._writer.health

    async def close(self) -> None:
        """Close this handle's reader; the writer closes with the last handle."""
        if self._closed:
            return
        self._closed = True
        # The last step of a close (stopping the thread) bypasses `_execute`: track it here.
        if self._reader is not None:
            with idle.track():
                await self._reader.close()
        self._writer.handles -= 1
        if self._writer.handles == 0:
            async with self._writer.lock:
                with idle.track():
                    await self._writer.conn.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def migrate(self, component: str, steps: Sequence[str]) -> None:
        """Apply the schema steps of `component` not applied yet; steps are append-only.

        One transaction for all of it, the version read inside: two processes starting on one
        file cannot both apply a step.
        """
        async with self.transaction() as conn:
            async with conn.execute("SELECT version FROM schema_version WHERE component = ?",
                                    (component,)) as cur:
                row = await cur.fetchone()
            done = row["version"] if row else 0
            for version, sql in enumerate(steps[done:], start=done + 1):
                for stmt in _split(sql):
                    await conn.execute(stmt)
                await conn.execute(
                    "INSERT INTO schema_version (component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, version),
                )

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on the writer, one at a time.

        Use only the connection it yields inside (reads included: they see the transaction's
        own writes); another write through any handle of this file from the same task would
        wait for itself, so it raises RuntimeError instead.
        """
        w = self._writer
        me = asyncio.current_task()
        if w.owner is not None and w.owner is me:
            raise RuntimeError(f"{self.component}: a write transaction inside another one")
        async with w.lock:
            w.owner = me
            try:
                await self._run_transaction_start()
                try:
                    yield w.conn
                    await w.conn.execute("COMMIT")
                except BaseException as exc:
                    # Also after a cancellation: the ROLLBACK is queued behind whatever SQLite is
                    # still doing for us, so the writer is clean before the next BEGIN.
                    with contextlib.suppress(sqlite3.Error):
                        await w.conn.execute("ROLLBACK")
                    if isinstance(exc, sqlite3.Error) and retryable(exc):
                        self._failed(exc)
                    raise
                self.health.of(self.component).commits += 1
            finally:
                w.owner = None

    async def _run_transaction_start(self) -> None:
        w = self._writer
        try:
            await w.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._failed(exc)
            raise
        except BaseException:
            # Cancelled while SQLite waited for the lock: the BEGIN may still succeed.
            with contextlib.suppress(sqlite3.Error):
                await w.conn.execute("ROLLBACK")
            raise

    def _failed(self, exc: sqlite3.Error) -> None:
        h = self.health.of(self.component)
        h.failures += 1
        h.last_error = f"{type(exc).__name__}: {exc}"

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement in its own transaction; returns lastrowid."""
        async with self.transaction() as conn:
            cur = await conn.execute(sql, params)
            rowid = cur.lastrowid or 0
            await cur.close()
            return rowid

    async def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Run one statement for many rows in a single transaction."""
        async with self.transaction() as conn:
            await conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[aiosqlite.Row]:
        """Rows of a query, read on this handle's reader (committed data only)."""
        if self._reader is not None:
            return await _fetchall(self._reader, sql, params)
        async with self._memory_read() as conn:
            return await _fetchall(conn, sql, params)

    async def fetchone(self, sql: str, params: Sequence[object] = ()) -> aiosqlite.Row | None:
        """The first row of a query (committed data only)."""
        if self._reader is not None:
            return await _fetchone(self._reader, sql, params)
        async with self._memory_read() as conn:
            return await _fetchone(conn, sql, params)

    @contextlib.asynccontextmanager
    async def _memory_read(self) -> AsyncIterator[aiosqlite.Connection]:
        # `:memory:` has one connection: read between transactions, or inside our own.
        w = self._writer
        if w.owner is not None and w.owner is asyncio.current_task():
            yield w.conn
            return
        async with w.lock:
            yield w.conn


async def _fetchall(conn: aiosqlite.Connection, sql: str, params: Sequence[object]) -> list[aiosqlite.Row]:
    async with conn.execute(sql, params) as cur:
        return list(await cur.fetchall())


async def _fetchone(conn: aiosqlite.Connection, sql: str, params: Sequence[object]) -> aiosqlite.Row | None:
    async with conn.execute(sql, params) as cur:
        row: aiosqlite.Row | None = await cur.fetchone()
        return row


def _split(sql: str) -> list[str]:
    # Statement by statement, keeping the ';' inside trigger bodies where it belongs.
    out, current = [], ""
    for piece in sql.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n\t;"):
                out.append(current.strip())
            current = ""
    if current.strip(" \n\t;"):
        out.append(current.strip())
    return out
