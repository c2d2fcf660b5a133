"""The three views in Debian's headless Chromium against a real uvicorn server.

Waits use Playwright's `expect`, which retries until the page shows what it should (or the
test fails after its timeout, which only stops a hung test: it is not a speed claim).
Screenshots go to tests/artifacts/ for a person to review.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.async_api import Page, expect

from controller.alerts.channels.page import PageChannel
from controller.alerts.model import KIND_ALERT
from controller.alerts.service import AlertService
from controller.clock import VirtualClock
from controller.events import Context
from controller.hub import Hub
from controller.store import Database
from dashboard.app import create_app
from devices import KINDS
from tests.dashboard.conftest import ARTIFACTS, PASSWORD, Server, add_user, running

pytestmark = pytest.mark.browser

RESIDENT = "Mevrouw Jansen"
PHONE = {"width": 390, "height": 844}  # a common phone, CSS pixels
BIG_SCREEN = {"width": 1920, "height": 1080}


async def open_page(browser: Any, url: str, *, viewport: dict[str, int] = BIG_SCREEN,
                    touch: bool = False) -> tuple[Page, list[str]]:
    """A fresh context (no cookies) and page; the list collects console errors and page errors."""
    context = await browser.new_context(viewport=viewport, has_touch=touch, is_mobile=touch,
                                        device_scale_factor=1)
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(url)
    return page, problems


async def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path), full_page=True)
    return path


async def test_a_hub_event_shows_on_the_floor_plan_with_its_explanation(
        server: Server, browser: Any, hub: Hub) -> None:
    page, problems = await open_page(browser, server.url + "/")
    await expect(page.locator("#status")).to_have_attribute("data-status", "live")
    bed = page.locator('[data-device="bed_sensor"]')
    await expect(bed).to_have_attribute("data-state", "unknown")

    contexts: list[Context] = []
    hub.bus.subscribe(lambda e: contexts.append(e.context), "state_changed")
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False, "battery": 91, "linkquality": 120})
    await expect(bed).to_have_attribute("data-state", "empty")
    await expect(bed).to_contain_text("Bed leeg")
    await expect(page.locator("#now-text")).to_have_text("Mevrouw Jansen stapt uit bed.")

    # What a night-exit rule does next, caused by that sensor message.
    rule = contexts[-1].child("scenario:night_exit_lights", "out of bed at night")
    hub.command("bathroom_light", {"state": "ON", "brightness": 25}, rule)
    hub.inject("zigbee2mqtt/bathroom_light", {"state": "ON", "brightness": 25})
    hub.inject("zigbee2mqtt/front_door", {"contact": False})
    hub.inject("zigbee2mqtt/bathroom_motion", {"occupancy": True})
    await expect(page.locator('[data-device="bathroom_light"]')).to_have_attribute("data-state", "on")
    await expect(page.locator('[data-device="bathroom_light"]')).to_contain_text("10%")
    await expect(page.locator('[data-device="front_door"]')).to_have_attribute("data-state", "open")
    await expect(page.locator('[data-room="bathroom"]')).to_have_class("room motion")
    timeline = page.locator("#timeline")
    await expect(timeline).to_contain_text("Het licht in de badkamer gaat aan op 10%.")
    await expect(timeline).to_contain_text("Waarom: het oriëntatielicht 's nachts, na: Mevrouw Jansen stapt uit bed")
    # The light confirming the command is not told a second time.
    await expect(timeline.get_by_text("Het licht in de badkamer gaat aan op 10%.")).to_have_count(1)
    hub.apply("wander_tag", {"room": "bathroom"}, Context(origin="device:wander_tag"))
    await expect(page.locator('[data-device="wander_tag"]')).to_have_attribute("data-state", "bathroom")
    await shot(page, "tour.png")

    # English on request, and back.
    await page.get_by_role("button", name="English").click()
    await expect(bed).to_contain_text("Bed empty")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await shot(page, "tour-en.png")
    assert problems == []


async def test_the_tour_reconnects_and_resyncs_after_the_server_was_away(
        app: FastAPI, browser: Any, hub: Hub) -> None:
    async with running(app) as first:
        page, problems = await open_page(browser, first.url + "/")
        await expect(page.locator("#status")).to_have_attribute("data-status", "live")
        port = first.port
    await expect(page.locator("#status")).to_have_attribute("data-status", "offline")
    # Something happens while the page cannot hear about it.
    hub.inject("zigbee2mqtt/front_door", {"contact": False})
    async with running_on(app, port):
        await expect(page.locator("#status")).to_have_attribute("data-status", "live")
        await expect(page.locator('[data-device="front_door"]')).to_have_attribute("data-state", "open")
    # The browser logs the refused reconnection attempts; nothing else may go wrong.
    assert [p for p in problems if "ERR_CONNECTION_REFUSED" not in p and "WebSocket" not in p] == []


@contextlib.asynccontextmanager
async def running_on(app: FastAPI, port: int) -> AsyncIterator[None]:
    from dashboard.server import serve

    started = asyncio.Event()
    task = asyncio.create_task(serve(app, "127.0.0.1", port, started=started))
    try:
        await asyncio.wait_for(started.wait(), 10)
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_visitor_gets_403_in_the_browser(server: Server, browser: Any) -> None:
    page, problems = await open_page(browser, server.url + "/")
    for path in ("/zorg", "/technicus"):
        response = await page.goto(server.url + path)
        assert response is not None and response.status == 403
        await expect(page.get_by_role("heading", name="Geen toegang")).to_be_visible()
    response = await page.goto(server.url + "/api/tech/devices")
    assert response is not None and response.status == 403
    await page.goto(server.url + "/zorg")
    await page.get_by_role("link", name="Inloggen").click()
    await expect(page).to_have_url(server.url + "/login?next=/zorg")


async def test_first_run_setup_then_the_technician_console(server: Server, browser: Any,
                                                           hub: Hub) -> None:
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True, "battery": 12, "linkquality": 40})
    hub.inject("zigbee2mqtt/front_door", b"{broken")
    page, problems = await open_page(browser, server.url + "/login")
    await page.get_by_role("link", name="Eerste keer: maak de beheerder aan").click()
    await page.get_by_label("Gebruikersnaam").fill("beheer")
    await page.get_by_label("Wachtwoord", exact=True).fill(PASSWORD)
    await page.get_by_label("Wachtwoord nogmaals").fill(PASSWORD + "x")
    await page.get_by_role("button", name="Beheerder aanmaken").click()
    await expect(page.locator("#setup-error")).to_have_text("De twee wachtwoorden zijn niet gelijk.")
    await page.get_by_label("Wachtwoord nogmaals").fill(PASSWORD)
    await page.get_by_role("button", name="Beheerder aanmaken").click()
    await expect(page).to_have_url(server.url + "/technicus")
    row = page.locator('#health tr[data-device="bed_sensor"]')
    await expect(row).to_contain_text("12%")
    await expect(row).to_have_attribute("data-available", "online")
    await expect(page.locator('#health tr[data-device="front_door"]')).to_contain_text("1: not JSON")
    await shot(page, "technician.png")

    # The event log, filtered, growing live.
    await page.get_by_role("tab", name="Gebeurtenissen").click()
    await page.get_by_label("Apparaat").select_option("front_door")
    await expect(page.locator("#events tr")).to_have_count(1)
    hub.inject("zigbee2mqtt/front_door", {"contact": False})
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False})
    await expect(page.locator('#events tr[data-type="state_changed"]')).to_have_count(1)
    await expect(page.locator("#events tr")).to_have_count(3)  # + availability, not the bed
    await shot(page, "technician-events.png")

    # The setup page is closed now that an admin exists.
    await page.goto(server.url + "/setup")
    await expect(page).to_have_url(server.url + "/login")
    assert problems == []


async def test_a_caregiver_acknowledges_on_a_phone_and_the_escalation_stops(
        hub: Hub, db: Database, clock: VirtualClock, browser: Any,
        alert_service: tuple[AlertService, PageChannel]) -> None:
    service, pages = alert_service
    await add_user(db, clock, "piet", "caregiver", residents=(RESIDENT,), caregiver="piet")
    app = create_app(hub, db=db, alerts=service)
    hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False})
    cause = Context(origin="device:bed_sensor").child("scenario:night_exit_door", "door at night")
    alert_id = await service.raise_alert(
        key="night_exit.door", scenario="night_exit_door", severity="urgent",
        message="De voordeur gaat open terwijl Mevrouw Jansen 's nachts uit bed is.",
        context=cause, data={"audience": "caregivers", "recipients": [], "trigger": {},
                             "language": "nl"})
    await clock.wait_idle()
    assert [n.kind for n in pages.for_caregiver("piet")] == [KIND_ALERT]  # step 1: the partner

    async with running(app) as server:
        page, problems = await open_page(browser, server.url + "/login?next=/zorg",
                                         viewport=PHONE, touch=True)
        await page.get_by_label("Gebruikersnaam").fill("piet")
        await page.get_by_label("Wachtwoord").fill(PASSWORD)
        await page.get_by_role("button", name="Inloggen").click()
        await expect(page).to_have_url(server.url + "/zorg")
        card = page.locator(f'article[data-alert="{alert_id}"]')
        await expect(card).to_contain_text("De voordeur gaat open")
        await expect(card).to_contain_text("Gewaarschuwd: Piet (partner) — alleen op de pagina getoond")
        # Only the page has it (this hub has no phone channel): "shown", never "delivered".
        await expect(card).to_have_class("card alert-card sev-urgent shown")
        await expect(card).to_contain_text("Alleen getoond: nog geen telefoon bereikt.")
        await expect(page.locator("#timeline")).to_contain_text("Mevrouw Jansen stapt uit bed.")
        go = card.get_by_role("button", name="Ik ga erheen")
        box = await go.bounding_box()
        assert box is not None and box["height"] >= 48 and box["width"] >= 300  # big, thumb-sized
        await shot(page, "caregiver.png")
        await go.tap()
        await expect(card).to_contain_text("Piet gaat erheen")
        await expect(card).to_have_attribute("data-state", "acknowledged")
        await expect(card.get_by_role("button", name="Ik ga erheen")).to_have_count(0)
        await shot(page, "caregiver-acknowledged.png")

        # The escalation stopped: ten minutes on, nobody else was paged.
        await clock.advance(minutes=10)
        alert = await service.get(alert_id)
        assert alert is not None and alert.state == "acknowledged"
        assert alert.acknowledged_by == "piet" and alert.acknowledged_via == "dashboard"
        for other in ("anna", "buur", "team"):
            assert pages.for_caregiver(other) == []

        # Resolve with a note.
        await card.get_by_role("button", name="Afhandelen").tap()
        await card.get_by_label("Wat is er gebeurd? (notitie)").fill("Ze stond in de hal; weer naar bed.")
        await card.get_by_role("button", name="Afhandelen met deze notitie").tap()
        closed = page.locator(f'#closed article[data-alert="{alert_id}"]')
        await expect(closed).to_contain_text("Afgehandeld door Piet")
        await expect(closed).to_contain_text("Ze stond in de hal; weer naar bed.")
        await expect(page.locator("#alerts")).to_contain_text("Geen actieve meldingen")
        assert (await service.get(alert_id)).state == "resolved"  # type: ignore[union-attr]

        # The PWA bits load: manifest linked, service worker registered.
        assert await page.evaluate("document.querySelector('link[rel=manifest]').href") \
            == server.url + "/manifest.webmanifest"
        await page.wait_for_function("navigator.serviceWorker.getRegistration().then(r => !!r)")
        assert problems == []
    audit = await db.fetchall("SELECT * FROM dashboard_audit WHERE username = 'piet' AND action = 'read'")
    assert {row["resident"] for row in audit} == {RESIDENT}



async def test_live_updates_leave_the_card_being_resolved_alone(
        hub: Hub, db: Database, clock: VirtualClock, browser: Any,
        alert_service: tuple[AlertService, PageChannel]) -> None:
    """Why the resolve test above failed under load: every live update (a sentence for today's
    timeline, a reload after an alert event) drew the alert cards anew, and a tap that landed
    while its button was being replaced did nothing. A card that did not change now keeps its
    nodes; here updates are made to arrive between typing the note and the tap."""
    service, _ = alert_service
    await add_user(db, clock, "piet", "caregiver", residents=(RESIDENT,), caregiver="piet")
    alert_id = await service.raise_alert(
        key="night_exit.door", scenario="night_exit_door", severity="urgent",
        message="De voordeur gaat open.", context=Context(origin="device:front_door"),
        data={"audience": "caregivers", "recipients": [], "trigger": {}, "language": "nl"})
    await clock.wait_idle()
    async with running(create_app(hub, db=db, alerts=service)) as server:
        page, problems = await open_page(browser, server.url + "/login?next=/zorg", viewport=PHONE)
        await page.get_by_label("Gebruikersnaam").fill("piet")
        await page.get_by_label("Wachtwoord").fill(PASSWORD)
        await page.get_by_role("button", name="Inloggen").click()
        card = page.locator(f'#alerts article[data-alert="{alert_id}"]')
        await card.get_by_role("button", name="Afhandelen").click()
        note = card.get_by_label("Wat is er gebeurd? (notitie)")
        await note.fill("Deur was niet op slot; weer dicht.")
        await note.evaluate("el => { el.__typedIn = true; el.closest('article').__typedIn = true; }")
        # A sentence for the timeline (the live feed) and a reload (what an alert event starts).
        hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": True})
        await expect(page.locator("#timeline")).to_contain_text("Mevrouw Jansen gaat in bed liggen.")
        await page.evaluate("load()")
        assert await note.evaluate("el => el.__typedIn === true && el.closest('article').__typedIn === true")
        await card.get_by_role("button", name="Afhandelen met deze notitie").click()
        closed = page.locator(f'#closed article[data-alert="{alert_id}"]')
        await expect(closed).to_contain_text("Deur was niet op slot; weer dicht.")
        await expect(page.locator("#alerts")).to_contain_text("Geen actieve meldingen")
        assert problems == []


GOOD = """\
scenarios:
  - id: night_light
    description: Bed leeg -> lamp slaapkamer zacht aan
    triggers:
      - {type: state, device: bed_sensor, attribute: occupancy, to: false}
    actions:
      - {type: light, device: bedroom_light, brightness_percent: 10}
