"""A count of the alert service's work in progress, so a caller can wait until only the clock is left.

Every queued job and every running supervisor or delivery holds one count, and gives it back
while it waits for the clock; `settled()` returns once nothing holds one. Tests and the
benchmark use it to "inject, let the service settle, assert" on a virtual clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Work:
    """Jobs in progress, counted."""

    def __init__(self) -> None:
        self._busy = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    def acquire(self) -> None:
        """One more job in progress."""
        self._busy += 1
        self._quiet.clear()

    def release(self) -> None:
        """One job done (or waiting for the clock)."""
        self._busy -= 1
        if self._busy == 0:
            self._quiet.set()

    @asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        """Waiting for the clock or for someone else: not work in progress meanwhile."""
        self.release()
        try:
            yield
        finally:
            self.acquire()

    async def settled(self) -> None:
        """Wait until nothing is in progress except waiting for the clock."""
        while True:
            if self._busy == 0:
                # A task woken by an event resumes within a few loop turns; look again.
                for _ in range(5):
                    await asyncio.sleep(0)
                if self._busy == 0:
                    return
            await self._quiet.wait()
