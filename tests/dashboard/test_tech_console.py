"""The technician console in Chromium: why a scenario did not fire, where the technician looks;
repeated tag sightings as one row; every text in the page's language.

The demo home's own scenarios run on a real engine with a real history (SQLite in tmp_path);
the page is served by uvicorn and driven by Debian's headless Chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from controller.clock import VirtualClock
from controller.engine import Engine
from controller.history import History
from controller.hub import Hub
from controller.store import Database
from controller.testing import MemoryAlertSink
from dashboard.app import create_app
from huis.compose import Parts
from tests.dashboard.conftest import PASSWORD, Server, add_user, login, running
from tests.dashboard.test_browser import BIG_SCREEN, PHONE, open_page, shot

pytestmark = pytest.mark.browser

ENGLISH_ON_DUTCH = ("No traces recorded", "problem(s)", "probleem/problemen", "not_fired", "completed",
                    "state_changed")
# English words that must not be read on the Dutch page outside code (scenario language, paths,
# raw data are code: <code> elements and the id column).
ENGLISH_WORDS = re.compile(r"\b(the|never|running|waiting|problems?|traces?|last|loaded|trigger came|"
                           r"none|sensor|door contact|motion|light|home|away|state|device event|alert)\b")


async def prose(page: Page) -> str:
    """What a person reads on the page: visible text outside code, ids and raw data."""
    return str(await page.evaluate("""() => {
        const skip = el => el.closest("code, pre, td:first-child, [data-i18n-skip]");
        const out = []; const walk = document.createTreeWalker(document.querySelector("main"), NodeFilter.SHOW_TEXT);
        while (walk.nextNode()) { const n = walk.currentNode; const el = n.parentElement;
          if (el && !skip(el) && el.offsetParent !== null) out.push(n.textContent); }
        return out.join(" "); }"""))


@contextlib.asynccontextmanager
async def console(hub: Hub, db: Database, clock: VirtualClock) -> AsyncIterator[tuple[Server, Engine, History]]:
    """The demo home's scenarios on an engine, its history, and the dashboard served."""
    parts = Parts.load(hub.config)
    engine = parts.engine(hub, db, MemoryAlertSink())
    history = parts.history(hub, db, clock)
    await history.open()
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(engine.ready.wait(), 10)
    await add_user(db, clock, "tech", "technician")
    try:
        async with running(create_app(hub, db=db, engine=engine, history=history)) as server:
            yield server, engine, history
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def logged_in(browser: Any, server: Server, viewport: dict[str, int]) -> tuple[Page, list[str]]:
    page, problems = await open_page(browser, server.url + "/login?next=/technicus", viewport=viewport)
    await page.get_by_label("Gebruikersnaam").fill("tech")
    await page.get_by_label("Wachtwoord").fill(PASSWORD)
    await page.get_by_role("button", name="Inloggen").click()
    await expect(page).to_have_url(server.url + "/technicus")
    # The URL comes before the page's scripts: a click on a tab before tech.js listens is lost.
    # The first tab's rows say the console is drawn (seen under load in the full suite).
    await expect(page.locator("#health tr").first).to_be_visible()
    await page.get_by_role("tab", name="Scenario's").click()
    await expect(page.locator("#scenarios tr")).to_have_count(26)
    return page, problems


async def in_view(page: Page, selector: str) -> bool:
    return bool(await page.evaluate("""s => { const r = document.querySelector(s).getBoundingClientRect();
        return r.top >= 0 && r.top < innerHeight && r.height > 0; }""", selector))


async def test_why_a_scenario_did_not_fire_shows_beside_the_table_and_in_dutch(
        hub: Hub, db: Database, clock: VirtualClock, browser: Any) -> None:
    async with console(hub, db, clock) as (server, engine, history):
        hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True})
        await clock.advance(minutes=5)
        hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False})  # 12:05 local: not at night
        await clock.wait_idle()
        await history.flush()
        page, problems = await logged_in(browser, server, BIG_SCREEN)

        # A rule far down the 26-row table whose trigger never came.
        row = page.locator('#scenarios tr[data-scenario="wander_left_home"]')
        await row.scroll_into_view_if_needed()
        await row.get_by_role("button", name="Waarom?").click()
        panel = page.locator("#traces-card")
        await expect(panel).to_contain_text("Geen van de triggers is gekomen sinds de traces begonnen.")
        await expect(panel).to_contain_text(
            "front_door/back_door.open: nooit gemeld in de geschiedenis (30 dagen).")
        await expect(panel).to_contain_text("Nog geen runs vastgelegd voor dit scenario.")
        await expect(page.locator("#traces-title")).to_be_focused()
        assert await in_view(page, "#traces-card")
        table, side = await page.locator(".scenario-table").bounding_box(), await panel.bounding_box()
        assert table is not None and side is not None and side["x"] >= table["x"] + table["width"]  # beside
        await shot(page, "technician-why.png")

        # A rule whose trigger came by day: the condition that stopped it, in Dutch words.
        await page.locator('#scenarios tr[data-scenario="night_exit_lights"]').get_by_role("button").click()
        await expect(panel).to_contain_text("De trigger kwam, maar het scenario startte niet")
        await expect(panel.locator('.why-eval li[data-result="false"]')).to_contain_text("ONWAAR time 22:00..07:00")
        await expect(panel.locator(".runs li").first).to_contain_text("niet gestart")
        await expect(panel).to_contain_text("bed_sensor.occupancy: laatst gemeld")
        text = await page.locator("main").inner_text()
        assert [w for w in ENGLISH_ON_DUTCH if w in text] == []
        assert ENGLISH_WORDS.findall(await prose(page)) == []
        await shot(page, "technician-why-refused.png")
        for tab, rows in (("Apparaten", "#health tr"), ("Gebeurtenissen", "#events tr")):
            await page.get_by_role("tab", name=tab).click()
            await expect(page.locator(rows).first).to_be_visible()
            assert ENGLISH_WORDS.findall(await prose(page)) == [], tab
        await page.get_by_role("tab", name="Scenario's").click()

        # The same in English, complete.
        await page.get_by_role("button", name="English").click()
        await expect(panel).to_contain_text("Its trigger came, but the scenario did not start")
        await expect(panel.locator(".runs li").first).to_contain_text("not started")
        assert problems == []