"""

BROKEN = """\
scenarios:
  - id: night_light
    description: Bed leeg -> lamp slaapkamer zacht aan
    triggers:
      - {type: state, device: bed_sensr, attribute: occupancy, to: false}
    actions:
      - {type: light, device: bedroom_light, brightness_percent: 10}
"""


async def test_a_technician_loads_a_broken_scenario_and_the_old_set_runs_on(
        hub: Hub, db: Database, clock: VirtualClock, browser: Any, tmp_path: Path) -> None:
    from controller.engine import Engine, load_scenarios
    from controller.testing import MemoryAlertSink

    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "night.yaml").write_text(GOOD, encoding="utf-8")
    engine = Engine(hub, db, MemoryAlertSink(), load_scenarios([folder], hub.config, KINDS), paths=[folder])
    engine_task = asyncio.create_task(engine.run())
    await asyncio.wait_for(engine.ready.wait(), 10)
    await add_user(db, clock, "tech", "technician")
    app = create_app(hub, db=db, engine=engine)
    try:
        async with running(app) as server:
            page, problems = await open_page(browser, server.url + "/login?next=/technicus")
            await page.get_by_label("Gebruikersnaam").fill("tech")
            await page.get_by_label("Wachtwoord").fill(PASSWORD)
            await page.get_by_role("button", name="Inloggen").click()
            await expect(page).to_have_url(server.url + "/technicus")
            await page.locator("body[data-ready]").wait_for()  # tech.js listens to the tabs
            await page.get_by_role("tab", name="Scenario's").click()
            row = page.locator('#scenarios tr[data-scenario="night_light"]')
            await expect(row).to_contain_text("night.yaml:2")

            # The technician saves a mistake and asks the hub to reload.
            broken = folder / "night.yaml"
            broken.write_text(BROKEN, encoding="utf-8")
            await page.get_by_role("button", name="Herladen").click()
            result = page.locator("#reload-result")
            await expect(result).to_contain_text("Niet herladen: 1 probleem")
            await expect(result).to_contain_text("De scenario's die al draaiden, blijven draaien.")
            await expect(result.locator("li")).to_contain_text(
                f"{broken}:5: scenarios[0].triggers[0].device: unknown device 'bed_sensr'")
            await expect(result.locator("li")).to_contain_text("did you mean 'bed_sensor'?")
            await shot(page, "technician-reload-refused.png")

            # The old set still runs: the bed empties, the light goes on, the trace says why.
            hub.inject("zigbee2mqtt/bed_sensor", {"occupancy": False})
            await clock.wait_idle()
            sent = [(topic, payload) for topic, payload, *_ in hub.link.sent]  # type: ignore[attr-defined]
            assert any(topic == "zigbee2mqtt/bedroom_light/set" for topic, _ in sent)
            await row.get_by_role("button", name="Waarom?").click()
            await expect(page.locator("#traces")).to_contain_text("voltooid")
            await expect(page.locator("#traces")).to_contain_text("device:bed_sensor")
            await shot(page, "technician-traces.png")
            # Chromium logs the refused reload's 422 answer; it is the expected one.
            assert [p for p in problems if "status of 422" not in p] == []
    finally:
        engine_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await engine_task


async def test_keyboard_only_language_login_and_tabs(server: Server, browser: Any, db: Database,
                                                     clock: VirtualClock) -> None:
    await add_user(db, clock, "tech", "technician")
    page, problems = await open_page(browser, server.url + "/")
    # The first Tab reaches the skip link, which is visible while focused.
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Naar wat er nu gebeurt")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="English")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", name="What is happening?")).to_be_visible()

    await page.goto(server.url + "/login?next=/technicus")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()  # remembered
    await page.get_by_label("User name").focus()
    await page.keyboard.type("tech")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(server.url + "/technicus")
    devices = page.get_by_role("tab", name="Devices")
    await devices.focus()
    await page.keyboard.press("ArrowRight")
    scenarios = page.get_by_role("tab", name="Scenarios")
    await expect(scenarios).to_be_focused()
    await expect(scenarios).to_have_attribute("aria-selected", "true")
    await expect(page.locator("#p-scenarios")).to_be_visible()
    await expect(page.locator("#engine-state")).to_have_text(
        "The scenario engine is not running in this hub.")
    assert problems == []


async def test_the_caregiver_page_updates_live_when_someone_else_goes(
        hub: Hub, db: Database, clock: VirtualClock, browser: Any,
        alert_service: tuple[AlertService, PageChannel]) -> None:
    service, _ = alert_service
    await add_user(db, clock, "piet", "caregiver", residents=(RESIDENT,), caregiver="piet")
    app = create_app(hub, db=db, alerts=service)
    async with running(app) as server:
        page, problems = await open_page(browser, server.url + "/login?next=/zorg",
                                         viewport=PHONE, touch=True)
        await page.get_by_label("Gebruikersnaam").fill("piet")
        await page.get_by_label("Wachtwoord").fill(PASSWORD)
        await page.get_by_role("button", name="Inloggen").click()
        await expect(page.locator("#alerts")).to_contain_text("Geen actieve meldingen")
        await expect(page.locator("#status")).to_have_text("Live")
        alert_id = await service.raise_alert(
            key="sos", scenario="sos_button", severity="urgent",
            message="Mevrouw Jansen drukt op de alarmknop.", context=Context(origin="device:sos_button"),
            data={"audience": "caregivers", "recipients": [], "trigger": {}, "language": "nl"})
        card = page.locator(f'article[data-alert="{alert_id}"]')
        await expect(card).to_contain_text("Mevrouw Jansen drukt op de alarmknop.")
        # Anna answers from her phone's ntfy notification; Piet's page shows it without a reload.
        await service.acknowledge(alert_id, by="anna", channel="ntfy")
        await expect(card).to_contain_text("Anna gaat erheen")
        await expect(card.get_by_role("button", name="Ik ga erheen")).to_have_count(0)
        hub.inject("zigbee2mqtt/living_motion", {"occupancy": True})
        await expect(page.locator("#timeline li").first).to_contain_text("Beweging in de woonkamer.")
        assert problems == []
