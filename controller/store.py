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
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

import aiosqlite

from controller import held, idle

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# Seconds a BEGIN IMMEDIATE waits for another process's write lock before failing. Our own
# transactions are milliseconds (MAX_BATCH rows, one fsync); this only has to outlast a slow SD
# card under another process's transaction or a checkpoint.
BUSY_TIMEOUT = 30.0
# Rows a background writer commits per transaction (engine statements, history rows, pruning).
MAX_BATCH = 1000


# SQLite's primary result codes that mean the disk, not the statement: full, failing, read-only,
# or the file gone (https://sqlite.org/rescode.html).
_DISK_CODES = {8: "read-only", 10: "disk I/O error", 13: "disk full", 14: "cannot open the file"}


def disk_fault(exc: BaseException) -> str | None:
    """What is wrong with the disk, if `exc` says the disk (not a lock, not the statement) failed."""
    code = getattr(exc, "sqlite_errorcode", None)
    return _DISK_CODES.get(code & 0xFF) if isinstance(exc, sqlite3.Error) and isinstance(code, int) else None


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
            # A reader's page cache holds at most 512 KiB (the writer keeps SQLite's 2 MiB): six
            # connections each filling 2 MiB over a month would be a fifth of the hub's memory,
            # and the operating system caches the file for all of them anyway.
            await conn.execute("PRAGMA cache_size=-512")
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
    dropped: int = 0  # of those, dropped while running because the bound in memory was reached
    last_error: str | None = None


@dataclass(slots=True)
class HeldHealth:
    """The file's writer held in memory because the disk refused writes (see controller/held.py)."""

    reason: str  # 'disk full', 'read-only', 'disk I/O error', ...
    error: str
    copied_rows: int = 0
    from_file: bool = True  # False: the file could not be read; memory started empty
    changes: int = 0  # rows changed in memory, to be written back
    write_back_tries: int = 0


@dataclass(slots=True)
class StorageHealth:
    """Commits and failures per component, for the technician console."""

    path: str
    components: dict[str, ComponentHealth] = field(default_factory=dict)
    held: HeldHealth | None = None  # None: writing to the file
    write_backs: int = 0  # times the file took back what was held
    last_write_back_rows: int = 0

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
                "mode": "memory" if self.held is not None else "file",
                "held": asdict(self.held) if self.held is not None else None,
                "write_backs": self.write_backs, "last_write_back_rows": self.last_write_back_rows,
                "components": {name: asdict(c) for name, c in sorted(self.components.items())}}


