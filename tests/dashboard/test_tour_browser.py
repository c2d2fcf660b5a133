"""The tour in Chromium: all six stories in a row on the big screen, and a visitor's phone as the
caregiver next to it.

The dashboard runs on a real server with the real AlertService on a SQLite file (the live
home's); each story plays in its own sandbox. The story player's wall clock is a VirtualClock
the test moves (the story speed-up): a night takes a moment and no assertion depends on timing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.async_api import Page, expect

from controller.alerts.channels.page import PageChannel
from controller.alerts.service import AlertService
from controller.clock import VirtualClock
from controller.hub import Hub
from controller.store import Database
from dashboard.app import create_app
from dashboard.story_player import StoryRunner
from simulators.home import SimulatedHome
from simulators.story_scripts import STORIES
from tests.dashboard.conftest import running
from tests.dashboard.test_browser import BIG_SCREEN, PHONE, open_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

# What the page showed while a story played: every caption, sentence and alert, and whether the
# page ever grew past the screen (checked on every change of the page).
RECORDER = """() => {
  const t = window.__tour = { texts: new Set(), tallest: 0 };
  const ids = ["story-step", "now-text", "now-why", "demo-badge"];
  const note = () => {
    t.tallest = Math.max(t.tallest, document.documentElement.scrollHeight, document.body.scrollHeight);
    for (const id of ids) t.texts.add(document.getElementById(id).textContent);
    for (const el of document.querySelectorAll("#timeline li, #tour-alerts .alert")) t.texts.add(el.textContent);
  };
  new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true,
                                                       attributes: true });
}"""


Tour = tuple[FastAPI, StoryRunner, VirtualClock]


@pytest.fixture
async def tour(hub: Hub, db: Database, clock: VirtualClock,
               alert_service: tuple[AlertService, PageChannel]) -> AsyncIterator[Tour]:
    service, _ = alert_service
    app = create_app(hub, db=db, alerts=service, simulated_home=SimulatedHome(hub.config, clock))
    wall = VirtualClock(datetime(2026, 12, 5, 15, 0, tzinfo=UTC))  # a Saturday afternoon
    d = app.state.huis
    d.stories = StoryRunner(hub.config, d.feed, policies=service.config, wall=wall)
    yield app, d.stories, wall


async def play_out(runner: StoryRunner, wall: VirtualClock) -> None:
    """Move the player's wall clock until no story plays or waits (a kiosk pause included)."""
    for _ in range(2000):
        await wall.advance(seconds=1)
        if runner.playing is None and runner._queue.empty():
            return
    raise AssertionError("the story did not end")


async def start(page: Page, runner: StoryRunner, wall: VirtualClock, name: str) -> None:
    button = page.locator(f'[data-story="{name}"]')
    await expect(button).to_be_enabled()
    await button.click()
    while runner.playing != name:  # the click travels to the server
        await wall.advance(seconds=0.5)
    await expect(button).to_have_attribute("aria-pressed", "true")


async def test_six_stories_in_a_row_on_the_big_screen(
        tour: tuple[FastAPI, StoryRunner, VirtualClock], hub: Hub, clock: VirtualClock,
        alert_service: tuple[AlertService, PageChannel], browser: Any) -> None:
    app, runner, wall = tour
    service, page_channel = alert_service
    before = clock.now()
    async with running(app) as server:
        page, problems = await open_page(browser, server.url + "/", viewport=BIG_SCREEN)
        await expect(page.locator("#status")).to_have_attribute("data-status", "live")
        await expect(page.locator("[data-story]")).to_have_count(6)
        await page.evaluate(RECORDER)
        for name in STORIES:
            await page.evaluate("window.__tour.texts = new Set()")
            await start(page, runner, wall, name)
            await expect(page.locator("#demo-badge")).to_be_visible()
            if name == "night_exit_door":
                # An urgent alert on the tour, reaching the (demo) visitor only.
                while not runner.report:
                    await wall.advance(seconds=0.5)
                await expect(page.locator("#tour-alerts .alert.sev-urgent").first).to_contain_text(
                    "Gewaarschuwd: de telefoon van de bezoeker")
                await expect(page.locator("#visitor-qr")).to_be_visible()
                await shot(page, "tour-big-screen.png")
            await play_out(runner, wall)
            # Over: the live home again, nothing left of the story.
            await expect(page.locator("#demo-badge")).to_be_hidden()
            await expect(page.locator(f'[data-story="{name}"]')).to_have_attribute("aria-pressed", "false")
            await expect(page.locator("#tour-alerts .alert")).to_have_count(0)
            await expect(page.locator("#visitor-box")).to_be_hidden()
            seen: list[str] = await page.evaluate("[...window.__tour.texts]")
            shown = " | ".join(seen)
            assert (re.search(r"medic|dosis", shown, re.I) is not None) == (name == "missed_medication"), shown
            if name == "morning_routine":  # a weekday morning on a Saturday's tour
                assert "Demonstratie · dinsdag 06:58" in seen, shown
                assert "Goedemorgen" in shown and "Het licht in de slaapkamer gaat aan" in shown, shown
            if name == "night_exit":
                assert "Er gaat nu een melding naar de mantelzorger" in shown, shown
            assert await page.evaluate("window.__tour.tallest") <= BIG_SCREEN["height"]
            # The live home: the same time, nothing raised or stored, nobody paged.
            assert clock.now() == before
            assert service.active() == [] and await service.recent() == []
            assert all(page_channel.for_caregiver(c) == [] for c in hub.config.caregivers)
        # "Opnieuw beginnen": the loop stops and the screen starts afresh.
        await page.get_by_role("button", name="Doorlopend afspelen").click()
        while runner.playing is None:
            await wall.advance(seconds=0.5)
        await expect(page.locator("#loop")).to_have_attribute("aria-pressed", "true")
        await page.get_by_role("button", name="Opnieuw beginnen").click()
        while runner.playing is not None:  # the story's sandbox closes
            await wall.advance(seconds=0.5)
        await expect(page.locator("#loop")).to_have_attribute("aria-pressed", "false")
        await expect(page.locator("#demo-badge")).to_be_hidden()
        await expect(page.locator("#now-text")).to_have_text("Alles is rustig in huis.")
        assert runner.playing is None and not runner.looping
        assert problems == []


