"""Fixtures for dashboard tests: the app on a real SQLite file, an ASGI client, a real server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from controller.alerts.channels.page import PageChannel
from controller.alerts.policy import load_alerts
from controller.alerts.service import AlertService
from controller.clock import VirtualClock
from controller.hub import Hub
from controller.store import Database
from dashboard.app import create_app
from dashboard.auth import CSRF_COOKIE, User, create_user
from dashboard.server import serve
from tests.conftest import ROOT, free_port

PASSWORD = "lang-genoeg-wachtwoord"
ARTIFACTS = ROOT / "tests" / "artifacts"
CAREGIVER_NAMES = ("Anna", "Piet", "Fatima", "Zorgteam")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """The hub's SQLite file in tmp_path."""
    database = await Database.connect(tmp_path / "huis.db")
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def app(hub: Hub, db: Database) -> FastAPI:
    return create_app(hub, db=db)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://hub.test") as c:
        yield c


async def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    """Visit a page like a browser does, and return the header its scripts would send."""
    if CSRF_COOKIE not in client.cookies:
        r = await client.get("/login")
        assert r.status_code == 200
    return {"X-CSRF-Token": client.cookies[CSRF_COOKIE]}


async def add_user(db: Database, clock: VirtualClock, username: str, role: str,
                   residents: tuple[str, ...] = (), caregiver: str | None = None) -> User:
    return await create_user(db, username=username, password=PASSWORD, role=role,
                             residents=residents, caregiver=caregiver, now=clock.now())


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/login", json={"username": username, "password": password},
                             headers=await csrf(client))


@dataclass
class Server:
    """The app served by uvicorn on a free loopback port, as `huis demo` serves it."""

    app: FastAPI
    url: str
    port: int


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[Server]:
    # A plain task, not a TaskGroup: pytest-asyncio may tear a fixture down in another task.
    port = free_port()
    started = asyncio.Event()
    task = asyncio.create_task(serve(app, "127.0.0.1", port, started=started), name="dashboard")
    try:
        await asyncio.wait_for(started.wait(), 10)
        yield Server(app=app, url=f"http://127.0.0.1:{port}", port=port)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[Server]:
    async with running(app) as s:
        yield s


CHROMIUM = "/usr/bin/chromium"
_HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.async_api import async_playwright

    if not _HAVE_CHROMIUM:
        pytest.fail("chromium is not installed: run `bash .ci/run` or `apt-get install chromium`")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def alert_service(hub: Hub, db: Database,
                        tmp_path: Path) -> AsyncIterator[tuple[AlertService, PageChannel]]:
    """The real AlertService on the hub's SQLite file, paging through the hub's own page only."""
    page_channel = PageChannel()
    config = load_alerts(ROOT / "config" / "alerts.yaml", hub.config.caregivers)
    service = AlertService.from_hub(hub, db, config, base_url="http://127.0.0.1",
                                    channels=[page_channel], key_file=tmp_path / "ack.key")
    task = asyncio.create_task(service.run())
    await service.open()
    try:
        yield service, page_channel
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await service.aclose()
