"""Fixtures for the storage tests: the hub's components on one real SQLite file, and another
connection that holds the file's write lock the way another process would."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.alerts.store import AlertStore
from controller.clock import VirtualClock
from controller.config import parse_home
from controller.engine.store import EngineStore
from controller.history import History
from controller.hub import Hub
from controller.store import BUSY_TIMEOUT, Database
from controller.testing import MemoryLink
from controller.yamlfile import load_text
from dashboard.auth import Auth
from devices import KINDS
from huis.compose import build_hub

HOME = """
rooms:
  bedroom: {name: Slaapkamer, area: [0, 0, 100, 100]}
devices:
  bed_sensor: {kind: bed, room: bedroom}
resident: {pseudonym: Mevrouw Jansen}
"""


class LockHolder:
    """Another real SQLite connection, in a thread, holding BEGIN IMMEDIATE until released.

    This is what `huis user add` or a second process looks like to the hub: a writer it does
    not share a lock with, so only SQLite's busy handling stands between them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._held = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._hold, name="lock-holder")
        self.error: BaseException | None = None

    def _hold(self) -> None:
        try:
            with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as conn:
                conn.execute("BEGIN IMMEDIATE")
                # A write of its own, so the lock is really in use (and a snapshot moves on).
                conn.execute("CREATE TABLE IF NOT EXISTS lock_holder (n INTEGER)")
                conn.execute("INSERT INTO lock_holder VALUES (1)")
                self._held.set()
                self._release.wait(60)
                conn.execute("COMMIT")
        except BaseException as exc:  # reported by release()
            self.error = exc
            self._held.set()

    async def __aenter__(self) -> LockHolder:
        self._thread.start()
        await asyncio.to_thread(self._held.wait, 10)
        assert self.error is None and self._held.is_set()
        return self

    def release(self) -> None:
        self._release.set()
        self._thread.join(10)
        assert self.error is None, self.error
        assert not self._thread.is_alive()

    async def __aexit__(self, *exc: object) -> None:
        if self._thread.is_alive():
            await asyncio.to_thread(self.release)


def committed(path: Path, sql: str) -> int:
    """A count read through a plain connection of its own: what is on disk, not in memory."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        (n,) = conn.execute(sql).fetchone()
    return int(n)


@dataclass
class Components:
    """The hub's writers on one file, opened the way huis/compose.py opens them."""

    path: Path
    hub: Hub
    db: Database  # the dashboard's handle (the file's first)
    history: History
    alerts: AlertStore
    engine: EngineStore
    auth: Auth


@contextlib.asynccontextmanager
async def components(path: Path, clock: VirtualClock, *,
                     busy_timeout: float = BUSY_TIMEOUT) -> AsyncIterator[Components]:
    hub = build_hub(parse_home(load_text(HOME, "home.yaml"), KINDS), clock, MemoryLink())
    db = await Database.connect(path, component="dashboard", busy_timeout=busy_timeout)
    handles = [db]
    try:
        for name in ("history", "alerts", "engine"):
            handles.append(await db.for_component(name))
        history = History(handles[1], hub.bus, clock)
        await history.open()
        alerts = AlertStore(handles[2])
        await alerts.open()
        engine = EngineStore(handles[3], clock)
        await engine.migrate()
        auth = Auth(db, clock)
        await auth.ready()
        yield Components(path=path, hub=hub, db=db, history=history, alerts=alerts, engine=engine,
                         auth=auth)
    finally:
        for handle in reversed(handles):
            await handle.close()


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, object]]]:
    """What the loop's exception handler saw ('Task exception was never retrieved' and such)."""
    seen: list[dict[str, object]] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: seen.append(context))
    yield seen
    loop.set_exception_handler(previous)
