"""The central view in Debian's headless Chromium against a real uvicorn server and PostgreSQL.

Waits use Playwright's `expect`, which retries until the page shows what it should (its timeout
only stops a hung test). Screenshots go to tests/artifacts/ for a person to review.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest
from playwright.async_api import Page, expect

from central.access_audit import AccessAudit
from central.accounts import Accounts
from central.commands import Commands, verify
from central.mqtt import Publisher
from central.routes_admin import AUDIT_PAGE
from central.servers import Postgres, running_cluster
from central.store import Store
from controller.clock import RealClock
from controller.keyfile import load_key
from tests.central.conftest import home as central_home
from tests.central.conftest import mqtt_settings
from tests.central.view_support import (
    NOORD,
    ORDER_ALL,
    ORDER_NOORD,
    PASSWORD,
    WALL,
    alert_doc,
    app_for,
    login,
    seeded,
    served,
    store_docs,
    up,
)
from tests.dashboard.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.support import eventually

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
BIG_SCREEN = {"width": 1920, "height": 1080}
_HAVE_CHROMIUM = Path(CHROMIUM).exists()


@pytest.fixture
async def store(postgres: Postgres) -> AsyncIterator[Store]:
    """The core's store (conftest's PostgreSQL), seeded with eight homes of two teams."""
    async with seeded(postgres.dsn) as s:
        yield s


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.async_api import async_playwright

    if not _HAVE_CHROMIUM:
        pytest.fail("chromium is not installed: run `bash .ci/run` or `apt-get install chromium`")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def logged_in(browser: Any, url: str, username: str, *, viewport: dict[str, int] = BIG_SCREEN,
                    lang: str | None = None, touch: bool = False) -> tuple[Page, list[str]]:
    """A fresh browser context logged in through the login page; the list collects page errors."""
    context = await browser.new_context(viewport=viewport, has_touch=touch, is_mobile=touch, device_scale_factor=1)
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(url + "/" + (f"?lang={lang}" if lang else ""))
    await expect(page).to_have_url(url + "/login" + (f"?lang={lang}" if lang else ""))
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await expect(page.locator("body[data-loaded]")).to_have_count(1)
    return page, problems


async def alert_order(page: Page) -> list[str]:
    return [a for a in await page.locator("#alerts .alert").evaluate_all("els => els.map(e => e.dataset.alert)")]


async def shot(page: Page, name: str, *, full: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    await page.screenshot(path=str(path), full_page=full)
    return path


async def test_the_night_nurse_sees_every_home_in_order(store: Store, browser: Any, tmp_path: Path) -> None:
    async with served(app_for(store, tmp_path, None)) as server:
        page, problems = await logged_in(browser, server.url, "coby")
        assert await alert_order(page) == ORDER_ALL
        first = page.locator("#alerts .alert").first
        await expect(first).to_contain_text("Wilg 14")
        await expect(first).to_contain_text("Van huis zonder begeleiding")
        await expect(first).to_contain_text("Nog niemand gaat erheen")
        await expect(page.locator('.alert[data-alert="a-inact-0002"]')).to_contain_text("anna (thuis) gaat erheen")
        silent = page.locator('.home[data-home="zwolle-0005"]')
        await expect(silent).to_contain_text("Hub stil sinds 9 min")
        await expect(page.locator('.home[data-home="zwolle-0004"]')).to_contain_text(
            "bed_sensor (slaapkamer): batterij bijna leeg")
        await expect(page.locator("#status")).to_have_attribute("data-state", "live")
        await expect(page.locator("#sum-silent b")).to_have_text("1")
        # The age ticks on the server's clock without a reload.
        age = page.locator('.alert[data-alert="a-sos-0003"] .age b')
        await expect(age).to_have_text("3 min")
        await shot(page, "central.png")
        # A home's timeline opens beside the lists.
        await page.locator('.home[data-home="zwolle-0002"] .home-open').click()
        timeline = page.locator("#timeline")
        await expect(timeline).to_be_visible()
        await expect(timeline).to_contain_text("Tijdlijn van Linde 4 (zwolle-0002)")
        await expect(timeline).to_contain_text("anna (thuis) gaat erheen: Langere tijd geen activiteit")
        await shot(page, "central-timeline.png")
        assert problems == []


async def test_on_a_phone(store: Store, browser: Any, tmp_path: Path) -> None:
    async with served(app_for(store, tmp_path, None)) as server:
        page, problems = await logged_in(browser, server.url, "marieke", viewport=PHONE, touch=True)
        assert await alert_order(page) == ORDER_NOORD
        await shot(page, "central-phone.png")
        await shot(page, "central-phone-full.png", full=True)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the page scrolls sideways on a phone"
        assert problems == []


async def test_a_caregiver_page_shows_her_team_only_and_english_is_all_english(
        store: Store, browser: Any, tmp_path: Path) -> None:
    async with served(app_for(store, tmp_path, None)) as server:
        page, problems = await logged_in(browser, server.url, "marieke", lang="en")
        text = await page.locator("body").inner_text()
        assert "Wilg 14" not in text and "kampen-0101" not in text
        for home in NOORD:
            await expect(page.locator(f'.home[data-home="{home}"]')).to_have_count(1)
        await expect(page.locator("#alerts .alert").first).to_contain_text("Nobody is on the way yet")
        await expect(page.locator('.home[data-home="zwolle-0005"]')).to_contain_text("Hub silent for 9 min")
        for dutch in ("Ik ga erheen", "Afhandelen", "Woningen", "gaat erheen", "Nachtelijk", "batterij", "Tijdlijn"):
            assert dutch not in text, dutch
        await shot(page, "central-en.png")
        assert problems == []


@pytest.mark.timeout(180)
async def test_ik_ga_erheen_on_the_page_reaches_the_home_signed(store: Store, browser: Any, tmp_path: Path) -> None:
    """The buttons on the page, through the core's command path, to a real 3-node NATS cluster:
    each home's own MQTT subscription gets its command signed with its key. When the home's
    answer comes back up (stored as the ingest would), the page shows who is on the way."""
    homes = ("zwolle-0001", "zwolle-0003")  # zwolle-0004 has no key at the centre: refused
    keys = {h: load_key(tmp_path / "keys" / f"{h}.key", what="command key") for h in homes}  # shared with the hub
    received: dict[str, list[dict[str, Any]]] = {h: [] for h in homes}
    # Started, healthy and taking MQTT logins (NATS's MQTT streams made) before anyone connects.
    async with running_cluster(tmp_path / "nats", homes) as cluster:
        clock = RealClock()
        publisher = Publisher(mqtt_settings(cluster), clock)
        commands = Commands(store, publisher, lambda h: load_key(tmp_path / "keys" / f"{h}.key",
                                                                 what="command key", create=False), clock)
        subscribed = [asyncio.Event() for _ in homes]

        async def listen(home_id: str, ready: asyncio.Event) -> None:
            while not ready.is_set():
                try:
                    async with central_home(cluster, home_id, node=2).client(clean_session=False) as c:
                        await c.subscribe(f"homes/{home_id}/down/command", qos=1)
                        ready.set()
                        async for m in c.messages:
                            assert isinstance(m.payload, bytes)
                            received[home_id].append(json.loads(m.payload))
                except aiomqtt.MqttError:
                    # NATS makes the session's JetStream state as it connects: on a loaded
                    # machine that may time out; a home tries again, and so does this one.
                    if ready.is_set():
                        raise
                    await asyncio.sleep(0.2)

        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(publisher.run(), name="publisher")]
            try:
                # One home at a time: NATS makes each MQTT session's JetStream state as it connects.
                for h, ready in zip(homes, subscribed, strict=True):
                    tasks.append(tg.create_task(listen(h, ready), name=h))
                    await asyncio.wait_for(ready.wait(), 30)
                async with served(app_for(store, tmp_path, commands, poll_seconds=2)) as server:
                    page, problems = await on_the_page(page_of=await logged_in(browser, server.url, "marieke"),
                                                       store=store, received=received)
                    assert problems == []
            finally:
                for t in tasks:
                    t.cancel()
    [ack], [resolve] = received["zwolle-0001"], received["zwolle-0003"]
    assert verify(ack, keys["zwolle-0001"]) and verify(resolve, keys["zwolle-0003"])
    assert not verify(resolve, keys["zwolle-0001"])  # one home's key cannot sign for another
    assert (ack["action"], ack["alert"], ack["by"], ack["note"]) == ("acknowledge", "a-night-0001", "centre:marieke",
                                                                     None)
    assert (resolve["action"], resolve["alert"], resolve["by"], resolve["note"]) == (
        "resolve", "a-sos-0003", "centre:marieke", "Vals alarm, mevrouw sliep")
    outcomes = [(r.home, r.action, r.outcome) for h in ("zwolle-0001", "zwolle-0003", "zwolle-0004")
                for r in await store.commands_of(h)]
    assert outcomes == [("zwolle-0001", "acknowledge", "sent"), ("zwolle-0003", "resolve", "sent"),
                        ("zwolle-0004", "acknowledge", "refused")]


async def on_the_page(*, page_of: tuple[Page, list[str]], store: Store,
                      received: dict[str, list[dict[str, Any]]]) -> tuple[Page, list[str]]:
    """What the nurse does: "Ik ga erheen" on one alert, resolve another with a note, try one the
    centre cannot send; then the home's answer arrives."""
    page, problems = page_of
    card = page.locator('.alert[data-alert="a-night-0001"]')
    await card.locator("button.go").click()
    # Sent once a node took it: on a loaded machine one may time out and the next takes it.
    await expect(card).to_contain_text("Ik ga erheen verstuurd door marieke (centrale)", timeout=30_000)
    await expect(card).to_contain_text("wacht op bevestiging van de hub")
    await expect(card.locator("button.go")).to_be_disabled()
    await eventually(lambda: len(received["zwolle-0001"]) == 1, within=30)

    sos = page.locator('.alert[data-alert="a-sos-0003"]')
    await sos.locator("button.resolve").click()
    await sos.locator(".resolve-form button.primary").click()  # no note yet: refused on the page
    await expect(sos.locator(".resolve-form .error")).to_have_text("Schrijf een korte notitie.")
    await sos.locator("textarea").fill("Vals alarm, mevrouw sliep")
    await sos.locator(".resolve-form button.primary").click()
    await expect(sos).to_contain_text("Afhandelen verstuurd door marieke (centrale)", timeout=30_000)
    await expect(sos.locator(".resolve-form")).to_have_count(0)
    await eventually(lambda: len(received["zwolle-0003"]) == 1, within=30)

    battery = page.locator('.alert[data-alert="a-battery-0004"]')
    await battery.locator("button.go").click()
    await expect(battery).to_contain_text("Dat lukte niet: De centrale weigerde deze opdracht")
    # Chromium logs the refused request (409) as a console error: expected here, and only that.
    problems[:] = [p for p in problems if "status of 409" not in p]
    await shot(page, "central-sent.png")

    # The hub carries it out and says so up the stream: the page follows.
    acked = WALL.now()
    await store_docs(store, [up("zwolle-0001", "alert", acked, action="acknowledged", alert=alert_doc(
        "a-night-0001", scenario="night_exit", severity="urgent", state="acknowledged",
        raised=acked - timedelta(minutes=12), updated=acked, title="Nachtelijk verlaten van de woning",
        acknowledged_by="centre:marieke", acknowledged_via="central", acknowledged_at=acked.isoformat()))], acked)
    await expect(card).to_contain_text("marieke (centrale) gaat erheen", timeout=15_000)
    await expect(card.locator("button.go")).to_have_count(0)
    return page, problems


