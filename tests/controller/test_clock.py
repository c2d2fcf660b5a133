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
