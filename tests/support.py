"""Helpers for tests that wait on real I/O (a broker, a subprocess, a browser, an HTTP server).

Work inside the process under a `VirtualClock` needs no polling: `await clock.wait_idle()`
returns once it is done (SQLite writes included; see `controller/idle.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Wait until `predicate()` is true; fail after `within` seconds.

    The limit only stops a hung test: it is not a speed claim (speed lives in bench/).
    """
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - polling state changed by real sockets
            await asyncio.sleep(0.005)
