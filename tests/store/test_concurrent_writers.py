"""Every component writes at once while another connection holds the write lock: all of it lands.

The hub's components share one writer connection (controller/store.py); what they can still meet
is another process's lock. Short of the busy timeout they wait for it; beyond it, awaited writes
get the error back and the background writers keep their batch and retry with backoff.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sqlite3
from pathlib import Path

import pytest

from controller.alerts.store import AuditEntry
from controller.clock import VirtualClock
from tests.store.conftest import Components, LockHolder, committed, components

PASSWORD = "lang-genoeg-wachtwoord"


def _audit(clock: VirtualClock, n: int) -> list[AuditEntry]:
    return [AuditEntry(time=clock.now(), alert_id=f"a{n}", event="viewed", user="anna", detail=f"#{n}")]


def _start_writes(c: Components, clock: VirtualClock, tg: asyncio.TaskGroup) -> list[asyncio.Task[object]]:
    """Queue background rows and start awaited writes of every component, all at once."""
    c.hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True, "battery": 80})  # history: 3 rows
    c.engine.set_house("mode", "night")
    c.engine.set_latch("night|t0|bed_sensor", "night")
    writes: list[asyncio.Task[object]] = []
    for n in range(3):
        writes.append(tg.create_task(c.alerts.record_audit(_audit(clock, n)), name=f"alert-audit-{n}"))
    for name in ("anna", "piet"):
        writes.append(tg.create_task(c.auth.create_user(username=name, password=PASSWORD, role="caregiver"),
                                     name=f"account-{name}"))
    writes.append(tg.create_task(c.history.flush(), name="history-flush"))
    writes.append(tg.create_task(c.engine.flush(), name="engine-flush"))
    return writes


def _landed(c: Components) -> dict[str, int]:
    return {
        "history": committed(c.path, "SELECT count(*) FROM history"),
        "alert_audit": committed(c.path, "SELECT count(*) FROM alert_audit"),
        "accounts": committed(c.path, "SELECT count(*) FROM dashboard_users"),
        "engine": committed(c.path, "SELECT count(*) FROM engine_house")
        + committed(c.path, "SELECT count(*) FROM engine_latches"),
    }


NOTHING = {"history": 0, "alert_audit": 0, "accounts": 0, "engine": 0}
EVERYTHING = {"history": 3, "alert_audit": 3, "accounts": 2, "engine": 2}


async def test_every_component_waits_for_a_foreign_lock_and_every_write_lands(
        tmp_path: Path, clock: VirtualClock, loop_errors: list[dict[str, object]]) -> None:
    async with components(tmp_path / "huis.db", clock) as c, asyncio.TaskGroup() as tg:
        async with LockHolder(c.path) as holder:
            writes = _start_writes(c, clock, tg)
            # Let every write get as far as it can: the first into SQLite's busy wait, the
            # rest onto the hub's writer lock. None can finish while the holder holds on.
            for _ in range(50):
                await asyncio.sleep(0)
            # The writer waits in SQLite's busy handler; the others queue behind it in the hub.
            assert [w.get_name() for w in writes if w.done()] == []
            assert _landed(c) == NOTHING
            # Readers have connections of their own and are not held up by the lock.
            assert await c.auth.users() == []
            holder.release()
            results = await asyncio.gather(*writes)
        assert [type(r).__name__ for r in results] == ["NoneType"] * 3 + ["User"] * 2 + ["int", "NoneType"]
        assert _landed(c) == EVERYTHING
        assert await c.alerts.verify_audit() is None  # the three audit entries chain up
        assert c.db.health.failures == 0
    gc.collect()
    assert loop_errors == []


async def test_beyond_the_busy_timeout_background_writes_are_kept_retried_and_reported(
        tmp_path: Path, clock: VirtualClock, loop_errors: list[dict[str, object]],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    # A busy timeout far shorter than the hold: every attempt inside it fails.
    async with components(tmp_path / "huis.db", clock, busy_timeout=0.05) as c:
        writers = [asyncio.create_task(c.history.run(), name="history"),
                   asyncio.create_task(c.engine.run(), name="engine")]
        try:
            async with LockHolder(c.path) as holder:
                c.hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True, "battery": 80})
                c.engine.set_house("mode", "night")
                c.engine.set_latch("night|t0|bed_sensor", "night")
                await clock.wait_idle()  # both writers tried, failed, and now wait on the clock
                # An awaited write gets the error back from its own await, not from some task.
                with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                    await c.alerts.record_audit(_audit(clock, 0))
                assert _landed(c) == NOTHING
                health = c.db.health.as_dict()["components"]
                assert isinstance(health, dict)
                assert {name: (h["failures"] >= 1, h["pending"]) for name, h in health.items()
                        if name != "dashboard"} == {
                    "alerts": (True, 0), "history": (True, 3), "engine": (True, 2)}
                warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
                assert any(w.startswith("history: 3 rows from ") and "database is locked" in w
                           and "kept in memory, next try in 1 s" in w for w in warnings), warnings
                assert any(w.startswith("engine: 1 statements, 0 timers, 1 latches")
                           and "database is locked" in w for w in warnings), warnings
                # Still refused on the next tries, with the wait doubling each time.
                await clock.advance(seconds=3)
                assert _landed(c) == NOTHING
                holder.release()
            await clock.advance(seconds=60)  # the longest wait so far was 4 s: retried by now
            assert {k: v for k, v in _landed(c).items() if k != "alert_audit"} == {
                "history": 3, "accounts": 0, "engine": 2}
            assert c.history.pending == 0
            assert c.db.health.of("history").pending == 0 and c.db.health.of("engine").pending == 0
            assert any(r.getMessage().startswith("history: writing again after ") for r in caplog.records)
            assert any(r.getMessage().startswith("engine: writing again after ") for r in caplog.records)
            # The alert's caller may now try again, and it lands.
            await c.alerts.record_audit(_audit(clock, 0))
            assert committed(c.path, "SELECT count(*) FROM alert_audit") == 1
        finally:
            for task in writers:
                task.cancel()
            await asyncio.gather(*writers, return_exceptions=True)
    gc.collect()
    assert loop_errors == []


async def test_a_components_reader_can_never_write(tmp_path: Path, clock: VirtualClock) -> None:
    # What keeps the upgrade trap shut: a connection that reads never writes, so it never has
    # to turn a (possibly stale) read snapshot into a write lock, which WAL refuses at once.
    async with components(tmp_path / "huis.db", clock) as c:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            await c.db.fetchall("INSERT INTO dashboard_audit (time, action) VALUES ('now', 'x')")
        with pytest.raises(RuntimeError, match="a write transaction inside another one"):
            async with c.db.transaction():
                await c.history.db.execute("DELETE FROM history")