class _Writer:
    """The file's one writer connection, shared by every handle of this process that has it.

    Also the held mode (controller/held.py): once the disk refuses a write, the handles that hold
    in memory write to an in-memory copy until `write_back` gives the file what changed.
    """

    def __init__(self, conn: aiosqlite.Connection | None, path: str, busy_timeout: float) -> None:
        self.conn = conn  # None while the file cannot be opened (read-only at start-up)
        self.path = path
        self.busy_timeout = busy_timeout
        self.health = StorageHealth(path)
        self.lock = asyncio.Lock()
        self.owner: asyncio.Task[object] | None = None  # the task inside a transaction
        self.handles = 0
        self.fault: tuple[str, str] | None = None  # (what, the error) until the file takes writes
        self.memory: aiosqlite.Connection | None = None
        self.skip_rows: set[str] = set()  # tables whose component holds its own rows
        self.faulted = asyncio.Event()
        self.written_back = asyncio.Event()

    def mark_fault(self, what: str, exc: BaseException) -> None:
        if self.fault is None and self.path != ":memory:":
            self.fault = (what, f"{type(exc).__name__}: {exc}")
            self.written_back = asyncio.Event()
            self.faulted.set()

    async def hold(self) -> aiosqlite.Connection:
        """The in-memory copy, made now if there is none (call with the lock held)."""
        if self.memory is not None:
            return self.memory
        assert self.fault is not None
        copied: list[held.Copied] = []
        path, skip = self.path, set(self.skip_rows)

        def connector() -> sqlite3.Connection:
            conn, what = held.copy_of(path, skip)
            copied.append(what)
            return conn

        with idle.track():
            memory = await _TrackedConnection(connector, iter_chunk_size=64)
        memory.row_factory = aiosqlite.Row
        self.memory = memory
        what = copied[0]
        self.health.held = HeldHealth(reason=self.fault[0], error=self.fault[1], copied_rows=what.rows,
                                      from_file=what.from_file)
        log.error("storage: %s refuses writes (%s). Holding the hub's data in memory (%d rows copied%s) "
                  "and trying the file again; alerts go on.", self.path, self.fault[1], what.rows,
                  "" if what.from_file else "; the file could not be read, memory started empty")
        return memory

    async def write_back(self) -> int:
        """Give the file what was held (call with the lock held); raises sqlite3.Error while it
        still refuses. Returns the rows written."""
        if self.health.held is not None:
            self.health.held.write_back_tries += 1
        fresh = await _open(self.path, busy_timeout=self.busy_timeout, reader=False)
        try:
            if self.memory is not None:
                memory = self.memory
                rows = await _on_thread(memory, held.write_back, self.path, self.busy_timeout)
            else:  # nothing held: a write of the file's header says whether it takes writes
                rows = 0
                await fresh.execute("BEGIN IMMEDIATE")
                await fresh.execute("PRAGMA user_version=0")
                await fresh.execute("COMMIT")
        except BaseException:
            with idle.track():
                await fresh.close()
            raise
        old, self.conn = self.conn, fresh
        if old is not None:
            with contextlib.suppress(sqlite3.Error, ValueError), idle.track():
                await old.close()
        await self._drop_memory()
        self.fault = None
        self.faulted.clear()
        self.written_back.set()
        self.health.held = None
        self.health.write_backs += 1
        self.health.last_write_back_rows = rows
        return rows

    async def held_changes(self) -> int:
        """Rows changed in memory and not yet written back (0 when nothing is held)."""
        if self.memory is None:
            return 0
        n = await _on_thread(self.memory, held.changes)
        if self.health.held is not None:
            self.health.held.changes = n
        return n

    async def _drop_memory(self) -> None:
        memory, self.memory = self.memory, None
        if memory is not None:
            with idle.track():
                await memory.close()

    async def close(self) -> None:
        """Close the file (after one last try to write back what is held)."""
        async with self.lock:
            if self.fault is not None and self.memory is not None:
                try:
                    rows = await self.write_back()
                    log.warning("storage: %d rows held in memory written back at shutdown", rows)
                except sqlite3.Error as exc:
                    lost = await self.held_changes()
                    log.error("storage: %d changed rows held in memory are lost at shutdown: %s still "
                              "refuses writes (%s)", lost, self.path, exc)
                    await self._drop_memory()
            if self.conn is not None:
                with contextlib.suppress(sqlite3.Error, ValueError), idle.track():
                    await self.conn.close()


