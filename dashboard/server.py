"""Run the dashboard app with uvicorn as one of the hub's supervised services."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    # The hub owns signal handling (Ctrl-C stops every service together), not uvicorn.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(app: FastAPI, host: str, port: int, *, started: asyncio.Event | None = None) -> None:
    """Serve `app` until cancelled, then close connections cleanly."""
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                    access_log=False, lifespan="off", ws="websockets-sansio"))
    task = asyncio.create_task(server.serve(), name="uvicorn")
    try:
        while not server.started:
            if task.done():
                task.result()  # raises the reason it could not start (port in use, ...)
                return
            await asyncio.sleep(0)  # uvicorn starts within a few loop turns
        log.info("dashboard on http://%s:%d", host, port)
        if started is not None:
            started.set()
        await task
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
