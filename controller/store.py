"""The hub's SQLite file: WAL, synchronous FULL, per-component schemas and connections.

Components (rule engine timers and traces, alerts and their audit log, event history, the
dashboard's accounts) each declare their tables through `migrate`; nothing here knows what they
store. Each component opens its own connection to the one file: a transaction is then a
property of the connection, and one component's BEGIN can never swallow another's statements.
SQLite itself serialises the writers (WAL, busy timeout); readers never wait.

Every call to SQLite counts as work in flight for `controller/idle.py`: aiosqlite runs it on a
thread, and a virtual clock must not move time on while a write is still on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import aiosqlite

from controller import idle

_T = TypeVar("_T")


class _TrackedConnection(aiosqlite.Connection):
    """An aiosqlite connection whose every call is tracked as work in flight."""

    # `_execute` is aiosqlite's one door to its thread (connection and cursor methods all pass
    # through it). tests/controller/test_clock.py fails if a new aiosqlite version changes that.
    async def _execute(self, fn: Callable[..., _T], *args: object, **kwargs: object) -> _T:
        with idle.track():
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call,no-any-return]


def _open(path: str) -> aiosqlite.Connection:
    # What aiosqlite.connect does, with the tracked connection class.
    def connector() -> sqlite3.Connection:
        return sqlite3.connect(path, isolation_level=None)

    return _TrackedConnection(connector, iter_chunk_size=64)


class Database:
    """An open SQLite database. Use `async with Database.open(path) as db`."""

    def __init__(self, conn: aiosqlite.Connection, path: str) -> None:
        self.conn = conn
        self.path = path
        # Transactions on this connection, one at a time (several tasks may share it).
        self.lock = asyncio.Lock()

    @classmethod
    async def connect(cls, path: str | Path) -> Database:
        """Open (creating if needed) the database file at `path`."""
        p = str(path)
        if p != ":memory:":
            Path(p).parent.mkdir(parents=True, exist_ok=True)
        with idle.track():  # opening runs on the connection's thread too
            conn = await _open(p)
        conn.row_factory = aiosqlite.Row
        # WAL lets the dashboard read while the hub writes; FULL makes a committed alert survive
        # a power cut, which matters more here than write speed.
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=FULL")
        await conn.execute("PRAGMA foreign_keys=ON")
        # Another component's connection may hold the write lock for a moment: wait, don't fail.
        await conn.execute("PRAGMA busy_timeout=10000")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        return cls(conn, p)

    async def close(self) -> None:
        with idle.track():  # the last step (stopping the thread) bypasses `_execute`
            await self.conn.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def migrate(self, component: str, steps: Sequence[str]) -> None:
        """Apply the schema steps of `component` not applied yet; steps are append-only."""
        row = await self.fetchone("SELECT version FROM schema_version WHERE component = ?", (component,))
        done = row["version"] if row else 0
        for version, sql in enumerate(steps[done:], start=done + 1):
            async with self.transaction():
                for stmt in _split(sql):
                    await self.conn.execute(stmt)
                await self.conn.execute(
                    "INSERT INTO schema_version (component, version) VALUES (?, ?) "
                    "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                    (component, version),
                )

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error), one transaction at a time."""
        async with self.lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await self.conn.execute("ROLLBACK")
                raise
            await self.conn.execute("COMMIT")

    async def execute(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run one statement in its own transaction; returns lastrowid."""
        async with self.lock:
            cur = await self.conn.execute(sql, params)
            rowid = cur.lastrowid or 0
            await cur.close()
            return rowid

    async def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Run one statement for many rows in a single transaction."""
        async with self.transaction() as conn:
            await conn.executemany(sql, rows)

    async def fetchall(self, sql: str, params: Sequence[object] = ()) -> list[aiosqlite.Row]:
        async with self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Sequence[object] = ()) -> aiosqlite.Row | None:
        async with self.conn.execute(sql, params) as cur:
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
