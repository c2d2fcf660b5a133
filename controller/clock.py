"""The only place in huis that reads the wall clock or sleeps for real.

Everything that schedules goes through a `Clock`, so tests can run a full day in milliseconds
(`VirtualClock`) and the demo can run a night in minutes (`AcceleratedClock`).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from controller import idle


class Clock(Protocol):
    """Source of time and the way to wait for it."""

    def now(self) -> datetime:
        """Current time, timezone-aware (UTC)."""
        ...

    async def sleep_until(self, when: datetime) -> None:
        """Return once `now() >= when`."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


def monotonic() -> float:
    """Real monotonic seconds, for measuring latency (benchmarks, timeouts of real I/O)."""
    return time.perf_counter()


class RealClock:
    """Wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        while (delta := (when - self.now()).total_seconds()) > 0:  # noqa: ASYNC110 - this is the clock
            # Re-check after waking: the wall clock may have been adjusted meanwhile.
            await asyncio.sleep(min(delta, 60.0))

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class AcceleratedClock:
    """Time that runs `speed` times faster than real time: the demo home's clock.

    A tour guide can change the speed and jump forward (to show a night in the afternoon);
    every sleeper re-evaluates its deadline when that happens. Time never runs backwards.
    """

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        self._check(speed)
        self._speed = speed
        self._base = start or datetime.now(UTC)
        self._t0 = time.monotonic()
        self._changed = asyncio.Event()

    @staticmethod
    def _check(speed: float) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")

    @property
    def speed(self) -> float:
        """Simulated seconds per real second."""
        return self._speed

    def now(self) -> datetime:
        return self._base + timedelta(seconds=(time.monotonic() - self._t0) * self._speed)

    def set_speed(self, speed: float) -> None:
        """Run at `speed` from now on."""
        self._check(speed)
        self._rebase(self.now())
        self._speed = speed
        self._notify()

    def jump_to(self, when: datetime) -> None:
        """Move time forward to `when` at once (earlier times are ignored)."""
        if when > self.now():
            self._rebase(when)
            self._notify()

    def _rebase(self, at: datetime) -> None:
        self._base, self._t0 = at, time.monotonic()

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def sleep_until(self, when: datetime) -> None:
        while (delta := (when - self.now()).total_seconds()) > 0:
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delta / self._speed):
                    await changed.wait()

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self.now() + timedelta(seconds=seconds))


class VirtualClock:
    """Time that only moves when a test calls `advance`.

    Sleepers wake in deadline order, and after each wake-up the clock waits until the event loop
    is idle (`wait_idle`), so whatever a wake-up causes (timers, publishes to an in-memory link,
    rows written to SQLite) happens "at" that instant before time moves on.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start")
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (when, next(self._seq), fut))
        await fut

    async def sleep(self, seconds: float) -> None:
        await self.sleep_until(self._now + timedelta(seconds=seconds))

    @property
    def pending(self) -> int:
        """How many sleepers are waiting (cancelled ones included until they are reached)."""
        return sum(1 for *_, f in self._sleepers if not f.done())

    async def wait_idle(self) -> None:
        """Return once no task can run and no tracked work (SQL on aiosqlite's thread) is out.

        Time does not move meanwhile; see `controller/idle.py` for what "idle" can and cannot see.
        """
        await idle.wait_idle()

    async def settle(self, rounds: int = 50) -> None:
        """Let the loop turn `rounds` times: a fixed amount of scheduling (benchmarks).

        Tests want `wait_idle`, which waits exactly as long as needed.
        """
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(
        self,
        td: timedelta | None = None,
        *,
        hours: float = 0,
        minutes: float = 0,
        seconds: float = 0,
    ) -> None:
        """Move time forward, waking each sleeper at its own deadline on the way."""
        step = (td or timedelta()) + timedelta(hours=hours, minutes=minutes, seconds=seconds)
        await self.run_until(self._now + step)

    async def run_until(self, target: datetime) -> None:
        """Move time forward to `target`, waking sleepers in deadline order; returns when idle."""
        await self.wait_idle()
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, fut = heapq.heappop(self._sleepers)
            if fut.done():
                continue
            self._now = max(self._now, when)
            fut.set_result(None)
            await self.wait_idle()
        self._now = max(self._now, target)
        await self.wait_idle()
