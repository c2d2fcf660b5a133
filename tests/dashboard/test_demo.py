"""The tour guide presses a button: real simulators on a real mosquitto, the hub's real MQTT link,
the dashboard in Chromium. The story runs on a virtual clock the test moves, so each step can
be watched arriving on the floor plan."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from controller.clock import VirtualClock
from controller.config import HomeConfig, Mqtt, link_settings
from controller.hub import Hub
from controller.store import Database
from dashboard.app import create_app
from huis.compose import build_hub
from simulators.home import SimulatedHome, run_simulators
from tests.conftest import Mosquitto
from tests.dashboard.conftest import running
from tests.dashboard.test_browser import open_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.broker]


@pytest.fixture
def mosquitto(mosquitto: Mosquitto) -> Iterator[Mosquitto]:
    # The shared fixture leaves mosquitto's stderr pipe open: a ResourceWarning, an error here.
    yield mosquitto
    proc = mosquitto.proc
    mosquitto.stop()
    if proc is not None and proc.stderr is not None:
        proc.stderr.close()


@contextlib.asynccontextmanager
async def supervised(*coros: Any) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t


async def test_a_tour_button_plays_the_night_exit_through_the_simulators(
        mosquitto: Mosquitto, demo_config: HomeConfig, clock: VirtualClock, db: Database,
        browser: Any) -> None:
    hub: Hub = build_hub(demo_config, clock, link_settings(
        demo_config, Mqtt(host=mosquitto.host, port=mosquitto.port)))
    home = SimulatedHome(demo_config, clock)
    app = create_app(hub, db=db, simulated_home=home)
    async with supervised(hub.run()):
        await asyncio.wait_for(hub.link.connected.wait(), 10)  # type: ignore[attr-defined]
        async with supervised(run_simulators(demo_config, clock, mosquitto.host, mosquitto.port,
                                             home=home)), running(app) as server:
            page, problems = await open_page(browser, server.url + "/")
            await expect(page.locator("#status")).to_have_attribute("data-status", "live")
            button = page.get_by_role("button", name="'s Nachts uit bed")
            await button.click()
            await expect(button).to_have_attribute("aria-pressed", "true")
            bed = page.locator('[data-device="bed_sensor"]')
            # Step 0s: she is asleep: through simulator -> mosquitto -> hub -> page.
            await expect(bed).to_have_attribute("data-state", "occupied")
            await expect(page.locator("#story-step")).to_have_text("Het is nacht. Mevrouw Jansen slaapt.")
            await clock.advance(seconds=10)
            await expect(bed).to_have_attribute("data-state", "empty")
            await expect(page.locator("#now-text")).to_have_text("Mevrouw Jansen stapt uit bed.")
            await expect(page.locator("#story-step")).to_have_text("Ze stapt uit bed.")
            await clock.advance(seconds=35)
            await expect(page.locator('[data-room="hall"]')).to_have_class(re.compile(r"\bmotion\b"))
            # The worn tag followed her into the hall: her marker is there, the room lit up.
            await expect(page.locator('[data-device="wander_tag"]')).to_have_attribute("data-state", "hall")
            await expect(page.locator('[data-room="hall"]')).to_have_class(re.compile(r"\bhere\b"))
            await shot(page, "tour-story.png")
            # Let the story finish; the buttons come back.
            for _ in range(16):  # she stays out of bed for 13 minutes
                await clock.advance(minutes=1)
            await expect(bed).to_have_attribute("data-state", "occupied")
            await expect(button).to_have_attribute("aria-pressed", "false")
            await expect(page.locator("#story-step")).to_be_hidden()
            assert problems == []