async def test_a_visitor_phone_acknowledges_and_the_tour_shows_a_caregiver_on_the_way(
        tour: tuple[FastAPI, StoryRunner, VirtualClock], alert_service: tuple[AlertService, PageChannel],
        browser: Any) -> None:
    app, runner, wall = tour
    service, _ = alert_service
    async with running(app) as server:
        screen, problems = await open_page(browser, server.url + "/", viewport=BIG_SCREEN)
        await expect(screen.locator("#status")).to_have_attribute("data-status", "live")
        await start(screen, runner, wall, "night_exit")
        # The scan URL: what the QR code on the screen says.
        link = screen.locator("#visitor-link")
        await expect(link).to_have_attribute("href", re.compile(r"^/bezoeker/[\w-]{20,}$"))
        scan = server.url + str(await link.get_attribute("href"))
        assert await screen.evaluate("document.getElementById('visitor-qr').naturalWidth") > 0
        phone, phone_problems = await open_phone(browser, scan)
        await expect(phone.locator("#story-name")).to_have_text("Verhaal: 's Nachts uit bed")
        while runner.phones.connected == 0:
            await wall.advance(seconds=0.5)
        await expect(screen.locator("#visitor-phones")).to_have_text("1 telefoon verbonden")
        # Ten minutes out of bed: the warning reaches the phone; the story waits for the tap.
        while not runner.phones.alerts:
            await wall.advance(seconds=0.5)
        go = phone.get_by_role("button", name="Ik ga erheen")
        await expect(go).to_be_visible()
        await expect(screen.locator("#tour-alerts .alert")).to_contain_text("Gewaarschuwd: de telefoon van de bezoeker")
        await shot(phone, "tour-visitor-phone.png")
        await go.click()
        await expect(phone.locator(".alert-card .ack")).to_contain_text("U bent onderweg")
        await expect(screen.locator("#tour-alerts .alert")).to_contain_text("Een zorgverlener is onderweg")
        await expect(screen.locator("#story-step")).to_have_text("Een zorgverlener is onderweg: de escalatie stopt.")
        await shot(screen, "tour-big-screen-acknowledged.png")
        await play_out(runner, wall)
        # The escalation stopped at the visitor: the demo care team was never paged.
        [alert] = runner.report.values()
        assert alert["acknowledged"] and alert["reached"] == ["bezoeker"] and alert["state"] == "resolved"
        await expect(phone.locator("#v-status")).to_contain_text("Dit verhaal is afgelopen")
        assert service.active() == [] and await service.recent() == []
        assert problems == [] and phone_problems == []


async def open_phone(browser: Any, url: str) -> tuple[Page, list[str]]:
    return await open_page(browser, url, viewport=PHONE, touch=True)


async def test_the_tour_on_a_phone(tour: tuple[FastAPI, StoryRunner, VirtualClock], browser: Any) -> None:
    app, runner, wall = tour
    async with running(app) as server:
        page, problems = await open_phone(browser, server.url + "/")
        await expect(page.locator("#status")).to_have_attribute("data-status", "live")
        await start(page, runner, wall, "night_exit_door")
        while not runner.report:
            await wall.advance(seconds=0.5)
        await expect(page.locator("#tour-alerts .alert").first).to_be_visible()
        # Tap a device: what it is and what it is for.
        await page.locator('[data-device="bed_sensor"]').click()
        await expect(page.locator("#device-info")).to_contain_text("Bedsensor")
        await expect(page.locator("#device-info")).to_contain_text("Merkt of mevrouw in bed ligt")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]  # nothing sideways
        await shot(page, "tour-phone.png")
        await play_out(runner, wall)
        assert problems == []
