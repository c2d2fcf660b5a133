from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from controller import idle
from controller.clock import AcceleratedClock, VirtualClock
from controller.store import Database


async def test_virtual_clock_wakes_sleepers_in_deadline_order(clock: VirtualClock) -> None:
    start = clock.now()
    woke: list[tuple[str, datetime]] = []

    async def sleeper(name: str, minutes: int) -> None:
        await clock.sleep(minutes * 60)
        woke.append((name, clock.now()))

    async with asyncio.TaskGroup() as tg:
        tg.create_task(sleeper("late", 30))
        tg.create_task(sleeper("early", 10))
        await clock.advance(hours=1)

    assert woke == [("early", start + timedelta(minutes=10)), ("late", start + timedelta(minutes=30))]
    assert clock.now() == start + timedelta(hours=1)


async def test_virtual_clock_runs_a_day_of_minute_ticks(clock: VirtualClock) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await clock.sleep(60)
            ticks += 1

    task = asyncio.create_task(ticker())
    await clock.advance(hours=24)
    task.cancel()
    assert ticks == 24 * 60


async def test_virtual_clock_does_not_wake_before_deadline(clock: VirtualClock) -> None:
    done = asyncio.Event()

    async def sleeper() -> None:
        await clock.sleep(600)
        done.set()

    task = asyncio.create_task(sleeper())
    await clock.advance(minutes=9, seconds=59)
    assert not done.is_set()
    await clock.advance(seconds=1)
    assert done.is_set()
    await task


async def test_cancelled_sleeper_is_skipped(clock: VirtualClock) -> None:
    task = asyncio.create_task(clock.sleep(60))
    await clock.wait_idle()
    task.cancel()
    await clock.advance(minutes=2)
    assert task.cancelled()


async def test_wait_idle_waits_for_a_chain_of_tasks_each_starting_the_next(clock: VirtualClock) -> None:
    # Far longer than any fixed number of loop turns: each link yields a few times, then
    # starts the next link and ends.
    links = 300
    done: list[int] = []

    async def link(n: int, tg: asyncio.TaskGroup) -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        done.append(n)
        if n + 1 < links:
            tg.create_task(link(n + 1, tg))

    async with asyncio.TaskGroup() as tg:
        tg.create_task(link(0, tg))
        await clock.wait_idle()
        assert done == list(range(links))


def _count(path: Path) -> int:
    # Read with a connection of its own, not the writer's: the rows are committed, not queued.
    with contextlib.closing(sqlite3.connect(path)) as conn:
        (n,) = conn.execute("SELECT count(*) FROM t").fetchone()
    return int(n)


async def test_wait_idle_waits_for_a_real_sqlite_write(clock: VirtualClock, tmp_path: Path) -> None:
    path = tmp_path / "huis.db"
    go = asyncio.Event()
    async with await Database.connect(path) as db:
        await db.execute("CREATE TABLE t (n INTEGER, pad TEXT)")

        async def writer() -> None:
            await go.wait()
            # Long enough on SQLite's thread (many rows, then an fsync'ed commit) that the
            # loop has nothing to run for many turns meanwhile; then one more statement.
            await db.executemany("INSERT INTO t VALUES (?, ?)", ((i, "x" * 100) for i in range(20_000)))
            await db.execute("INSERT INTO t VALUES (-1, 'last')")

        async with asyncio.TaskGroup() as tg:
            tg.create_task(writer())
            await clock.wait_idle()
            assert _count(path) == 0
            go.set()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert idle.in_flight().count > 0  # aiosqlite's calls are tracked (see store.py)
            await clock.wait_idle()
            assert _count(path) == 20_001
            assert idle.in_flight().count == 0


async def test_two_tasks_waiting_for_idle_do_not_keep_each_other_busy(clock: VirtualClock) -> None:
    async with asyncio.TaskGroup() as tg:
        other = tg.create_task(clock.wait_idle())
        await clock.wait_idle()
    assert other.done()


async def test_wait_idle_waits_for_held_work_until_it_is_released(clock: VirtualClock) -> None:
    release = idle.in_flight().hold()  # e.g. a request whose answer has not come back yet
    waiting = asyncio.create_task(clock.wait_idle())
    for _ in range(100):
        await asyncio.sleep(0)
    assert not waiting.done()
    release()
    release()  # a second call changes nothing
    await waiting
    assert idle.in_flight().count == 0


async def test_advance_lets_a_wake_up_finish_before_time_moves_on(clock: VirtualClock, tmp_path: Path) -> None:
    start = clock.now()
    seen: list[tuple[str, datetime]] = []
    async with await Database.connect(tmp_path / "huis.db") as db:
        await db.execute("CREATE TABLE t (what TEXT)")

        async def record(what: str) -> None:
            # A wake-up's consequence that leaves the loop: a row written on SQLite's thread.
            await db.executemany("INSERT INTO t VALUES (?)", [(what,)] * 5_000)
            seen.append((f"{what} written", clock.now()))

        async def sleeper(name: str, minutes: int, tg: asyncio.TaskGroup) -> None:
            await clock.sleep(minutes * 60)
            seen.append((f"{name} woke", clock.now()))
            tg.create_task(record(name))

        async with asyncio.TaskGroup() as tg:
            tg.create_task(sleeper("late", 20, tg))
            tg.create_task(sleeper("early", 10, tg))
            tg.create_task(sleeper("also early", 10, tg))
            await clock.advance(hours=1)

    at10, at20 = start + timedelta(minutes=10), start + timedelta(minutes=20)
    assert seen == [("early woke", at10), ("early written", at10),
                    ("also early woke", at10), ("also early written", at10),
                    ("late woke", at20), ("late written", at20)]
    assert clock.now() == start + timedelta(hours=1)


def test_virtual_clock_needs_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2026, 1, 1))


def test_accelerated_clock_rejects_non_positive_speed() -> None:
    with pytest.raises(ValueError):
        AcceleratedClock(0)
    with pytest.raises(ValueError):
        AcceleratedClock(1).set_speed(-2)


async def test_accelerated_clock_sleeps_in_simulated_time() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fast = AcceleratedClock(100_000, start=start)
    await fast.sleep(3600)  # an hour of demo time: tens of real milliseconds
    assert fast.now() >= start + timedelta(hours=1)


async def test_jump_wakes_a_sleeper_whose_deadline_it_passes() -> None:
    start = datetime(2026, 1, 1, 14, 0, tzinfo=UTC)
    demo = AcceleratedClock(1, start=start)
    night = start + timedelta(hours=12)
    sleeper = asyncio.create_task(demo.sleep_until(night))
    await asyncio.sleep(0)
    demo.jump_to(night + timedelta(minutes=1))
    await asyncio.wait_for(sleeper, 5)  # would take 12 real hours without the jump
    assert demo.now() >= night


async def test_speeding_up_shortens_a_pending_sleep() -> None:
    demo = AcceleratedClock(1, start=datetime(2026, 1, 1, tzinfo=UTC))
    sleeper = asyncio.create_task(demo.sleep(600))  # ten real minutes at speed 1
    await asyncio.sleep(0)
    demo.set_speed(1_000_000)
    await asyncio.wait_for(sleeper, 5)
    assert demo.speed == 1_000_000


def test_jump_never_goes_back() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    demo = AcceleratedClock(1, start=start)
    demo.jump_to(start - timedelta(hours=1))
    assert demo.now() >= start
