"""When the event loop is really idle: no task can run and no tracked work is still out.

A virtual clock may only move time on once whatever the last instant caused has happened (Trio's
scheduler knows this and offers `wait_all_tasks_blocked`; asyncio has no such hook). Two things
make an asyncio loop look idle while it is not:

- Work handed elsewhere. aiosqlite runs every statement on its connection's thread and wakes
  the awaiting task with `call_soon_threadsafe`: while the SQL runs, no task is runnable and
  nothing is queued, yet a task will resume soon. Code that hands work away says so with
  `track()` around the `await` (`controller/store.py` does it for every aiosqlite call), or
  `hold()` when start and end are in different places. A piece of work counts from before it is
  handed over until the awaiting task has resumed, so there is no gap between "the thread is
  done" and "the task's follow-up is queued".
- Callbacks the loop will run on its next turns: task steps, `call_soon`, timers that are due,
  sockets that are readable. asyncio keeps these in its ready queue (`loop._ready`, a private
  attribute of CPython's base loop: there is no public way to ask). `wait_idle` yields and looks
  at that queue until it is empty on `QUIET_TURNS` turns in a row: the extra turn lets the loop
  poll its selector and move due timers, so work already waiting there is seen too.

What this does not see unless someone tracks it: sockets still waiting for an answer (a broker,
an HTTP server, a browser) and timers in real time. Tests that wait on those keep waiting on
their result (`tests.support.eventually`). On a loop without `_ready` (uvloop) it falls back to a fixed
number of turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable, Iterator, Sized

QUIET_TURNS = 2  # consecutive empty turns that make the loop idle (see the module docstring)
FALLBACK_TURNS = 50  # loops whose ready queue cannot be seen: turn this often and hope


class InFlight:
    """Work of one event loop that runs elsewhere (a thread) and will wake a task when done."""

    def __init__(self) -> None:
        self.count = 0
        # Tasks inside `wait_idle`'s own yield: they sit in the ready queue without being work.
        self.parked = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Count the work done inside this block (use it around the `await`)."""
        release = self.hold()
        try:
            yield
        finally:
            release()

    def hold(self) -> Callable[[], None]:
        """Count one piece of work until the returned function is called (once is enough).

        For work whose start and end are not in one block: queued here, finished in a task.
        """
        self.count += 1
        self._quiet.clear()
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                self.count -= 1
                if self.count == 0:
                    self._quiet.set()

        return release

    async def wait_quiet(self) -> None:
        """Return once no tracked work is in flight."""
        while self.count:
            await self._quiet.wait()


# One registry per running loop: pytest runs each test on a loop of its own, and a loop in
# another thread (a server under test) must not make this one wait.
_registries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, InFlight] = weakref.WeakKeyDictionary()


def in_flight() -> InFlight:
    """The running loop's registry of tracked work."""
    loop = asyncio.get_running_loop()
    registry = _registries.get(loop)
    if registry is None:
        registry = _registries[loop] = InFlight()
    return registry


def track() -> contextlib.AbstractContextManager[None]:
    """Count the block as work in flight on the running loop: `with idle.track(): await ...`."""
    return in_flight().track()


def _queued(loop: asyncio.AbstractEventLoop) -> int | None:
    # CPython's BaseEventLoop keeps the callbacks of its next turn in `_ready` (a deque).
    ready: Sized | None = getattr(loop, "_ready", None)
    return None if ready is None else len(ready)


async def wait_idle() -> None:
    """Return once no other task can run and no tracked work is in flight."""
    loop = asyncio.get_running_loop()
    registry = in_flight()
    if _queued(loop) is None:
        for _ in range(FALLBACK_TURNS):
            await registry.wait_quiet()
            await asyncio.sleep(0)
        return
    quiet = 0
    while quiet < QUIET_TURNS:
        if registry.count:
            await registry.wait_quiet()
            quiet = 0
            continue
        registry.parked += 1
        try:
            await asyncio.sleep(0)
        finally:
            registry.parked -= 1
        # Measured when this task resumes: everything queued before it has run, and whatever
        # is still queued was added since (by those callbacks, the selector or a due timer).
        # Other tasks waiting here are queued too; counting them as work would make two
        # waiters keep each other busy forever.
        queued = _queued(loop) or 0
        quiet = quiet + 1 if queued <= registry.parked and not registry.count else 0
