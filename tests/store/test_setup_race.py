"""Eight browsers submit the first-run setup at once, while another connection holds the write
lock: exactly one admin is created, one answer is 200, the others 403, none is a 500."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from pathlib import Path

import httpx

from controller.clock import VirtualClock
from dashboard.app import create_app
from tests.dashboard.conftest import csrf, running
from tests.store.conftest import LockHolder, committed, components
from tests.support import eventually

PASSWORD = "lang-genoeg-wachtwoord"
BROWSERS = 8


async def test_concurrent_first_run_setups_create_exactly_one_admin(
        tmp_path: Path, clock: VirtualClock, loop_errors: list[dict[str, object]]) -> None:
    async with components(tmp_path / "huis.db", clock) as c, contextlib.AsyncExitStack() as stack:
        app = create_app(c.hub, db=c.db, history=c.history)
        server = await stack.enter_async_context(running(app))
        browsers = [await stack.enter_async_context(httpx.AsyncClient(base_url=server.url, timeout=60))
                    for _ in range(BROWSERS)]
        headers = [await csrf(b) for b in browsers]
        assert (await browsers[0].get("/api/session")).json()["setup_needed"] is True

        async with LockHolder(c.path) as holder:
            posts = [asyncio.create_task(b.post("/api/setup", headers=h, json={
                "username": f"beheer{i}", "password": PASSWORD, "display_name": f"Beheer {i}"}))
                for i, (b, h) in enumerate(zip(browsers, headers, strict=True))]
            # Release only once a setup is waiting for the write lock the holder has.
            await eventually(lambda: c.db.writing)
            holder.release()
            answers = await asyncio.gather(*posts)

        statuses = sorted(r.status_code for r in answers)
        assert statuses == [200] + [403] * (BROWSERS - 1), [r.text for r in answers]
        refused = {r.json()["detail"] for r in answers if r.status_code == 403}
        assert refused == {"Setup is done: an admin exists. Log in instead."}
        assert committed(c.path, "SELECT count(*) FROM dashboard_users WHERE role = 'admin'") == 1
        winner = next(r for r in answers if r.status_code == 200).json()["user"]["username"]
        assert [u.username for u in await c.auth.users()] == [winner]
        assert (await browsers[0].get("/api/session")).json()["setup_needed"] is False
    gc.collect()
    assert loop_errors == []
