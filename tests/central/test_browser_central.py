"""The central view in Debian's headless Chromium against a real uvicorn server and PostgreSQL.

Waits use Playwright's `expect`, which retries until the page shows what it should (its timeout
only stops a hung test). Screenshots go to tests/artifacts/ for a person to review.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from central.servers import Postgres
from central.store import Store
from tests.central.view_support import (
    NOORD,
    ORDER_ALL,
    ORDER_NOORD,
    PASSWORD,
    WALL,
    add_users,
    app_for,
    seed,
    served,
)
from tests.dashboard.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
BIG_SCREEN = {"width": 1920, "height": 1080}
_HAVE_CHROMIUM = Path(CHROMIUM).exists()


@pytest.fixture(scope="module")
def pg() -> Iterator[Postgres]:
    server = Postgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def store(pg: Postgres) -> AsyncIterator[Store]:
    async with Store.open(pg.dsn) as s:
        await s.init(WALL.now())
        async with s.pool.connection() as conn:
            await conn.execute("DROP TABLE IF EXISTS centre_audit, centre_audit_chain")
        await seed(s)
        await add_users(s)
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
