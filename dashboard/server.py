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


async def serve(app: FastAPI, host: str, port: int, *, started: asyncio.Event | None = None,
                proxy_headers: bool = False) -> None:
    """Serve `app` until cancelled, with the dashboard's own loops (story player) beside it.

    `proxy_headers`: trust X-Forwarded-Proto from a TLS proxy on loopback, so cookies get
    their Secure flag behind it.
    """
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                    access_log=False, lifespan="off", ws="websockets-sansio",
                                    proxy_headers=proxy_headers))
    dashboard = getattr(app.state, "huis", None)
    try:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(server.serve(), name="uvicorn")
            for service in dashboard.services() if dashboard is not None else []:
                tg.create_task(service(), name=f"dashboard-{service.__name__}")
            try:
                while not server.started:
                    if task.done():
                        task.result()  # raises the reason it could not start (port in use, ...)
                        raise OSError(f"the dashboard could not listen on {host}:{port}")
                    await asyncio.sleep(0)  # uvicorn starts within a few loop turns
                log.info("dashboard on http://%s:%d", host, port)
                if started is not None:
                    started.set()
                # Shielded: a cancel of this service must reach the finally below, not uvicorn.
                await asyncio.shield(task)
            finally:
                # Shut down gracefully (close sockets, tell pages to reconnect) rather than
                # letting the TaskGroup cancel uvicorn mid-request.
                server.should_exit = True
                if not task.done():
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
    finally:
        if dashboard is not None:
            await dashboard.aclose()
