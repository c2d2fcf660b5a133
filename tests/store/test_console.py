"""The technician console shows the database's write failures per component."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import httpx
import pytest

from controller.alerts.store import AuditEntry
from controller.clock import VirtualClock
from dashboard.app import create_app
from tests.dashboard.conftest import csrf, running
from tests.store.conftest import LockHolder, components

PASSWORD = "lang-genoeg-wachtwoord"


async def test_the_console_shows_a_refused_write_and_its_reason(tmp_path: Path, clock: VirtualClock) -> None:
    async with components(tmp_path / "huis.db", clock, busy_timeout=0.05) as c, \
            contextlib.AsyncExitStack() as stack:
        await c.auth.create_user(username="tech", password=PASSWORD, role="technician")
        server = await stack.enter_async_context(running(create_app(c.hub, db=c.db)))
        browser = await stack.enter_async_context(httpx.AsyncClient(base_url=server.url))
        r = await browser.post("/api/login", json={"username": "tech", "password": PASSWORD},
                               headers=await csrf(browser))
        assert r.status_code == 200
        async with LockHolder(c.path):
            with pytest.raises(sqlite3.OperationalError):
                await c.alerts.record_audit([AuditEntry(time=clock.now(), alert_id="a1", event="viewed")])
        shown = (await browser.get("/api/tech/storage")).json()
        assert shown["path"] == str(c.path) and shown["failures"] == 1 and shown["mode"] == "file"
        assert shown["components"]["alerts"] == {
            "commits": 2, "failures": 1, "pending": 0, "lost": 0, "dropped": 0,
            "last_error": "OperationalError: database is locked"}
        async with httpx.AsyncClient(base_url=server.url) as visitor:
            assert (await visitor.get("/api/tech/storage")).status_code == 403
