"""`/devices` in Chromium: a visitor reads plain names and what each state means, in Dutch or
English, never attribute names, raw readings or scenario ids; a technician keeps the detail."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import expect

from controller.clock import VirtualClock
from controller.hub import Hub
from controller.store import Database
from tests.conftest import ROOT
from tests.dashboard.conftest import PASSWORD, Server, add_user
from tests.dashboard.test_browser import BIG_SCREEN, PHONE, open_page, shot

pytestmark = pytest.mark.browser

RAW = ("linkquality", "occupancy", "voltage", "illuminance", "sightings", "battery:", "brightness",
       "payload", "true", "false", "null", "ON", "OFF")


def scenario_ids() -> set[str]:
    ids = set()
    for f in (ROOT / "scenarios").glob("*.yaml"):
        ids.update(re.findall(r"^  - id: (\w+)", f.read_text(), re.M))
    return ids | {i.replace("_", " ") for i in ids}


def a_night(hub: Hub) -> None:
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False, "battery": 94, "linkquality": 160})
    hub.inject("zigbee2mqtt/bedroom_light", {"state": "ON", "brightness": 25, "linkquality": 160})
    hub.inject("zigbee2mqtt/front_door", {"contact": True, "battery": 12, "voltage": 2900})
    hub.inject("zigbee2mqtt/hall_motion", {"occupancy": True, "illuminance": 3})
    hub.inject("espresense/devices/wander_tag/hall", {"id": "wander_tag", "distance": 1.2, "rssi": -60})


async def test_a_visitor_reads_names_and_meanings_only(server: Server, hub: Hub, browser: Any) -> None:
    a_night(hub)
    page, problems = await open_page(browser, server.url + "/devices", viewport=BIG_SCREEN)
    bed = page.locator('#devices tr[data-device="bed_sensor"]')
    await expect(bed).to_contain_text("bed leeg")
    await expect(page.locator('#devices tr[data-device="bedroom_light"]')).to_contain_text("Lamp slaapkamer")
    await expect(page.locator('#devices tr[data-device="bedroom_light"]')).to_contain_text("aan, 10%")
    await expect(page.locator('#devices tr[data-device="front_door"]')).to_contain_text("dicht; batterij bijna leeg")
    await expect(page.locator('#devices tr[data-device="hall_motion"]')).to_contain_text("beweging")
    await expect(page.locator('#devices tr[data-device="wander_tag"]')).to_contain_text("gezien in: Hal")
    text = await page.locator("main").inner_text()
    assert [w for w in RAW if re.search(rf"\b{re.escape(w)}", text)] == []
    assert [i for i in scenario_ids() if i in text] == []
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), text  # no ids of any kind
    await shot(page, "devices-visitor.png")

    await page.get_by_role("button", name="English").click()
    await expect(bed).to_contain_text("bed empty")
    await expect(page.locator('#devices tr[data-device="front_door"]')).to_contain_text("closed; battery low")
    await expect(page.locator('#devices tr[data-device="wander_tag"]')).to_contain_text("seen in: Hall")
    text = await page.locator("main").inner_text()
    assert not any(w in text for w in ("Slaapkamer", "leeg", "dicht", "Laatst")), text
    await page.set_viewport_size(PHONE)
    await shot(page, "devices-visitor-phone.png")
    assert problems == []


async def test_a_technician_keeps_the_raw_detail(server: Server, hub: Hub, db: Database, clock: VirtualClock,
                                                 browser: Any) -> None:
    a_night(hub)
    await add_user(db, clock, "tech", "technician")
    page, problems = await open_page(browser, server.url + "/login?next=/devices", viewport=BIG_SCREEN)
    await page.get_by_label("Gebruikersnaam").fill("tech")
    await page.get_by_label("Wachtwoord").fill(PASSWORD)
    await page.get_by_role("button", name="Inloggen").click()
    await expect(page).not_to_have_url(re.compile(r"/login"))
    await page.goto(server.url + "/devices")
    bed = page.locator('#devices tr[data-device="bed_sensor"]')
    await expect(bed).to_contain_text("linkquality: 160")
    await expect(bed).to_contain_text("bed leeg")
    await expect(page.locator("#col-detail")).to_be_visible()
    assert problems == []
