"""Presence in real headless Chromium: the caregiver reads why and sets it by hand, the visitor
sees only "thuis / weg", both live."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from playwright.async_api import expect

from controller.clock import VirtualClock
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink
from dashboard.app import create_app
from huis.compose import Parts
from tests.conftest import ROOT
from tests.dashboard.conftest import PASSWORD, add_user, running
from tests.dashboard.test_browser import PHONE, open_page, shot

pytestmark = pytest.mark.browser


async def test_presence_on_the_caregiver_page_and_the_tour(
        hub: Hub, db: Database, clock: VirtualClock, browser: Any) -> None:
    engine = Parts.load(hub.config, [ROOT / "scenarios"]).engine(hub, db, MemoryAlertSink())
    engine_task = asyncio.create_task(engine.run())
    await asyncio.wait_for(engine.ready.wait(), 10)
    await add_user(db, clock, "anna", "caregiver", residents=("Mevrouw Jansen",), caregiver="anna")
    app = create_app(hub, db=db, engine=engine)
    try:
        async with running(app) as server:
            tour, tour_problems = await open_page(browser, server.url + "/")
            await expect(tour.locator("#presence")).to_have_text("Mevrouw Jansen: thuis")

            care, problems = await open_page(browser, server.url + "/login?next=/zorg",
                                             viewport=PHONE, touch=True)
            await care.get_by_label("Gebruikersnaam").fill("anna")
            await care.get_by_label("Wachtwoord").fill(PASSWORD)
            await care.get_by_role("button", name="Inloggen").click()
            await expect(care).to_have_url(server.url + "/zorg")
            box = care.locator("#presence")
            await expect(box.locator("[data-presence]")).to_have_attribute("data-presence", "home")

            # She goes out: the door closes and nothing moves for 20 minutes.
            hub.inject("zigbee2mqtt/front_door", {"contact": False})
            await clock.advance(seconds=20)
            hub.inject("zigbee2mqtt/front_door", {"contact": True})
            await clock.advance(minutes=20)
            await expect(box).to_contain_text("Weg · afwezig sinds 12:20, omdat de voordeur om 12:00 "
                                              "dicht ging en er daarna 20 minuten geen beweging was")
            await expect(tour.locator("#presence")).to_have_text("Mevrouw Jansen: weg")
            await expect(tour.locator("#presence")).not_to_contain_text("voordeur")
            await shot(care, "caregiver-presence-away.png")

            # Anna knows better: she is home, reading. The hand-set value holds 12 hours.
            await box.get_by_role("button", name="Ze is thuis").click()
            await expect(box).to_contain_text("Thuis · handmatig ingesteld (user:anna: dashboard)")
            await expect(box).to_contain_text("Met de hand ingesteld; geldt tot")
            await expect(tour.locator("#presence")).to_have_text("Mevrouw Jansen: thuis")
            # No alert service runs here: the care page's alert list answers 501, as it should.
            assert [p for p in problems if "status of 501" not in p] == [] and tour_problems == []
            assert len(problems) <= 2
    finally:
        engine_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await engine_task