async def test_on_a_phone_the_explanation_opens_above_the_table_in_view(
        hub: Hub, db: Database, clock: VirtualClock, browser: Any) -> None:
    async with console(hub, db, clock) as (server, _engine, _history):
        page, problems = await logged_in(browser, server, PHONE)
        row = page.locator('#scenarios tr[data-scenario="wander_left_home"]')
        await row.scroll_into_view_if_needed()
        await row.get_by_role("button").click()
        await expect(page.locator("#traces-card")).to_contain_text("nooit gemeld in de geschiedenis")
        assert await in_view(page, "#traces-card")
        panel, table = (await page.locator("#traces-card").bounding_box(),
                        await page.locator(".scenario-table").bounding_box())
        assert panel is not None and table is not None and panel["y"] < table["y"]  # above
        await page.screenshot(path=str(shot_path("technician-why-phone.png")))
        await page.get_by_role("button", name="Sluiten").click()
        await expect(page.locator("#traces-card")).to_be_hidden()
        await expect(row.get_by_role("button")).to_be_focused()
        assert problems == []


def shot_path(name: str) -> Any:
    from tests.dashboard.conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name


def sighting(hub: Hub, room: str, distance: float) -> None:
    hub.inject(f"espresense/devices/wander_tag/{room}", {"id": "wander_tag", "distance": distance, "rssi": -60})


async def test_repeated_tag_sightings_are_one_row_with_a_count(
        hub: Hub, db: Database, clock: VirtualClock, browser: Any) -> None:
    async with console(hub, db, clock) as (server, _engine, _history):
        for i in range(20):
            sighting(hub, "living", 1.5 + i / 100)
            await clock.advance(seconds=3)
        hub.inject("zigbee2mqtt/front_door", {"contact": False})
        page, problems = await logged_in(browser, server, BIG_SCREEN)
        await page.get_by_role("tab", name="Gebeurtenissen").click()
        await page.get_by_label("Apparaat").select_option("wander_tag")
        rows = page.locator("#events tr")
        # The first sighting put her in the living room (a change worth a row, and the tag came
        # online: another); the 19 after it only moved the distance: one row that says so.
        await expect(rows).to_have_count(3)
        await expect(rows.first).to_have_attribute("data-count", "19")
        await expect(rows.first).to_contain_text("19× sinds")
        await expect(rows.first).to_contain_text("toestand")

        # Live: more sightings add to the count; a report that changes something else (the
        # kitchen's node hears her too) is a row of its own.
        sighting(hub, "living", 1.9)
        await expect(rows.first).to_have_attribute("data-count", "20")
        sighting(hub, "kitchen", 2.5)
        await expect(rows).to_have_count(4)
        await expect(rows.first).to_have_attribute("data-count", "1")
        await shot(page, "technician-events-merged.png")

        # Every one, when asked for.
        await page.get_by_label("Herhaalde waarnemingen samenvoegen").uncheck()
        await expect(rows).to_have_count(23)
        assert problems == []


async def test_the_events_api_collapses_repeats_unless_asked(hub: Hub, db: Database, clock: VirtualClock) -> None:
    async with console(hub, db, clock) as (server, _engine, _history):
        for i in range(10):
            sighting(hub, "hall", 1.0 + i / 10)
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await login(client, "tech")).status_code == 200
            merged = (await client.get("/api/tech/events", params={"device": "wander_tag"})).json()
            every = (await client.get("/api/tech/events", params={"device": "wander_tag", "repeats": "true"})).json()
            unknown = await client.get("/api/tech/scenarios/nite_exit/traces")
    assert [r["count"] for r in merged] == [9, 1, 1]  # the repeats, the first sighting, online
    assert merged[0]["first"] == every[-3]["time"] and merged[0]["time"] == every[0]["time"]
    assert len(every) == 11
    assert unknown.status_code == 404
    assert unknown.json()["detail"]["why"]["near"][:2] == ["night_exit_door", "night_exit_lights"]
