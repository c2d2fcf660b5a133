from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from controller.clock import AcceleratedClock, VirtualClock


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
    await clock.settle()
    task.cancel()
    await clock.advance(minutes=2)
    assert task.cancelled()


def test_virtual_clock_needs_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2026, 1, 1))


def test_accelerated_clock_runs_faster_than_real_time() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    fast = AcceleratedClock(3600, start=start)
    assert fast.now() >= start
    with pytest.raises(ValueError):
        AcceleratedClock(0)