async def test_the_audit_viewer_and_the_accounts_page(store: Store, browser: Any, tmp_path: Path) -> None:
    """An admin's oversight pages: the audit with its chain checked, filtered and paged; a user
    added with team and role, whose one-time password (shown once) logs her in; a new one for
    her; a caregiver who is disabled. A caregiver sees neither link and gets 403."""
    await Accounts(store.pool, WALL).create_user(username="beheer", password=PASSWORD, role="admin",
                                                display_name="Bea Beheer")
    async with served(app_for(store, tmp_path, None)) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:  # reads to find in the audit
            await login(client, "marieke")
            await client.get("/api/overview")
            await client.get("/api/homes/zwolle-0002/timeline")
        audit = AccessAudit(pool=store.pool, key_file=tmp_path / "centre-audit.key", wall=WALL)  # type: ignore[arg-type]
        await audit.open()
        for i in range(AUDIT_PAGE):  # a second page
            await audit.append(None, "login_failed", detail=f"from 192.0.2.{i + 1}")

        page, problems = await logged_in(browser, server.url, "beheer")
        await page.locator("#nav-audit").click()
        await expect(page.locator("body[data-loaded]")).to_have_count(1)
        await expect(page.locator("#chain")).to_have_attribute("data-state", "ok")
        await expect(page.locator("#chain")).to_contain_text("Keten ongeschonden")
        rows = page.locator("#audit-rows tr")
        await expect(rows).to_have_count(AUDIT_PAGE)
        await page.locator("#page-older").click()
        await expect(page.locator("#page-n")).to_have_text("Pagina 2")
        await expect(page.locator('#audit-rows tr[data-action="read"]').first).to_be_visible()
        await page.locator("#page-newer").click()
        await expect(page.locator("#page-n")).to_have_text("Pagina 1")
        await page.locator("#f-user").select_option("marieke")
        await page.locator("#f-home").fill("zwolle-0002")
        await page.locator("#audit-filter button[type=submit]").click()
        await expect(rows).to_have_count(2)  # the overview (all her homes) and the timeline
        await expect(rows.first).to_contain_text("inzage")
        await expect(rows.first).to_contain_text("GET /api/homes/zwolle-0002/timeline")
        await page.locator("#f-clear").click()
        await expect(rows).to_have_count(AUDIT_PAGE)
        await shot(page, "central-audit.png")

        await page.locator("#nav-accounts").click()
        await expect(page.locator("body[data-loaded]")).to_have_count(1)
        await expect(page.locator("#accounts tr")).to_have_count(4)
        await page.fill("#a-username", "fatima")
        await page.fill("#a-name", "Fatima")
        await page.select_option("#a-role", "caregiver")
        await page.fill("#a-teams", "noord")
        await page.locator("#add-user button[type=submit]").click()
        await expect(page.locator("#once")).to_be_visible()
        await expect(page.locator("#once-title")).to_have_text("Eenmalig wachtwoord voor fatima")
        first = await page.locator("#once-password").inner_text()
        await expect(page.locator('#accounts tr[data-user="fatima"]')).to_contain_text("noord")
        async with httpx.AsyncClient(base_url=server.url) as fatima:
            assert (await login(fatima, "fatima", first)).status_code == 200
        joost = page.locator('#accounts tr[data-user="joost"]')
        await joost.locator("button.toggle").click()
        await expect(joost).to_have_attribute("data-disabled", "1")
        await expect(page.locator("#once")).to_be_hidden()  # the password shown does not stay on screen
        await expect(page.locator("#accounts-result")).to_have_text(
            "joost is uitgeschakeld; open sessies zijn beëindigd.")
        row = page.locator('#accounts tr[data-user="fatima"]')
        await row.locator("button.reset").click()
        await expect(row).to_contain_text("Een nieuw eenmalig wachtwoord maken voor fatima?")
        await row.locator("button.confirm").click()
        await expect(page.locator("#once")).to_be_visible()
        second = await page.locator("#once-password").inner_text()
        assert second != first
        async with httpx.AsyncClient(base_url=server.url) as fatima:
            assert (await login(fatima, "fatima", first)).status_code == 401
            assert (await login(fatima, "fatima", second)).status_code == 200
        await shot(page, "central-accounts.png")
        assert problems == []

        # Fatima logs in with it: the page asks for her own password first, then shows her homes.
        context = await browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
        phone = await context.new_page()
        await phone.goto(server.url + "/")
        await phone.fill("#username", "fatima")
        await phone.fill("#password", second)
        await phone.click("button[type=submit]")
        await expect(phone).to_have_url(server.url + "/password")
        await phone.fill("#current", second)
        await phone.fill("#new", "zwolle-nachtdienst-fatima")
        await phone.fill("#again", "zwolle-nachtdienst-fatma")
        await phone.click("button[type=submit]")
        await expect(phone.locator("#password-error")).to_have_text("De twee nieuwe wachtwoorden verschillen.")
        await phone.fill("#again", "zwolle-nachtdienst-fatima")
        await phone.click("button[type=submit]")
        await expect(phone.locator("body[data-loaded]")).to_have_count(1)
        await expect(phone.locator(f'.home[data-home="{NOORD[0]}"]')).to_have_count(1)
        await page.reload()
        await expect(page.locator('#accounts tr[data-user="fatima"] .one-time')).to_have_count(0)

        nurse, problems = await logged_in(browser, server.url, "marieke")
        await expect(nurse.locator("#nav-audit")).to_be_hidden()
        await expect(nurse.locator("#nav-accounts")).to_be_hidden()
        response = await nurse.goto(server.url + "/audit")
        assert response is not None and response.status == 403
        await expect(nurse.locator("#forbidden-why")).to_have_text(
            "Deze pagina is voor coördinatoren en beheerders van de centrale.")
    rows_after = await audit.rows(limit=10_000)
    assert {"audit_read", "audit_verify", "users_read", "user_added", "password_reset", "user_disabled"} <= {
        str(r["action"]) for r in rows_after if r["username"] == "beheer"}
    assert ("marieke", "refused", "GET /audit") in {(r["username"], r["action"], r["detail"]) for r in rows_after}
