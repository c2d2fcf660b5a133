"""Presence on the dashboard: caregivers and technicians read since when and why and may set it
by hand; visitors see only "thuis / weg", live, and never the reason."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from controller.clock import VirtualClock
from controller.engine import Engine
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink
from dashboard.app import create_app
from huis.compose import Parts
from tests.conftest import ROOT

from .conftest import add_user, csrf, login


@pytest.fixture
async def engine(hub: Hub, db: Database) -> AsyncIterator[Engine]:
    built = Parts.load(hub.config, [ROOT / "scenarios"]).engine(hub, db, MemoryAlertSink())
    task = asyncio.create_task(built.run(), name="engine")
    await asyncio.wait_for(built.ready.wait(), 10)
    try:
        yield built
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def client(hub: Hub, db: Database, engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(hub, db=db, engine=engine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as c:
        yield c


async def _leave_and_wait(hub: Hub, clock: VirtualClock) -> None:
    hub.inject("zigbee2mqtt/front_door", {"contact": True})
    hub.inject("zigbee2mqtt/front_door", {"contact": False})  # open
    await clock.advance(seconds=20)
    hub.inject("zigbee2mqtt/front_door", {"contact": True})  # closed behind her
    await clock.advance(minutes=20)


async def test_a_caregiver_reads_why_and_sets_presence_by_hand(
        hub: Hub, db: Database, clock: VirtualClock, client: httpx.AsyncClient, tmp_path: Path) -> None:
    await add_user(db, clock, "anna", "caregiver", residents=("Mevrouw Jansen",), caregiver="anna")
    assert (await login(client, "anna")).status_code == 200
    await _leave_and_wait(hub, clock)
    r = await client.get("/api/care/presence")
    assert r.status_code == 200
    body = r.json()
    assert body["presence"] == "away"
    assert body["presence_reason"] == ("afwezig sinds 12:20, omdat de voordeur om 12:00 dicht ging en er "
                                       "daarna 20 minuten geen beweging was")
    assert body["inferred"] is True and body["override_until"] is None
    r = await client.post("/api/care/presence", json={"presence": "home", "note": "ze zit te lezen"},
                          headers=await csrf(client))
    assert r.status_code == 200
    assert r.json()["presence"] == "home"
    assert r.json()["presence_reason"] == ("handmatig ingesteld (user:anna: ze zit te lezen) om 12:20, "
                                           "geldt tot 00:20")
    assert r.json()["override_until"] == "2026-01-05T23:20:20+00:00"
    bad = await client.post("/api/care/presence", json={"presence": "buiten"}, headers=await csrf(client))
    assert bad.status_code == 422


async def test_visitors_see_only_thuis_or_weg(
        hub: Hub, db: Database, clock: VirtualClock, client: httpx.AsyncClient) -> None:
    tour = (await client.get("/api/tour")).json()
    assert tour["presence"] == {"value": "home", "label": "thuis", "label_en": "home"}
    await _leave_and_wait(hub, clock)
    tour = (await client.get("/api/tour")).json()
    assert tour["presence"] == {"value": "away", "label": "weg", "label_en": "away"}
    assert "voordeur" not in str(tour["presence"]).lower()
    assert (await client.get("/api/care/presence")).status_code in (401, 403)
    assert (await client.post("/api/care/presence", json={"presence": "home"},
                              headers=await csrf(client))).status_code in (401, 403)


async def test_the_technician_console_reads_presence(
        hub: Hub, db: Database, clock: VirtualClock, client: httpx.AsyncClient) -> None:
    await add_user(db, clock, "tess", "technician")
    assert (await login(client, "tess")).status_code == 200
    body = (await client.get("/api/tech/presence")).json()
    assert body["presence"] == "home" and body["inferred"] is True
