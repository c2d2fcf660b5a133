"""The central dashboard as `huis central run` serves it: a home's alert arrives over the real
3-node NATS cluster, a nurse made with `huis central user add` logs in over HTTP, sees it, says
"Ik ga erheen", and the home's own subscription gets the command signed with its key."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from central.commands import verify
from central.config import load_central
from central.servers import NatsCluster, Postgres, free_port
from central.service import run_centre
from central.store import Store
from controller.clock import RealClock
from huis.cli import main
from tests.central.conftest import HOMES, alert_doc, home, up
from tests.central.test_cli import centre_config
from tests.central.view_support import PASSWORD, csrf, login
from tests.support import eventually

pytestmark = pytest.mark.timeout(150)


async def test_huis_central_run_serves_the_view_end_to_end(tmp_path: Path, cluster: NatsCluster, postgres: Postgres,
                                                           store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_file = centre_config(tmp_path, cluster, postgres)
    port = free_port()
    with cfg_file.open("a") as f:
        f.write(f"dashboard: {{host: 127.0.0.1, port: {port}, audit_key_file: audit.key}}\n")
    cfg = load_central(cfg_file)
    the_home = HOMES[0]
    assert await asyncio.to_thread(main, ["central", "add-home", the_home, "--team", "noord",
                                          "--config", str(cfg_file)]) == 0
    key = cfg.home_key(the_home)
    assert await asyncio.to_thread(main, ["central", "init", "--config", str(cfg_file)]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert await asyncio.to_thread(main, ["central", "user", "add", "marieke", "--role", "caregiver", "--team",
                                          "noord", "--password-stdin", "--config", str(cfg_file)]) == 0

    h = home(cluster, the_home, node=1)
    received: list[dict[str, Any]] = []
    subscribed = asyncio.Event()

    async def listen() -> None:
        async with h.client(clean_session=False) as c:
            await c.subscribe(f"homes/{the_home}/down/command", qos=1)
            subscribed.set()
            async for m in c.messages:
                assert isinstance(m.payload, bytes)
                received.append(json.loads(m.payload))

    centre = asyncio.create_task(run_centre(load_central(cfg_file), RealClock()), name="centre")
    listener = asyncio.create_task(listen(), name="home")
    try:
        await asyncio.wait_for(subscribed.wait(), 30)
        async with h.client() as c:
            await h.publish(c, up(the_home, "heartbeat", seq=1, active_alerts=1, pseudonym="Tulp 17"))
            await h.publish(c, up(the_home, "alert", action="raised", alert=alert_doc("a-1")))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as web:
            async with asyncio.timeout(30):
                while True:
                    try:
                        r = await login(web, "marieke")
                        break
                    except httpx.ConnectError:  # the dashboard is still starting
                        await asyncio.sleep(0.1)
            assert r.status_code == 200
            async with asyncio.timeout(30):
                while not (alerts := (await web.get("/api/overview")).json()["alerts"]):  # noqa: ASYNC110
                    await asyncio.sleep(0.1)  # the ingest stores what the home sent
            assert [(a["id"], a["pseudonym"]) for a in alerts] == [("a-1", "Tulp 17")]
            r = await web.post(f"/api/homes/{the_home}/alerts/a-1/acknowledge", headers=csrf(web))
            assert r.status_code == 200, r.text
            await eventually(lambda: bool(received), within=30)
    finally:
        for task in (centre, listener):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    [command] = received
    assert verify(command, key) and (command["action"], command["by"]) == ("acknowledge", "centre:marieke")
    assert (tmp_path / "audit.key").exists()
    assert await asyncio.to_thread(main, ["central", "audit", "verify", "--config", str(cfg_file)]) == 0