class Database:
    """A component's handle on the hub's SQLite file: writes through the file's one writer,
    reads on a connection of its own. Use `async with await Database.connect(path) as db`."""

    def __init__(self, writer: _Writer, reader: aiosqlite.Connection | None, component: str) -> None:
        self._writer = writer
        self._reader = reader
        self.path = writer.path
        self.component = component
        # Whether this handle's writes go to memory while the disk refuses them (see `own_holding`).
        self.holds = True
        writer.handles += 1
        self._closed = False

    @classmethod
    async def connect(cls, path: str | Path, *, component: str = "hub",
                      busy_timeout: float = BUSY_TIMEOUT) -> Database:
        """Open (creating if needed) the database file at `path`: its writer and a first handle.

        Give further components of the same process `for_component` handles, not another
        `connect`: that would be a second writer, correct but contending (see the docstring).
        A file the disk will not let us open for writing (read-only) is held in memory from the
        start, copied from the file if it can be read (see `fault`).
        """
        p = str(path)
        conn: aiosqlite.Connection | None = None
        fault: sqlite3.Error | None = None
        try:
            if p != ":memory:":
                Path(p).parent.mkdir(parents=True, exist_ok=True)
                # Care data and password hashes: a new file is the hub user's alone (0600); SQLite
                # gives its -wal and -shm files the same mode.
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            conn = await _open(p, busy_timeout=busy_timeout, reader=False)
        except (sqlite3.Error, OSError) as exc:
            fault = exc if isinstance(exc, sqlite3.Error) else sqlite3.OperationalError(str(exc))
            if not disk_fault(fault) and not isinstance(exc, OSError):
                raise
        writer = _Writer(conn, p, busy_timeout)
        if fault is not None:
            writer.mark_fault(_read_only(p) or disk_fault(fault) or "cannot open the file", fault)
        db: Database | None = None
        try:
            db = await cls._attach(writer, component)
            await db.run_write(_schema_version, hold=True)
        except BaseException:
            if db is not None:
                await db.close()
            else:
                await writer.close()
            raise
        return db

    @classmethod
    async def _attach(cls, writer: _Writer, component: str) -> Database:
        reader = None
        if writer.path != ":memory:":
            try:
                reader = await _open(writer.path, busy_timeout=writer.busy_timeout, reader=True)
            except sqlite3.Error:
                if writer.fault is None:
                    raise
                # Read-only at start-up with no WAL index left: reads go to memory meanwhile.
        return cls(writer, reader, component)

    async def for_component(self, component: str) -> Database:
        """Another component's handle on this file: the same writer, a reader of its own."""
        return await self._attach(self._writer, component)

    def own_holding(self, *tables: str) -> None:
        """This handle's component keeps what the disk refuses itself (the history's bounded
        list), and reads only from the file: its writes are never moved to memory, and
        `tables`' rows are not copied there."""
        self.holds = False
        self._writer.skip_rows.update(tables)

    @property
    def writing(self) -> bool:
        """Whether a write transaction on this file's writer is open or waiting for the lock."""
        return self._writer.lock.locked()

    @property
    def health(self) -> StorageHealth:
        """Commits and failures of every handle on this writer."""
        return self._writer.health

    @property
    def fault(self) -> tuple[str, str] | None:
        """What the disk refused ('disk full', the error), until the file takes writes again."""
        return self._writer.fault

    async def until_faulted(self) -> tuple[str, str]:
        """Wait until the disk refuses a write (at once if it does now); what it refused."""
        while self._writer.fault is None:
            await self._writer.faulted.wait()
        return self._writer.fault

    async def until_written_back(self) -> None:
        """Wait until a disk fault is over and what was held is written back (never returns
        while there is no fault: a lock is not a disk fault)."""
        w = self._writer
        if w.fault is None:
            await asyncio.get_running_loop().create_future()  # until cancelled
        await w.written_back.wait()

    async def write_back(self) -> int:
        """Try the file again: write back what was held in memory; rows written. Raises
        sqlite3.Error while the disk still refuses (nothing changes then)."""
        async with self._writer.lock:
            if self._writer.fault is None:
                return 0
            return await self._writer.write_back()

    async def held_changes(self) -> int:
        """Rows changed in memory, waiting to be written back."""
        async with self._writer.lock:
            return await self._writer.held_changes()

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
            await self._writer.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def migrate(self, component: str, steps: Sequence[str]) -> None:
        """Apply the schema steps of `component` not applied yet; steps are append-only.

        One transaction for all of it, the version read inside: two processes starting on one
        file cannot both apply a step. While the disk refuses writes, in memory (every handle).
        """
        async def body(conn: aiosqlite.Connection) -> None:
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
            if self._writer.memory is conn and done < len(steps):
                await _on_thread(conn, held.track)  # new tables: note their rows too

        await self.run_write(body, hold=True)

    @contextlib.asynccontextmanager
    async def transaction(self, *, hold: bool | None = None) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on the writer, one at a time.

        Use only the connection it yields inside (reads included: they see the transaction's
        own writes); another write through any handle of this file from the same task would
        wait for itself, so it raises RuntimeError instead. While the disk refuses writes, the
        transaction of a handle that holds in memory (`hold`, default `self.holds`) runs there.
        """
        w = self._writer
        me = asyncio.current_task()
        if w.owner is not None and w.owner is me:
            raise RuntimeError(f"{self.component}: a write transaction inside another one")
        async with w.lock:
            w.owner = me
            try:
                conn = await self._connection(self.holds if hold is None else hold)
                await self._run_transaction_start(conn)
                try:
                    yield conn
                    await conn.execute("COMMIT")
                except BaseException as exc:
                    # Also after a cancellation: the ROLLBACK is queued behind whatever SQLite is
                    # still doing for us, so the writer is clean before the next BEGIN.
                    with contextlib.suppress(sqlite3.Error):
                        await conn.execute("ROLLBACK")
                    if isinstance(exc, sqlite3.Error) and retryable(exc):
                        self._failed(exc)
                    raise
                self.health.of(self.component).commits += 1
            finally:
                w.owner = None

    async def _connection(self, hold: bool) -> aiosqlite.Connection:
        w = self._writer
        if hold and w.fault is not None:
            return await w.hold()
        if w.conn is None:
            error = sqlite3.OperationalError(f"{w.path} cannot be written ({w.fault[1] if w.fault else 'closed'})")
            self._failed(error)
            raise error
        return w.conn

    async def _run_transaction_start(self, conn: aiosqlite.Connection) -> None:
        try:
            await conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._failed(exc)
            raise
        except BaseException:
            # Cancelled while SQLite waited for the lock: the BEGIN may still succeed.
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")
            raise

    def _failed(self, exc: sqlite3.Error) -> None:
        h = self.health.of(self.component)
        h.failures += 1
        h.last_error = f"{type(exc).__name__}: {exc}"
        if (what := disk_fault(exc)) is not None:
            self._writer.mark_fault(what, exc)

    async def run_write(self, body: Callable[[aiosqlite.Connection], Awaitable[_T]], *,
                        hold: bool | None = None) -> _T:
        """`body` in one transaction; if the disk refuses it and this handle holds in memory
        (`hold`, default `self.holds`), `body` runs once more, in memory (it must be safe to run
        again after a rollback)."""
        holds = self.holds if hold is None else hold
        try:
            async with self.transaction(hold=holds) as conn:
                return await body(conn)
        except sqlite3.Error as exc:
            if not holds or disk_fault(exc) is None or self._writer.memory is not None:
                raise
        async with self.transaction(hold=holds) as conn:
            return await body(conn)

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement in its own transaction; returns lastrowid."""
        async def body(conn: aiosqlite.Connection) -> int:
            cur = await conn.execute(sql, params)
            rowid = cur.lastrowid or 0
            await cur.close()
            return rowid

        return await self.run_write(body)

    async def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Run one statement for many rows in a single transaction."""
        batch = list(rows)

        async def body(conn: aiosqlite.Connection) -> None:
            await conn.executemany(sql, batch)

        await self.run_write(body)

    async def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[aiosqlite.Row]:
        """Rows of a query, read on this handle's reader (committed data only)."""
        if (reader := self._read_connection()) is not None:
            try:
                return await _fetchall(reader, sql, params)
            except sqlite3.Error as exc:
                if self._writer.memory is None or disk_fault(exc) is None:
                    raise
                # A file that cannot even be read (read-only, no WAL index): memory meanwhile.
        async with self._memory_read() as conn:
            return await _fetchall(conn, sql, params)

    async def fetchone(self, sql: str, params: Sequence[object] = ()) -> aiosqlite.Row | None:
        """The first row of a query (committed data only)."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    def _read_connection(self) -> aiosqlite.Connection | None:
        # While held, a handle that holds in memory reads there, so it sees its own writes.
        if self.holds and self._writer.memory is not None:
            return None
        return self._reader

    @contextlib.asynccontextmanager
    async def _memory_read(self) -> AsyncIterator[aiosqlite.Connection]:
        # One connection for reads and writes (`:memory:`, or held in memory): read between
        # transactions, or inside our own.
        w = self._writer
        if w.owner is not None and w.owner is asyncio.current_task():
            yield w.memory or w.conn  # type: ignore[misc]
            return
        async with w.lock:
            conn = w.memory if w.memory is not None and (self.holds or w.conn is None) else w.conn
            if conn is None:
                raise sqlite3.OperationalError(f"{w.path} cannot be read ({w.fault[1] if w.fault else 'closed'})")
            yield conn


def _read_only(path: str) -> str | None:
    """'read-only' if the file's filesystem is mounted read-only (SQLite only says it cannot open it)."""
    try:
        return "read-only" if os.statvfs(Path(path).parent).f_flag & os.ST_RDONLY else None
    except OSError:
        return None


async def _schema_version(conn: aiosqlite.Connection) -> None:
    await conn.execute("CREATE TABLE IF NOT EXISTS schema_version "
                       "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)")


async def first_of(*waits: Coroutine[object, object, object]) -> None:
    """Wait until the first of `waits` is done; the others are cancelled (and awaited)."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _on_thread(conn: aiosqlite.Connection, fn: Callable[..., _T], *args: object) -> _T:
    """`fn(the sqlite3 connection, *args)` on `conn`'s own thread (aiosqlite has no public door)."""
    result: _T = await conn._execute(fn, conn._conn, *args)  # type: ignore[no-untyped-call]
    return result


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
