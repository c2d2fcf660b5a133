"""Run the dashboard app with uvicorn as one of the hub's supervised services.

Importing this module is cheap (uvicorn and FastAPI are imported by `serve`): `huis run` binds
the dashboard's socket with `listen` at start and waits with `first_connection` for someone to
open a page before it loads the web stack (docs/performance.md, "Memory").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from controller.errors import HuisError

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger(__name__)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket for the dashboard; HuisError saying what to do when the port is taken.

    We bind it ourselves: uvicorn would call sys.exit() inside the event loop instead.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise HuisError(f"The dashboard cannot listen on {host}:{port}: {exc.strerror}. Stop the program "
                        "that uses it, or choose another port (dashboard.port in the configuration, "
                        "or --dashboard-port).") from exc
    sock.setblocking(False)
    return sock


async def first_connection(sock: socket.socket) -> None:
    """Return once a client is waiting on the listening `sock`, without accepting it: the
    connection stays in the backlog for the server started next on the same socket."""
    loop = asyncio.get_running_loop()
    waiting: asyncio.Future[None] = loop.create_future()

    def ready() -> None:
        if not waiting.done():
            waiting.set_result(None)

    loop.add_reader(sock.fileno(), ready)
    try:
        await waiting
    finally:
        loop.remove_reader(sock.fileno())


async def serve(app: FastAPI, host: str, port: int, *, started: asyncio.Event | None = None,
                trusted_proxies: Sequence[str] = (), sock: socket.socket | None = None) -> None:
    """Serve `app` until cancelled, with the dashboard's own loops (story player, session
    watch) beside it.

    `trusted_proxies`: addresses (or networks) of reverse proxies whose X-Forwarded-For and
    X-Forwarded-Proto are believed: the client address (login lockout, audit) and the scheme
    (Secure cookies) then come from them. From anyone else those headers are ignored.
    `sock`: a socket already listening on host:port (`listen`), else one is bound here; it is
    closed when serving ends either way.
    """
    import uvicorn

    class _Server(uvicorn.Server):
        # The hub owns signal handling (Ctrl-C stops every service together), not uvicorn.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    sock = sock if sock is not None else listen(host, port)
    server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                    access_log=False, lifespan="off", ws="websockets-sansio",
                                    proxy_headers=bool(trusted_proxies),
                                    forwarded_allow_ips=list(trusted_proxies) or None))
    dashboard = getattr(app.state, "huis", None)
    try:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(server.serve(sockets=[sock]), name="uvicorn")
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
        sock.close()
        if dashboard is not None:
            await dashboard.aclose()
