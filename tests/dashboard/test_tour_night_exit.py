"""The demo's promise, end to end: a tour guide presses "night exit" and the floor plan, the
explanation panel and the caregiver alert move together.

Everything is real: mosquitto, the simulators, the hub with its rule engine (the shipped
scenarios) and alert service on a SQLite file, the dashboard in Chromium. Only time is virtual,
moved by the test, at night in Zwolle.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from controller.alerts.channels.page import PageChannel
from controller.clock import VirtualClock
from controller.config import HomeConfig, Mqtt, link_settings
from dashboard.app import create_app
from huis.compose import Home, open_home
from simulators.home import SimulatedHome, run_simulators
from tests.conftest import Mosquitto
from tests.dashboard.conftest import running
from tests.dashboard.test_browser import open_page, shot
from tests.dashboard.test_demo import supervised

pytestmark = [pytest.mark.browser, pytest.mark.broker]

NIGHT = datetime(2026, 1, 6, 1, 0, tzinfo=UTC)  # 02:00 in Zwolle, a Tuesday


@pytest.fixture
async def home(demo_config: HomeConfig, mosquitto: Mosquitto,
               tmp_path: Path) -> AsyncIterator[tuple[Home, VirtualClock]]:
    clock = VirtualClock(NIGHT)
    settings = link_settings(demo_config, Mqtt(host=mosquitto.host, port=mosquitto.port))
    built = await open_home(demo_config, clock, settings=settings, db_path=tmp_path / "huis.db",
                            alert_channels=[PageChannel()])
    try:
        yield built, clock
    finally:
        await built.close()


async def test_night_exit_story_moves_plan_explanation_and_alert_together(
        home: tuple[Home, VirtualClock], demo_config: HomeConfig, mosquitto: Mosquitto, browser: Any) -> None:
    built, clock = home
    sim = SimulatedHome(demo_config, clock)
    app = create_app(built.hub, db=built.db, engine=built.engine, alerts=built.alerts,
                     simulated_home=sim, history=built.history)
    async with supervised(built.run()):
        await asyncio.wait_for(built.hub.link.connected.wait(), 10)  # type: ignore[attr-defined]
        await asyncio.wait_for(built.engine.ready.wait(), 10)
        async with supervised(run_simulators(demo_config, clock, mosquitto.host, mosquitto.port, home=sim)), \
                running(app) as server:
            page, problems = await open_page(browser, server.url + "/")
            await expect(page.locator("#status")).to_have_attribute("data-status", "live")
            bed = page.locator('[data-device="bed_sensor"]')
            alerts = page.locator("#tour-alerts .alert")

            await page.get_by_role("button", name="'s Nachts uit bed").click()
            await expect(bed).to_have_attribute("data-state", "occupied")
            await clock.advance(seconds=10)
            # Out of bed: the plan shows the empty bed, the orientation light towards the bathroom
            # comes on, the panel says what happened and why; nobody is alerted yet.
            await expect(bed).to_have_attribute("data-state", "empty")
            await expect(page.locator("#now-text")).to_have_text("Het licht in de badkamer gaat aan op 10%.")
            await expect(page.locator("#now-why")).to_contain_text("night exit lights")
            await expect(page.locator("#timeline")).to_contain_text("Mevrouw Jansen stapt uit bed.")
            await expect(page.locator('[data-device="bathroom_light"]')).to_have_attribute(
                "data-state", re.compile(r"^on"))
            await expect(alerts).to_have_count(0)

            # Ten minutes out of bed at night: the warning goes out, and the tour shows it.
            for _ in range(10):
                await clock.advance(minutes=1)
            await expect(alerts).to_have_count(1)
            await expect(alerts.first).to_have_class(re.compile(r"\bsev-warning\b"))
            await shot(page, "tour-night-exit-alert.png")
            assert [a.key for a in built.alerts.active()] != []

            # Back in bed after 13 minutes: the warning resolves itself ("weer in bed").
            for _ in range(4):
                await clock.advance(minutes=1)
            await expect(bed).to_have_attribute("data-state", "occupied")
            await expect(alerts).to_have_count(0)
            assert built.alerts.active() == []
            assert problems == []
